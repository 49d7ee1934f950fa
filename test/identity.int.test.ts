import { startTestNudge, TestNudge } from './support/harness';
import { expectGraphQLError } from './support/graphql-helpers';
import {
  createTrigger,
  decisionsOf,
  eventsOf,
  findCustomer,
  identifyWith,
  isoOf,
  listRunMessages,
  mailsTo,
  trackAs,
  trackAsRaw,
  uniqueEmail,
} from './support/scenario';

/**
 * Identity (issue #3): customers known by anonymous ids, and what happens when an anonymous
 * id is linked to the tenant's own id. Everything through GraphQL, on the manual clock.
 */

/** One email at once, a second one hour later, on every page view. */
const TOUR = {
  name: 'tour',
  event: 'page_viewed',
  steps: [
    { channel: 'EMAIL', template: { subject: 'Tour 1', body: 'Step one' } },
    { delay: 'PT1H', channel: 'EMAIL', template: { subject: 'Tour 2', body: 'Step two' } },
  ],
};

/** One email at once, on every page view. */
const PING = {
  name: 'ping',
  event: 'page_viewed',
  steps: [{ channel: 'EMAIL', template: { subject: 'Ping', body: '{{ event.properties.n }}' } }],
};

const CUSTOMER_MESSAGES = `query($anonymousId: String, $externalId: String) {
  customer(anonymousId: $anonymousId, externalId: $externalId) {
    id messages(first: 100) { edges { node { id status stepIndex customer { id externalId } } } }
  }
}`;

