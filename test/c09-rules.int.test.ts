import { startTestNudge, TestNudge } from './support/harness';
import { expectGraphQLError } from './support/graphql-helpers';
import {
  createTrigger,
  identifyWith,
  isoOf,
  listDecisions,
  listMessages,
  mailsTo,
  track,
  uniqueEmail,
  type DecisionNode,
} from './support/scenario';

/**
 * Field case C09: nested all/any/not rules, missing or mistyped data, identify after track.
 * No implicit coercion ("75" is not 75, "de" is not "DE"), no errors at run time, and an entry
 * that fails only for want of customer data is HELD for `attributeWait` (PT30M): an identify
 * that completes it lets it in once, at the identify's time; otherwise it ends as
 * NOT_MATCHED / ATTRIBUTE_WAIT_EXPIRED. Negative rows carry a control customer (row a's data)
 * whose email must go out, so "no entry" cannot pass vacuously.
 */
describe('C09 nested rules, missing and mistyped data, identify after track', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  const AT = '2025-02-03T10:00:00.000Z';
  const WAIT_ENDS = '2025-02-03T10:30:00.000Z';
  const AFTER_WAIT = '2025-02-03T10:31:00.000Z';

  const cartValueAtLeast50 = { field: 'event.properties.cartValue', op: 'gte', value: 50 };
  const countryDE = { field: 'customer.traits.country', op: 'eq', value: 'DE' };

  /**
   * Policy for `not inSegment seg-employees`: segments do not exist yet, so membership of
   * seg-employees is expressed as the trait `employee: true`, and the rule says
   * `not customer.traits.employee eq true`.
   */
  const C09_WHERE = {
    all: [
      { field: 'event.name', op: 'eq', value: 'added_to_cart' },
      {
        any: [
          { all: [cartValueAtLeast50, countryDE] },
          { field: 'customer.traits.vip', op: 'eq', value: true },
        ],
      },
      { not: { field: 'customer.traits.employee', op: 'eq', value: true } },
    ],
  };

  const C09_TRIGGER = {
    name: 'cart-offer',
    event: 'added_to_cart',
    where: C09_WHERE,
    attributeWait: 'PT30M',
    steps: [{ channel: 'EMAIL', template: { subject: 'Your cart', body: 'Still thinking?' } }],
  };

  async function freshTenant(
    trigger: Record<string, unknown> = C09_TRIGGER,
  ): Promise<{ secret: string; triggerId: string }> {
    const { secret } = await t.createTenant('t-fjord');
    await t.setClock('2025-02-03T09:00:00.000Z');
    const triggerId = await createTrigger(t, secret, trigger);
    return { secret, triggerId };
  }

  /** A customer known before the event, with these traits. */
  async function customer(
    secret: string,
    externalId: string,
    traits: Record<string, unknown>,
  ): Promise<string> {
    const email = uniqueEmail(externalId);
    await identifyWith(t, secret, { externalId, email, traits });
    return email;
  }

  /** `added_to_cart` at 10:00:00Z (the clock is moved there first). */
  async function addToCart(
    secret: string,
    externalId: string,
    properties: Record<string, unknown>,
  ) {
    await t.setClock(AT);
    return track(t, secret, {
      customerExternalId: externalId,
      event: 'added_to_cart',
      properties,
      occurredAt: AT,
    });
  }

  /** Row a's data: enters and is emailed at 10:00:00Z. */
  async function control(secret: string): Promise<string> {
    const email = await customer(secret, 'cust-9000', { country: 'DE' });
    await addToCart(secret, 'cust-9000', { cartValue: 75 });
    return email;
  }

  async function expectOneEmailAt(secret: string, externalId: string, email: string, due: string) {
    const messages = await listMessages(t, secret, { customerExternalId: externalId });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ channel: 'EMAIL', status: 'SENT', to: email });
    expect(isoOf(messages[0].scheduledFor)).toBe(isoOf(due));
    expect(isoOf(messages[0].sentAt!)).toBe(isoOf(due));
    expect(await mailsTo(t.smtp, email)).toHaveLength(1);
  }

  async function expectNoEmail(secret: string, externalId: string, email: string) {
    expect(await listMessages(t, secret, { customerExternalId: externalId })).toHaveLength(0);
    expect(await mailsTo(t.smtp, email)).toHaveLength(0);
  }

  const kinds = (decisions: DecisionNode[]) => decisions.map((d) => `${d.outcome}/${d.reason}`);

  /** HELD at 10:00, then NOT_MATCHED / ATTRIBUTE_WAIT_EXPIRED at 10:30, both about `eventId`. */
  function expectHeldThenExpired(decisions: DecisionNode[], eventId: string) {
    expect(kinds(decisions)).toEqual([
      'HELD/WAITING_FOR_ATTRIBUTES',
      'NOT_MATCHED/ATTRIBUTE_WAIT_EXPIRED',
    ]);
    const [held, expired] = decisions;
    expect(isoOf(held.at)).toBe(AT);
    expect(held.detail.until).toBe(WAIT_ENDS);
    expect(held.enrollmentId).toBeNull();
    expect(held.event).toMatchObject({ id: eventId, name: 'added_to_cart' });
    expect(isoOf(expired.at)).toBe(WAIT_ENDS);
    expect(expired.event?.id).toBe(eventId);
    expect(expired.enrollmentId).toBeNull();
  }

  it('C09 a: cartValue 75, country "DE", vip absent → enters, one email at 10:00:00Z', async () => {
    const { secret, triggerId } = await freshTenant();
    const email = await customer(secret, 'cust-9001', { country: 'DE' });

    const { eventId } = await addToCart(secret, 'cust-9001', { cartValue: 75 });
    await t.setClock(AFTER_WAIT);

    await expectOneEmailAt(secret, 'cust-9001', email, AT);
    const decisions = await listDecisions(t, secret, 'cust-9001', triggerId);
    expect(kinds(decisions)).toEqual(['ENTERED/CONDITION_MET']);
    expect(isoOf(decisions[0].at)).toBe(AT);
    expect(decisions[0].event).toEqual({ id: eventId, name: 'added_to_cart', occurredAt: AT });
    expect(decisions[0].enrollmentId).toEqual(expect.any(String));
  });

  it('C09 b: cartValue "75" (a string) with country "DE" → no entry, NOT_MATCHED / CONDITION_FALSE', async () => {
    const { secret, triggerId } = await freshTenant();
    const ctl = await control(secret);
    // vip is known (false) so the outcome is final at once; with vip absent the entry could
    // still match via `vip: true` and is held instead (next test).
    const email = await customer(secret, 'cust-9002', { country: 'DE', vip: false });

    const { eventId } = await addToCart(secret, 'cust-9002', { cartValue: '75' });
    await t.setClock(AFTER_WAIT);

    await expectNoEmail(secret, 'cust-9002', email);
    await expectOneEmailAt(secret, 'cust-9000', ctl, AT);
    const decisions = await listDecisions(t, secret, 'cust-9002', triggerId);
    expect(kinds(decisions)).toEqual(['NOT_MATCHED/CONDITION_FALSE']);
    expect(isoOf(decisions[0].at)).toBe(AT);
    expect(decisions[0].event?.id).toBe(eventId);
    expect(decisions[0].enrollmentId).toBeNull();
    // What the log says: the any-group (both branches false) is named as the failing node,
    // with its most telling branch failure: the mistyped cartValue (the type-mismatch warning).
    expect(decisions[0].detail).toEqual({
      failingNode: 'all.1.any',
      field: 'event.properties.cartValue',
      why: 'TYPE_MISMATCH',
    });
  });

  it('C09 b: cartValue "75" with vip absent is held (vip could still arrive), then expires; never enters', async () => {
    const { secret, triggerId } = await freshTenant();
    const ctl = await control(secret);
    const email = await customer(secret, 'cust-9012', { country: 'DE' });

    const { eventId } = await addToCart(secret, 'cust-9012', { cartValue: '75' });
    await t.setClock(AFTER_WAIT);

    await expectNoEmail(secret, 'cust-9012', email);
    await expectOneEmailAt(secret, 'cust-9000', ctl, AT);
    const decisions = await listDecisions(t, secret, 'cust-9012', triggerId);
    expectHeldThenExpired(decisions, eventId);
    expect(decisions[0].detail).toEqual({
      failingNode: 'all.1.any',
      field: 'event.properties.cartValue',
      why: 'TYPE_MISMATCH',
      until: WAIT_ENDS,
    });
  });

  it('C09 b: a mistyped cartValue that decides the outcome is recorded as TYPE_MISMATCH on its field', async () => {
    // The same data against a rule whose deciding node is the cartValue comparison itself.
    const { secret, triggerId } = await freshTenant({
      ...C09_TRIGGER,
      name: 'cart-offer-de',
      where: { all: [cartValueAtLeast50, countryDE] },
    });
    const ctl = await control(secret);
    const email = await customer(secret, 'cust-9022', { country: 'DE' });

    await addToCart(secret, 'cust-9022', { cartValue: '75' });
    await t.setClock(AFTER_WAIT);

    await expectNoEmail(secret, 'cust-9022', email);
    await expectOneEmailAt(secret, 'cust-9000', ctl, AT);
    const decisions = await listDecisions(t, secret, 'cust-9022', triggerId);
    expect(kinds(decisions)).toEqual(['NOT_MATCHED/CONDITION_FALSE']);
    expect(decisions[0].detail).toEqual({
      failingNode: 'all.0',
      field: 'event.properties.cartValue',
      why: 'TYPE_MISMATCH',
    });
  });

  it('C09 c: cartValue 20 with vip true → enters through the OR branch, email at 10:00:00Z', async () => {
    const { secret, triggerId } = await freshTenant();
    const email = await customer(secret, 'cust-9003', { vip: true });

    await addToCart(secret, 'cust-9003', { cartValue: 20 });
    await t.setClock(AFTER_WAIT);

    await expectOneEmailAt(secret, 'cust-9003', email, AT);
    expect(kinds(await listDecisions(t, secret, 'cust-9003', triggerId))).toEqual([
      'ENTERED/CONDITION_MET',
    ]);
  });

  it('C09 d: cartValue, vip and country all absent → no entry, no error; HELD then ATTRIBUTE_WAIT_EXPIRED', async () => {
    const { secret, triggerId } = await freshTenant();
    const ctl = await control(secret);
    const email = await customer(secret, 'cust-9004', {});

    // No error: track succeeds (`track` fails the test on any GraphQL error).
    const { eventId } = await addToCart(secret, 'cust-9004', {});
    await t.setClock(AFTER_WAIT);

    await expectNoEmail(secret, 'cust-9004', email);
    await expectOneEmailAt(secret, 'cust-9000', ctl, AT);
    const decisions = await listDecisions(t, secret, 'cust-9004', triggerId);
    // HELD first, not NOT_MATCHED: the missing cartValue is an event property and final, but
    // vip (and country) are customer traits that an identify could still supply. With
    // `vip: true` the any-branch, and so the whole rule, would hold; the three-valued
    // evaluation says "unknown", so the entry waits for attributeWait (PT30M) before it is
    // given up as ATTRIBUTE_WAIT_EXPIRED.
    expectHeldThenExpired(decisions, eventId);
    expect(decisions[0].detail).toEqual({
      failingNode: 'all.1.any',
      field: 'event.properties.cartValue',
      why: 'MISSING',
      until: WAIT_ENDS,
    });
    expect(decisions[1].detail).toEqual({});
  });

  it('C09 e: country "de" is not "DE" → no entry (held for the absent vip, then expired; final when vip is false)', async () => {
    const { secret, triggerId } = await freshTenant();
    const ctl = await control(secret);
    const vipUnknown = await customer(secret, 'cust-9005', { country: 'de' });
    const vipFalse = await customer(secret, 'cust-9015', { country: 'de', vip: false });

    const { eventId } = await addToCart(secret, 'cust-9005', { cartValue: 75 });
    await addToCart(secret, 'cust-9015', { cartValue: 75 });
    await t.setClock(AFTER_WAIT);

    await expectNoEmail(secret, 'cust-9005', vipUnknown);
    await expectNoEmail(secret, 'cust-9015', vipFalse);
    await expectOneEmailAt(secret, 'cust-9000', ctl, AT);
    expectHeldThenExpired(await listDecisions(t, secret, 'cust-9005', triggerId), eventId);
    const final = await listDecisions(t, secret, 'cust-9015', triggerId);
    expect(kinds(final)).toEqual(['NOT_MATCHED/CONDITION_FALSE']);
    expect(final[0].detail).toEqual({ failingNode: 'all.1.any', why: 'NO_MATCH' });
  });

  it('C09 f: an employee (policy: trait employee = true) with row a data → no entry, CONDITION_FALSE at the not', async () => {
    const { secret, triggerId } = await freshTenant();
    const ctl = await control(secret);
    const email = await customer(secret, 'cust-9006', { country: 'DE', employee: true });

    await addToCart(secret, 'cust-9006', { cartValue: 75 });
    await t.setClock(AFTER_WAIT);

    await expectNoEmail(secret, 'cust-9006', email);
    await expectOneEmailAt(secret, 'cust-9000', ctl, AT);
    const decisions = await listDecisions(t, secret, 'cust-9006', triggerId);
    expect(kinds(decisions)).toEqual(['NOT_MATCHED/CONDITION_FALSE']);
    expect(decisions[0].detail).toEqual({ failingNode: 'all.2.not', why: 'NO_MATCH' });
  });

  it('C09 g: new cust-9007 tracked at 10:00:00 without traits, identify country "DE" at 10:00:05 → one entry, one email at 10:00:05Z', async () => {
    const { secret, triggerId } = await freshTenant();
    const email = uniqueEmail('cust-9007');

    const { eventId } = await addToCart(secret, 'cust-9007', { cartValue: 75 });
    expect(await listMessages(t, secret, { customerExternalId: 'cust-9007' })).toHaveLength(0);

    await t.setClock('2025-02-03T10:00:05.000Z');
    await identifyWith(t, secret, { externalId: 'cust-9007', email, traits: { country: 'DE' } });
    await expectOneEmailAt(secret, 'cust-9007', email, '2025-02-03T10:00:05.000Z');

    await t.setClock(AFTER_WAIT);
    await expectOneEmailAt(secret, 'cust-9007', email, '2025-02-03T10:00:05.000Z');
    const decisions = await listDecisions(t, secret, 'cust-9007', triggerId);
    expect(kinds(decisions)).toEqual(['HELD/WAITING_FOR_ATTRIBUTES', 'ENTERED/CONDITION_MET']);
    const [held, entered] = decisions;
    expect(isoOf(held.at)).toBe(AT);
    expect(held.detail).toEqual({
      failingNode: 'all.1.any',
      field: 'customer.traits.country',
      why: 'MISSING',
      until: WAIT_ENDS,
    });
    expect(isoOf(entered.at)).toBe('2025-02-03T10:00:05.000Z');
    // The entry's recorded time stays the event's: 10:00:00Z.
    expect(entered.event).toEqual({ id: eventId, name: 'added_to_cart', occurredAt: AT });
    expect(entered.enrollmentId).toEqual(expect.any(String));
  });

  it('C09 g: identifies repeated after the entry do not enter a second time', async () => {
    const { secret, triggerId } = await freshTenant();
    const email = uniqueEmail('cust-9007');

    await addToCart(secret, 'cust-9007', { cartValue: 75 });
    await t.setClock('2025-02-03T10:00:05.000Z');
    await identifyWith(t, secret, { externalId: 'cust-9007', email, traits: { country: 'DE' } });
    await t.setClock('2025-02-03T10:00:10.000Z');
    await identifyWith(t, secret, { externalId: 'cust-9007', traits: { country: 'DE' } });
    await t.setClock('2025-02-03T10:20:00.000Z');
    await identifyWith(t, secret, { externalId: 'cust-9007', traits: { vip: true } });
    await t.setClock('2025-02-04T00:00:00.000Z');
    await identifyWith(t, secret, { externalId: 'cust-9007', traits: { vip: true } });

    await expectOneEmailAt(secret, 'cust-9007', email, '2025-02-03T10:00:05.000Z');
    expect(kinds(await listDecisions(t, secret, 'cust-9007', triggerId))).toEqual([
      'HELD/WAITING_FOR_ATTRIBUTES',
      'ENTERED/CONDITION_MET',
    ]);
  });

  it('C09 h: as g but identify at 10:31:00 → no entry, one NOT_MATCHED / ATTRIBUTE_WAIT_EXPIRED', async () => {
    const { secret, triggerId } = await freshTenant();
    const late = uniqueEmail('cust-9008');
    const inTime = uniqueEmail('cust-9009');

    const { eventId } = await addToCart(secret, 'cust-9008', { cartValue: 75 });
    await track(t, secret, {
      customerExternalId: 'cust-9009',
      event: 'added_to_cart',
      properties: { cartValue: 75 },
      occurredAt: AT,
    });
    // Control: completed at 10:29, inside the wait.
    await t.setClock('2025-02-03T10:29:00.000Z');
    await identifyWith(t, secret, {
      externalId: 'cust-9009',
      email: inTime,
      traits: { country: 'DE' },
    });
    await t.setClock(AFTER_WAIT);
    await identifyWith(t, secret, {
      externalId: 'cust-9008',
      email: late,
      traits: { country: 'DE' },
    });
    await t.setClock('2025-02-04T00:00:00.000Z');

    await expectNoEmail(secret, 'cust-9008', late);
    await expectOneEmailAt(secret, 'cust-9009', inTime, '2025-02-03T10:29:00.000Z');
    const decisions = await listDecisions(t, secret, 'cust-9008', triggerId);
    expectHeldThenExpired(decisions, eventId);
    expect(decisions.filter((d) => d.outcome === 'NOT_MATCHED')).toHaveLength(1);
  });

  describe('C09: a where mixing all and any at one level is rejected, never guessed', () => {
    const CREATE = `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`;
    const triggerCount = async (secret: string) =>
      (await t.ok<any>(secret, `{ triggers(first: 100) { edges { node { id } } } }`)).triggers.edges
        .length;

    it.each([
      ['at the root', 'input.where', { all: [cartValueAtLeast50, countryDE], any: [countryDE] }],
      [
        'inside a list',
        'input.where.all.1',
        {
          all: [
            { field: 'event.name', op: 'eq', value: 'added_to_cart' },
            { all: [cartValueAtLeast50], any: [countryDE] },
          ],
        },
      ],
      ['a comparison next to a group', 'input.where', { ...countryDE, any: [cartValueAtLeast50] }],
    ])('%s → BAD_USER_INPUT at %s', async (_label, field, where) => {
      const { secret } = await freshTenant();
      const response = await t.request(secret, CREATE, { i: { ...C09_TRIGGER, where } });

      expectGraphQLError(response, 'BAD_USER_INPUT', field);
      expect(response.data?.createTrigger ?? null).toBeNull();
      expect(response.errors![0].message).toMatch(/all|any/);
      // Only the tenant's C09 trigger exists.
      expect(await triggerCount(secret)).toBe(1);
    });
  });
});