describe('identity: anonymous ids, links and merges', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  async function tenant(name = 'identity'): Promise<string> {
    const { secret } = await t.createTenant(name);
    await t.setClock('2025-03-03T10:00:00.000Z');
    return secret;
  }

  function pageView(secret: string, anonymousId: string, at: string, extra = {}) {
    return trackAs(t, secret, { anonymousId, event: 'page_viewed', occurredAt: at, ...extra });
  }

  async function messagesOf(secret: string, by: Record<string, string>) {
    const data = await t.ok<any>(secret, CUSTOMER_MESSAGES, by);
    return data.customer.messages.edges.map((e: any) => e.node);
  }

  it('an anonymous track creates a customer found by customer(anonymousId:), with externalId null', async () => {
    const secret = await tenant();
    const first = await pageView(secret, 'anon-1', '2025-03-03T10:00:00.000Z');
    const second = await pageView(secret, 'anon-1', '2025-03-03T10:00:01.000Z');
    expect(first.duplicate).toBe(false);
    expect(second.eventId).not.toBe(first.eventId);

    const found = await findCustomer(t, secret, { anonymousId: 'anon-1' });
    expect(found).toEqual({
      id: expect.any(String),
      externalId: null,
      email: null,
      traits: {},
      anonymousIds: ['anon-1'],
    });
    const events = await eventsOf(t, secret, { anonymousId: 'anon-1' });
    expect(events.map((e) => [e.id, e.name, isoOf(e.occurredAt)])).toEqual([
      [first.eventId, 'page_viewed', '2025-03-03T10:00:00.000Z'],
      [second.eventId, 'page_viewed', '2025-03-03T10:00:01.000Z'],
    ]);
    expect(await findCustomer(t, secret, { anonymousId: 'anon-2' })).toBeNull();
  });

  it('track without customerExternalId or anonymousId → BAD_USER_INPUT at input.customerExternalId; in a batch only that item is rejected', async () => {
    const secret = await tenant();
    expectGraphQLError(
      await trackAsRaw(t, secret, { event: 'page_viewed' }),
      'BAD_USER_INPUT',
      'input.customerExternalId',
    );

    const batch = await t.ok<any>(
      secret,
      `mutation($events: [TrackInput!]!) {
         trackBatch(events: $events) { accepted eventIds rejected { index code field } }
       }`,
      { events: [{ event: 'page_viewed' }, { anonymousId: 'anon-ok', event: 'page_viewed' }] },
    );
    expect(batch.trackBatch.accepted).toBe(1);
    expect(batch.trackBatch.eventIds[0]).toBeNull();
    expect(batch.trackBatch.rejected).toEqual([
      { index: 0, code: 'BAD_USER_INPUT', field: 'events.0.customerExternalId' },
    ]);
    expect(await eventsOf(t, secret, { anonymousId: 'anon-ok' })).toHaveLength(1);
  });

  it('customer(...) needs exactly one of externalId and anonymousId (BAD_USER_INPUT otherwise)', async () => {
    const secret = await tenant();
    await pageView(secret, 'anon-1', '2025-03-03T10:00:00.000Z');
    await identifyWith(t, secret, { externalId: 'cust-1' });

    const both = await t.request(
      secret,
      `query { customer(externalId: "cust-1", anonymousId: "anon-1") { id } }`,
    );
    expectGraphQLError(both, 'BAD_USER_INPUT');
    expect(both.data?.customer ?? null).toBeNull();
    expectGraphQLError(await t.request(secret, `query { customer { id } }`), 'BAD_USER_INPUT');
    // Control: each alone works.
    expect(await findCustomer(t, secret, { externalId: 'cust-1' })).not.toBeNull();
    expect(await findCustomer(t, secret, { anonymousId: 'anon-1' })).not.toBeNull();
  });

  it('identify with an anonymous id merges its events, runs, messages and decisions into the existing customer; the customer keeps its traits and gains the email', async () => {
    const secret = await tenant();
    const triggerId = await createTrigger(t, secret, TOUR);
    await identifyWith(t, secret, {
      externalId: 'cust-A',
      traits: { plan: 'pro', firstName: 'Ana' },
    });
    const identified = await findCustomer(t, secret, { externalId: 'cust-A' });
    const seen = await pageView(secret, 'anon-A', '2025-03-03T10:00:00.000Z');
    const anonymous = await findCustomer(t, secret, { anonymousId: 'anon-A' });
    expect(anonymous!.id).not.toBe(identified!.id);
    // The anonymous run's first step had no address.
    expect(await messagesOf(secret, { anonymousId: 'anon-A' })).toEqual([
      expect.objectContaining({ status: 'SUPPRESSED', stepIndex: 0 }),
    ]);

    await t.setClock('2025-03-03T10:10:00.000Z');
    const email = uniqueEmail('cust-A');
    await identifyWith(t, secret, { externalId: 'cust-A', anonymousId: 'anon-A', email });
    await t.setClock('2025-03-03T12:00:00.000Z');

    expect(await findCustomer(t, secret, { anonymousId: 'anon-A' })).toEqual({
      id: identified!.id,
      externalId: 'cust-A',
      email,
      traits: { plan: 'pro', firstName: 'Ana' },
      anonymousIds: ['anon-A'],
    });
    expect((await eventsOf(t, secret, { externalId: 'cust-A' })).map((e) => e.id)).toEqual([
      seen.eventId,
    ]);

    // The run moved: its second step, due after the merge, reaches the identified address.
    const messages = await listRunMessages(t, secret, { customerExternalId: 'cust-A' });
    expect(
      messages.map((m) => [
        m.stepIndex,
        m.status,
        m.suppressionReason,
        m.to,
        isoOf(m.scheduledFor),
      ]),
    ).toEqual([
      [0, 'SUPPRESSED', 'INVALID_ADDRESS', null, '2025-03-03T10:00:00.000Z'],
      [1, 'SENT', null, email, '2025-03-03T11:00:00.000Z'],
    ]);
    expect(messages[0].enrollmentId).toBe(messages[1].enrollmentId);
    expect(messages.every((m) => m.customer.id === identified!.id)).toBe(true);
    expect(isoOf(messages[1].sentAt!)).toBe('2025-03-03T11:00:00.000Z');
    expect((await mailsTo(t.smtp, email)).map((m) => m.subject)).toEqual(['Tour 2']);

    const decisions = await decisionsOf(t, secret, { externalId: 'cust-A' }, triggerId);
    // The anonymous visitor had no address when step 1 came due: that suppression moved too.
    expect(decisions.map((d) => [d.outcome, d.reason, d.event?.id, d.enrollmentId])).toEqual([
      ['ENTERED', 'CONDITION_MET', seen.eventId, messages[0].enrollmentId],
      ['SUPPRESSED', 'INVALID_ADDRESS', undefined, messages[0].enrollmentId],
    ]);
  });

  it('a held entry moves with the merge and is released by it when the identified customer has the data', async () => {
    const secret = await tenant();
    const triggerId = await createTrigger(t, secret, {
      name: 'pro-welcome',
      event: 'page_viewed',
      where: { field: 'customer.traits.plan', op: 'eq', value: 'pro' },
      attributeWait: 'PT30M',
      steps: [{ channel: 'EMAIL', template: { subject: 'Pro', body: 'Welcome, pro' } }],
    });
    const email = uniqueEmail('cust-P');
    await identifyWith(t, secret, { externalId: 'cust-P', email, traits: { plan: 'pro' } });
    await pageView(secret, 'anon-P', '2025-03-03T10:00:00.000Z');
    await pageView(secret, 'anon-Q', '2025-03-03T10:00:00.000Z'); // control: never identified

    await t.setClock('2025-03-03T10:05:00.000Z');
    await identifyWith(t, secret, { externalId: 'cust-P', anonymousId: 'anon-P' });
    await t.setClock('2025-03-03T11:00:00.000Z');

    const messages = await listRunMessages(t, secret, { customerExternalId: 'cust-P' });
    expect(messages.map((m) => [m.status, m.to, isoOf(m.scheduledFor), isoOf(m.sentAt!)])).toEqual([
      ['SENT', email, '2025-03-03T10:05:00.000Z', '2025-03-03T10:05:00.000Z'],
    ]);
    const decisions = await decisionsOf(t, secret, { externalId: 'cust-P' }, triggerId);
    expect(decisions.map((d) => [d.outcome, d.reason, isoOf(d.at)])).toEqual([
      ['HELD', 'WAITING_FOR_ATTRIBUTES', '2025-03-03T10:00:00.000Z'],
      ['ENTERED', 'CONDITION_MET', '2025-03-03T10:05:00.000Z'],
    ]);
    expect(decisions[0].detail).toMatchObject({ until: '2025-03-03T10:30:00.000Z' });

    const control = await decisionsOf(t, secret, { anonymousId: 'anon-Q' }, triggerId);
    expect(control.map((d) => [d.outcome, d.reason, isoOf(d.at)])).toEqual([
      ['HELD', 'WAITING_FOR_ATTRIBUTES', '2025-03-03T10:00:00.000Z'],
      ['NOT_MATCHED', 'ATTRIBUTE_WAIT_EXPIRED', '2025-03-03T10:30:00.000Z'],
    ]);
    expect(await messagesOf(secret, { anonymousId: 'anon-Q' })).toEqual([]);
  });

  it('re-linking an anonymous id that belongs to another identified customer moves only the link; history stays', async () => {
    const secret = await tenant();
    const triggerId = await createTrigger(t, secret, PING);
    const mailB = uniqueEmail('cust-B');
    const mailC = uniqueEmail('cust-C');
    await identifyWith(t, secret, { externalId: 'cust-B', anonymousId: 'anon-R', email: mailB });
    const b1 = await pageView(secret, 'anon-R', '2025-03-03T10:00:00.000Z', {
      properties: { n: 'b1' },
    });

    await t.setClock('2025-03-03T10:10:00.000Z');
    await identifyWith(t, secret, { externalId: 'cust-C', anonymousId: 'anon-R', email: mailC });
    const c1 = await pageView(secret, 'anon-R', '2025-03-03T10:10:00.000Z', {
      properties: { n: 'c1' },
    });

    expect((await findCustomer(t, secret, { anonymousId: 'anon-R' }))!.externalId).toBe('cust-C');
    expect((await findCustomer(t, secret, { externalId: 'cust-B' }))!.anonymousIds).toEqual([]);
    expect((await findCustomer(t, secret, { externalId: 'cust-C' }))!.anonymousIds).toEqual([
      'anon-R',
    ]);
    expect((await eventsOf(t, secret, { externalId: 'cust-B' })).map((e) => e.id)).toEqual([
      b1.eventId,
    ]);
    expect((await eventsOf(t, secret, { externalId: 'cust-C' })).map((e) => e.id)).toEqual([
      c1.eventId,
    ]);
    const forB = await listRunMessages(t, secret, { customerExternalId: 'cust-B' });
    const forC = await listRunMessages(t, secret, { customerExternalId: 'cust-C' });
    expect(forB.map((m) => [m.to, m.body])).toEqual([[mailB, 'b1']]);
    expect(forC.map((m) => [m.to, m.body])).toEqual([[mailC, 'c1']]);
    expect(await decisionsOf(t, secret, { externalId: 'cust-B' }, triggerId)).toHaveLength(1);
    expect(await decisionsOf(t, secret, { externalId: 'cust-C' }, triggerId)).toHaveLength(1);
    expect(await mailsTo(t.smtp, mailB)).toHaveLength(1);
    expect(await mailsTo(t.smtp, mailC)).toHaveLength(1);
  });

  it('repeating the same identify (and a track with both ids) changes nothing after the first link', async () => {
    const secret = await tenant();
    const triggerId = await createTrigger(t, secret, PING);
    await pageView(secret, 'anon-D', '2025-03-03T10:00:00.000Z', { properties: { n: '1' } });
    await pageView(secret, 'anon-D', '2025-03-03T10:00:01.000Z', { properties: { n: '2' } });
    const email = uniqueEmail('cust-D');

    await t.setClock('2025-03-03T10:05:00.000Z');
    await identifyWith(t, secret, { externalId: 'cust-D', anonymousId: 'anon-D', email });
    const once = await findCustomer(t, secret, { externalId: 'cust-D' });
    const snapshot = async () => ({
      customer: await findCustomer(t, secret, { anonymousId: 'anon-D' }),
      events: await eventsOf(t, secret, { externalId: 'cust-D' }),
      messages: await listRunMessages(t, secret, { customerExternalId: 'cust-D' }),
      decisions: await decisionsOf(t, secret, { externalId: 'cust-D' }, triggerId),
    });
    const first = await snapshot();
    expect(first.customer).toEqual(once);
    expect(first.events).toHaveLength(2);
    expect(first.messages).toHaveLength(2);
    // Two entries, and two steps suppressed for want of an address before the identify.
    expect(first.decisions.map((d) => d.outcome)).toEqual([
      'ENTERED',
      'SUPPRESSED',
      'ENTERED',
      'SUPPRESSED',
    ]);

    await t.setClock('2025-03-03T10:06:00.000Z');
    await identifyWith(t, secret, { externalId: 'cust-D', anonymousId: 'anon-D', email });
    await identifyWith(t, secret, { externalId: 'cust-D', anonymousId: 'anon-D' });
    await trackAs(t, secret, {
      customerExternalId: 'cust-D',
      anonymousId: 'anon-D',
      event: 'logged_in',
      occurredAt: '2025-03-03T10:06:00.000Z',
    });
    await t.setClock('2025-03-03T12:00:00.000Z');

    const again = await snapshot();
    expect(again.customer).toEqual(once);
    expect(again.events.map((e) => e.name)).toEqual(['page_viewed', 'page_viewed', 'logged_in']);
    expect(again.messages).toEqual(first.messages);
    expect(again.decisions).toEqual(first.decisions);
  });

  it('concurrent first-time tracks with the same new anonymousId create one customer', async () => {
    const secret = await tenant();
    const triggerId = await createTrigger(t, secret, PING);
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        pageView(secret, 'anon-new', '2025-03-03T10:00:00.000Z', {
          properties: { n: String(i) },
          messageId: `m-${i}`,
        }),
      ),
    );
    expect(results.every((r) => !r.duplicate)).toBe(true);

    const found = await findCustomer(t, secret, { anonymousId: 'anon-new' });
    expect(found).toMatchObject({ externalId: null, anonymousIds: ['anon-new'] });
    const events = await eventsOf(t, secret, { anonymousId: 'anon-new' });
    expect(events.map((e) => e.id).sort()).toEqual(results.map((r) => r.eventId).sort());
    const messages = await listRunMessages(t, secret, { triggerId });
    expect(messages).toHaveLength(6);
    expect(new Set(messages.map((m) => m.customer.id))).toEqual(new Set([found!.id]));

    // The same in one batch: two items naming one new anonymous id.
    const batch = await t.ok<any>(
      secret,
      `mutation($events: [TrackInput!]!) { trackBatch(events: $events) { accepted } }`,
      {
        events: [
          { anonymousId: 'anon-batch', event: 'page_viewed', properties: { n: 'x' } },
          { anonymousId: 'anon-batch', event: 'page_viewed', properties: { n: 'y' } },
        ],
      },
    );
    expect(batch.trackBatch.accepted).toBe(2);
    expect(await eventsOf(t, secret, { anonymousId: 'anon-batch' })).toHaveLength(2);
    const batchCustomer = await findCustomer(t, secret, { anonymousId: 'anon-batch' });
    expect(batchCustomer!.id).not.toBe(found!.id);
    expect(await messagesOf(secret, { anonymousId: 'anon-batch' })).toHaveLength(2);
  });

  /**
   * Runs `rounds` races, each on a fresh anonymous id, and returns for each round where the
   * anonymous id ended up: [round, externalId it resolves to, the identified customer's
   * anonymousIds, how many events the identified customer holds].
   */
  async function raceRounds(
    secret: string,
    prefix: string,
    rounds: number,
    race: (anonymousId: string, externalId: string) => Promise<unknown>,
  ) {
    const outcome: Array<[number, string | null, string[], number]> = [];
    for (let i = 0; i < rounds; i++) {
      const anonymousId = `anon-${prefix}${i}`;
      const externalId = `cust-${prefix}${i}`;
      await race(anonymousId, externalId);
      const byAnonymous = await findCustomer(t, secret, { anonymousId });
      const identified = await findCustomer(t, secret, { externalId });
      outcome.push([
        i,
        byAnonymous?.externalId ?? null,
        identified?.anonymousIds ?? [],
        (await eventsOf(t, secret, { externalId })).length,
      ]);
    }
    return outcome;
  }

  it('identify racing an anonymous track of an existing anonymous customer: the merge takes both events', async () => {
    const secret = await tenant();
    const outcome = await raceRounds(secret, 'm', 20, async (anonymousId, externalId) => {
      await pageView(secret, anonymousId, '2025-03-03T10:00:00.000Z');
      await Promise.all([
        pageView(secret, anonymousId, '2025-03-03T10:00:01.000Z'),
        identifyWith(t, secret, { externalId, anonymousId }),
      ]);
    });
    expect(outcome).toEqual(
      outcome.map(
        ([i]) => [i, `cust-m${i}`, [`anon-m${i}`], 2] as [number, string, string[], number],
      ),
    );
  });

  // A first-time link races a first-time anonymous track creating the same anonymous id: the
  // link's insert waits on the other's key, finds it taken, and must merge from there.
  it('a first-time anonymous track and an identify linking that same new anonymous id, sent concurrently, end linked', async () => {
    const secret = await tenant();
    const outcome = await raceRounds(secret, 'r', 30, (anonymousId, externalId) =>
      Promise.all([
        pageView(secret, anonymousId, '2025-03-03T10:00:00.000Z'),
        identifyWith(t, secret, { externalId, anonymousId }),
      ]),
    );
    // Whichever commits first, the spec's end state is the same: anon → cust, 1 event.
    expect(outcome).toEqual(
      outcome.map(
        ([i]) => [i, `cust-r${i}`, [`anon-r${i}`], 1] as [number, string, string[], number],
      ),
    );
  });

  // The same race, reached through a track that carries both ids.
  it('a first-time anonymous track and a track carrying both ids for that new anonymous id, sent concurrently, end linked', async () => {
    const secret = await tenant();
    const outcome = await raceRounds(secret, 'b', 30, (anonymousId, externalId) =>
      Promise.all([
        pageView(secret, anonymousId, '2025-03-03T10:00:00.000Z'),
        trackAs(t, secret, {
          customerExternalId: externalId,
          anonymousId,
          event: 'logged_in',
          occurredAt: '2025-03-03T10:00:00.000Z',
        }),
      ]),
    );
    expect(outcome).toEqual(
      outcome.map(
        ([i]) => [i, `cust-b${i}`, [`anon-b${i}`], 2] as [number, string, string[], number],
      ),
    );
  });

  it('tenant isolation: the same anonymousId in two tenants is two customers; neither sees the other', async () => {
    const alpha = await tenant('t-alpha');
    const beta = await tenant('t-beta');
    await Promise.all([
      pageView(alpha, 'anon-shared', '2025-03-03T10:00:00.000Z', { properties: { shop: 'alpha' } }),
      pageView(beta, 'anon-shared', '2025-03-03T10:00:00.000Z', { properties: { shop: 'beta' } }),
    ]);
    const inAlpha = await findCustomer(t, alpha, { anonymousId: 'anon-shared' });
    const inBeta = await findCustomer(t, beta, { anonymousId: 'anon-shared' });
    expect(inAlpha!.id).not.toBe(inBeta!.id);
    const shops = async (secret: string, by: { anonymousId: string } | { externalId: string }) =>
      (await eventsOf(t, secret, by)).map((e) => e.properties.shop);
    expect(await shops(alpha, { anonymousId: 'anon-shared' })).toEqual(['alpha']);
    expect(await shops(beta, { anonymousId: 'anon-shared' })).toEqual(['beta']);

    // Linking in alpha does not touch beta's anonymous customer.
    await identifyWith(t, alpha, { externalId: 'cust-X', anonymousId: 'anon-shared' });
    expect(await shops(alpha, { externalId: 'cust-X' })).toEqual(['alpha']);
    expect(await findCustomer(t, beta, { anonymousId: 'anon-shared' })).toEqual(inBeta);
    expect(await findCustomer(t, beta, { externalId: 'cust-X' })).toBeNull();
    expect(await shops(beta, { anonymousId: 'anon-shared' })).toEqual(['beta']);
  });
});
