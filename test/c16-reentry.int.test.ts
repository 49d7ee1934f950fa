import { startTestNudge, TestNudge } from './support/harness';
import {
  createTrigger,
  DecisionNode,
  eventsOf,
  identify,
  isoOf,
  listDecisions,
  listRunMessages,
  mailsTo,
  RunMessageNode,
  track,
  uniqueEmail,
} from './support/scenario';

/**
 * Field case C16: re-entry rules and double entry. Tenant t-quartz has J-welcome (signed_up,
 * `reentry: ONCE`, one email at once) and J-browse (viewed_product, `reentry: ONCE_PER P7D`,
 * `maxActive: 1`, one email 1 h after entry). Every refusal must be visible in the customer's
 * decision log with its exact reason; every allowed entry must produce exactly its email at
 * its exact time.
 */

const WELCOME = {
  name: 'J-welcome',
  event: 'signed_up',
  reentry: { policy: 'ONCE' },
  steps: [
    { channel: 'EMAIL', template: { subject: 'Welcome', body: 'Hello {{ customer.externalId }}' } },
  ],
};

const BROWSE = {
  name: 'J-browse',
  event: 'viewed_product',
  reentry: { policy: 'ONCE_PER', period: 'P7D' },
  maxActive: 1,
  steps: [
    {
      delay: 'PT1H',
      channel: 'EMAIL',
      template: { subject: 'Still looking?', body: 'You viewed {{ event.properties.sku }}' },
    },
  ],
};

/** What a decision says, in a form that compares exactly (times canonical). */
function summary(d: DecisionNode) {
  return {
    outcome: d.outcome,
    reason: d.reason,
    event: d.event && { name: d.event.name, occurredAt: isoOf(d.event.occurredAt) },
    at: isoOf(d.at),
  };
}

/** Every message's scheduled and sent time (canonical), ordered by schedule. */
function sends(messages: RunMessageNode[]) {
  return messages
    .map((m) => ({
      status: m.status,
      scheduledFor: isoOf(m.scheduledFor),
      sentAt: m.sentAt && isoOf(m.sentAt),
    }))
    .sort((a, b) => a.scheduledFor.localeCompare(b.scheduledFor));
}

/** No run ever holds two messages for one step. */
function expectOneMessagePerRunStep(messages: RunMessageNode[]) {
  const keys = messages.map((m) => `${m.enrollmentId}:${m.stepIndex}`);
  expect(new Set(keys).size).toBe(keys.length);
}

const sent = (iso: string) => ({ status: 'SENT', scheduledFor: isoOf(iso), sentAt: isoOf(iso) });

describe('C16 re-entry rules and double entry', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  async function tenant(start: string): Promise<string> {
    const { secret } = await t.createTenant('t-quartz');
    await t.setClock(start);
    return secret;
  }

  async function customer(secret: string, externalId: string): Promise<string> {
    const email = uniqueEmail(externalId);
    await identify(t, secret, externalId, email);
    return email;
  }

  /** Moves the clock to `at` and tracks an event that happened then. */
  async function sendAt(
    secret: string,
    externalId: string,
    event: string,
    at: string,
    properties: Record<string, unknown> = {},
  ) {
    await t.setClock(at);
    return track(t, secret, { customerExternalId: externalId, event, properties, occurredAt: at });
  }

  describe('cust-16001 and cust-16002 in t-quartz (J-welcome ONCE; J-browse ONCE_PER P7D, maxActive 1)', () => {
    let secret: string;
    let welcomeId: string;
    let browseId: string;
    let mail16001: string;
    let mail16002: string;

    beforeAll(async () => {
      secret = await tenant('2025-01-10T07:00:00.000Z');
      welcomeId = await createTrigger(t, secret, WELCOME);
      browseId = await createTrigger(t, secret, BROWSE);
      mail16001 = await customer(secret, 'cust-16001');
      mail16002 = await customer(secret, 'cust-16002');

      await sendAt(secret, 'cust-16001', 'signed_up', '2025-01-10T08:00:00.000Z');

      // cust-16002: the SDK and a server webhook both report the sign-up, with different
      // messageIds, 50 ms apart, and the two requests are in flight at the same time.
      await t.setClock('2025-01-10T09:00:00.000Z');
      const [sdk, webhook] = await Promise.all([
        track(t, secret, {
          customerExternalId: 'cust-16002',
          event: 'signed_up',
          occurredAt: '2025-01-10T09:00:00.000Z',
          messageId: 'sdk-16002',
        }),
        track(t, secret, {
          customerExternalId: 'cust-16002',
          event: 'signed_up',
          occurredAt: '2025-01-10T09:00:00.050Z',
          messageId: 'webhook-16002',
        }),
      ]);
      expect(sdk.duplicate).toBe(false);
      expect(webhook.duplicate).toBe(false);

      await sendAt(secret, 'cust-16001', 'viewed_product', '2025-01-10T10:00:00.000Z', {
        sku: 'a',
      });
      await sendAt(secret, 'cust-16001', 'viewed_product', '2025-01-10T10:30:00.000Z', {
        sku: 'b',
      });
      await sendAt(secret, 'cust-16001', 'viewed_product', '2025-01-13T10:00:00.000Z', {
        sku: 'c',
      });
      await sendAt(secret, 'cust-16001', 'viewed_product', '2025-01-17T10:00:01.000Z', {
        sku: 'd',
      });
      await sendAt(secret, 'cust-16001', 'signed_up', '2025-01-20T08:00:00.000Z');
      await t.setClock('2025-01-25T00:00:00.000Z');
    });

    it('C16 J-welcome: one welcome email for cust-16001, at 2025-01-10T08:00Z; nothing on 01-20', async () => {
      const messages = await listRunMessages(t, secret, {
        triggerId: welcomeId,
        customerExternalId: 'cust-16001',
      });
      expect(sends(messages)).toEqual([sent('2025-01-10T08:00:00.000Z')]);
      expect(messages[0]).toMatchObject({ subject: 'Welcome', to: mail16001, stepIndex: 0 });
    });

    it('C16 J-welcome: the 01-20 signed_up is logged BLOCKED / REENTRY_NOT_ALLOWED', async () => {
      const decisions = await listDecisions(t, secret, 'cust-16001', welcomeId);
      expect(decisions.map(summary)).toEqual([
        {
          outcome: 'ENTERED',
          reason: 'CONDITION_MET',
          event: { name: 'signed_up', occurredAt: '2025-01-10T08:00:00.000Z' },
          at: '2025-01-10T08:00:00.000Z',
        },
        {
          outcome: 'BLOCKED',
          reason: 'REENTRY_NOT_ALLOWED',
          event: { name: 'signed_up', occurredAt: '2025-01-20T08:00:00.000Z' },
          at: '2025-01-20T08:00:00.000Z',
        },
      ]);
      expect(decisions.every((d) => d.triggerId === welcomeId && d.triggerVersion === 1)).toBe(
        true,
      );
      expect(decisions[0].enrollmentId).toEqual(expect.any(String));
    });

    it('C16 J-browse: emails at 2025-01-10T11:00:00Z and 2025-01-17T11:00:01Z, and no others', async () => {
      const messages = await listRunMessages(t, secret, {
        triggerId: browseId,
        customerExternalId: 'cust-16001',
      });
      expect(sends(messages)).toEqual([
        sent('2025-01-10T11:00:00.000Z'),
        sent('2025-01-17T11:00:01.000Z'),
      ]);
      const bySchedule = [...messages].sort((a, b) => a.scheduledFor.localeCompare(b.scheduledFor));
      expect(bySchedule.map((m) => m.body)).toEqual(['You viewed a', 'You viewed d']);
      expect(bySchedule[0].enrollmentId).not.toBe(bySchedule[1].enrollmentId);
      // 1 welcome + 2 browse emails reached the mailbox, nothing more.
      expect(await mailsTo(t.smtp, mail16001)).toHaveLength(3);
    });

    it('C16 J-browse: 10:30 is BLOCKED / ACTIVE_LIMIT, 01-13 BLOCKED / REENTRY_NOT_ALLOWED, 01-17 enters', async () => {
      const decisions = await listDecisions(t, secret, 'cust-16001', browseId);
      expect(decisions.map(summary)).toEqual([
        {
          outcome: 'ENTERED',
          reason: 'CONDITION_MET',
          event: { name: 'viewed_product', occurredAt: '2025-01-10T10:00:00.000Z' },
          at: '2025-01-10T10:00:00.000Z',
        },
        {
          outcome: 'BLOCKED',
          reason: 'ACTIVE_LIMIT',
          event: { name: 'viewed_product', occurredAt: '2025-01-10T10:30:00.000Z' },
          at: '2025-01-10T10:30:00.000Z',
        },
        {
          outcome: 'BLOCKED',
          reason: 'REENTRY_NOT_ALLOWED',
          event: { name: 'viewed_product', occurredAt: '2025-01-13T10:00:00.000Z' },
          at: '2025-01-13T10:00:00.000Z',
        },
        {
          outcome: 'ENTERED',
          reason: 'CONDITION_MET',
          event: { name: 'viewed_product', occurredAt: '2025-01-17T10:00:01.000Z' },
          at: '2025-01-17T10:00:01.000Z',
        },
      ]);
      const messages = await listRunMessages(t, secret, { triggerId: browseId });
      const runs = decisions.filter((d) => d.outcome === 'ENTERED').map((d) => d.enrollmentId);
      expect(new Set(messages.map((m) => m.enrollmentId))).toEqual(new Set(runs));
      expect(decisions.filter((d) => d.outcome === 'BLOCKED').map((d) => d.enrollmentId)).toEqual([
        null,
        null,
      ]);
    });

    it('C16 cust-16002: two signed_up from two paths sent concurrently → both stored, exactly one welcome email', async () => {
      const events = await eventsOf(t, secret, { externalId: 'cust-16002' });
      expect(events.map((e) => [e.name, isoOf(e.occurredAt), e.messageId]).sort()).toEqual([
        ['signed_up', '2025-01-10T09:00:00.000Z', 'sdk-16002'],
        ['signed_up', '2025-01-10T09:00:00.050Z', 'webhook-16002'],
      ]);

      const messages = await listRunMessages(t, secret, { customerExternalId: 'cust-16002' });
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatchObject({
        status: 'SENT',
        to: mail16002,
        trigger: { id: welcomeId },
      });
      expect(await mailsTo(t.smtp, mail16002)).toHaveLength(1);

      // Whichever arrived first entered; the other was refused by the ONCE rule.
      const decisions = await listDecisions(t, secret, 'cust-16002', welcomeId);
      expect(decisions.map((d) => `${d.outcome}/${d.reason}`).sort()).toEqual([
        'BLOCKED/REENTRY_NOT_ALLOWED',
        'ENTERED/CONDITION_MET',
      ]);
      const entered = decisions.find((d) => d.outcome === 'ENTERED')!;
      expect(messages[0].enrollmentId).toBe(entered.enrollmentId);
      expect(isoOf(messages[0].scheduledFor)).toBe(isoOf(entered.event!.occurredAt));
      expect(isoOf(messages[0].sentAt!)).toBe(isoOf(entered.event!.occurredAt));
    });

    it('C16: no run in the tenant has two messages for the same step', async () => {
      const all = await listRunMessages(t, secret, {});
      expect(all).toHaveLength(4); // 16001: welcome + 2 browse; 16002: welcome
      expectOneMessagePerRunStep(all);
    });
  });

  it('C16 cust-16002: both signed_up events in one trackBatch → one welcome run and email', async () => {
    const secret = await tenant('2025-01-10T09:00:00.000Z');
    const welcomeId = await createTrigger(t, secret, WELCOME);
    const email = await customer(secret, 'cust-16002');
    const control = await customer(secret, 'cust-16003');

    const batch = await t.ok<any>(
      secret,
      `mutation($events: [TrackInput!]!) {
         trackBatch(events: $events) { accepted duplicates rejected { index } }
       }`,
      {
        events: [
          {
            customerExternalId: 'cust-16002',
            event: 'signed_up',
            occurredAt: '2025-01-10T09:00:00.000Z',
            messageId: 'sdk-16002',
          },
          {
            customerExternalId: 'cust-16002',
            event: 'signed_up',
            occurredAt: '2025-01-10T09:00:00.050Z',
            messageId: 'webhook-16002',
          },
          {
            customerExternalId: 'cust-16003',
            event: 'signed_up',
            occurredAt: '2025-01-10T09:00:00.000Z',
            messageId: 'sdk-16003',
          },
        ],
      },
    );
    expect(batch.trackBatch).toEqual({ accepted: 3, duplicates: 0, rejected: [] });
    await t.setClock('2025-01-10T10:00:00.000Z');

    const messages = await listRunMessages(t, secret, { customerExternalId: 'cust-16002' });
    expect(messages).toHaveLength(1);
    expect(await mailsTo(t.smtp, email)).toHaveLength(1);
    const decisions = await listDecisions(t, secret, 'cust-16002', welcomeId);
    expect(decisions.map((d) => `${d.outcome}/${d.reason}`).sort()).toEqual([
      'BLOCKED/REENTRY_NOT_ALLOWED',
      'ENTERED/CONDITION_MET',
    ]);
    const entered = decisions.find((d) => d.outcome === 'ENTERED')!;
    expect(isoOf(messages[0].scheduledFor)).toBe(isoOf(entered.event!.occurredAt));
    expect(isoOf(messages[0].sentAt!)).toBe(isoOf(entered.event!.occurredAt));

    // Control: a single sign-up in the same batch gets its welcome at once.
    const controlMessages = await listRunMessages(t, secret, { customerExternalId: 'cust-16003' });
    expect(sends(controlMessages)).toEqual([sent('2025-01-10T09:00:00.000Z')]);
    expect(await mailsTo(t.smtp, control)).toHaveLength(1);
  });

  it('C16: eight customers, each with two concurrent signed_up from two paths → exactly one welcome each', async () => {
    const secret = await tenant('2025-01-10T09:00:00.000Z');
    const welcomeId = await createTrigger(t, secret, WELCOME);
    const ids = Array.from({ length: 8 }, (_, i) => `cust-1610${i}`);
    for (const id of ids) await customer(secret, id);

    await Promise.all(
      ids.flatMap((id) => [
        track(t, secret, {
          customerExternalId: id,
          event: 'signed_up',
          occurredAt: '2025-01-10T09:00:00.000Z',
          messageId: `sdk-${id}`,
        }),
        track(t, secret, {
          customerExternalId: id,
          event: 'signed_up',
          occurredAt: '2025-01-10T09:00:00.050Z',
          messageId: `webhook-${id}`,
        }),
      ]),
    );
    await t.setClock('2025-01-10T10:00:00.000Z');

    const messages = await listRunMessages(t, secret, { triggerId: welcomeId });
    expect(messages.map((m) => m.customer.externalId).sort()).toEqual(ids);
    expectOneMessagePerRunStep(messages);
    for (const id of ids) {
      const decisions = await listDecisions(t, secret, id, welcomeId);
      expect(decisions.map((d) => `${d.outcome}/${d.reason}`).sort()).toEqual([
        'BLOCKED/REENTRY_NOT_ALLOWED',
        'ENTERED/CONDITION_MET',
      ]);
    }
  });

  it('EVERY_TIME is the default: two entries make two runs and two emails', async () => {
    const secret = await tenant('2025-01-10T09:00:00.000Z');
    const triggerId = await createTrigger(t, secret, {
      name: 'browse-every-time',
      event: BROWSE.event,
      steps: BROWSE.steps,
    });
    const trigger = await t.ok<any>(
      secret,
      `query($id: ID!) { trigger(id: $id) { reentry { policy period } maxActive cooldown } }`,
      { id: triggerId },
    );
    expect(trigger.trigger).toEqual({
      reentry: { policy: 'EVERY_TIME', period: null },
      maxActive: null,
      cooldown: null,
    });
    const email = await customer(secret, 'cust-16010');

    await sendAt(secret, 'cust-16010', 'viewed_product', '2025-01-10T10:00:00.000Z', { sku: 'a' });
    await sendAt(secret, 'cust-16010', 'viewed_product', '2025-01-10T10:30:00.000Z', { sku: 'b' });
    await t.setClock('2025-01-10T12:00:00.000Z');

    const messages = await listRunMessages(t, secret, { customerExternalId: 'cust-16010' });
    expect(sends(messages)).toEqual([
      sent('2025-01-10T11:00:00.000Z'),
      sent('2025-01-10T11:30:00.000Z'),
    ]);
    expect(new Set(messages.map((m) => m.enrollmentId)).size).toBe(2);
    expect(await mailsTo(t.smtp, email)).toHaveLength(2);
    const decisions = await listDecisions(t, secret, 'cust-16010', triggerId);
    expect(decisions.map((d) => `${d.outcome}/${d.reason}`)).toEqual([
      'ENTERED/CONDITION_MET',
      'ENTERED/CONDITION_MET',
    ]);
  });

  it('ONCE_PER P7D boundary: 1 ms short of the period is blocked, exactly the period later enters; a refusal does not restart the period', async () => {
    const secret = await tenant('2025-01-10T09:00:00.000Z');
    const triggerId = await createTrigger(t, secret, {
      name: 'weekly-digest',
      event: 'viewed_product',
      reentry: { policy: 'ONCE_PER', period: 'P7D' },
      steps: [{ channel: 'EMAIL', template: { subject: 'Digest', body: 'Digest' } }],
    });
    const email = await customer(secret, 'cust-16020');

    await sendAt(secret, 'cust-16020', 'viewed_product', '2025-01-10T10:00:00.000Z');
    await sendAt(secret, 'cust-16020', 'viewed_product', '2025-01-17T09:59:59.999Z');
    await sendAt(secret, 'cust-16020', 'viewed_product', '2025-01-17T10:00:00.000Z');
    await sendAt(secret, 'cust-16020', 'viewed_product', '2025-01-24T09:59:59.999Z');
    await sendAt(secret, 'cust-16020', 'viewed_product', '2025-01-24T10:00:00.000Z');
    await t.setClock('2025-01-25T00:00:00.000Z');

    const decisions = await listDecisions(t, secret, 'cust-16020', triggerId);
    expect(decisions.map((d) => [d.outcome, d.reason, isoOf(d.event!.occurredAt)])).toEqual([
      ['ENTERED', 'CONDITION_MET', '2025-01-10T10:00:00.000Z'],
      ['BLOCKED', 'REENTRY_NOT_ALLOWED', '2025-01-17T09:59:59.999Z'],
      ['ENTERED', 'CONDITION_MET', '2025-01-17T10:00:00.000Z'],
      ['BLOCKED', 'REENTRY_NOT_ALLOWED', '2025-01-24T09:59:59.999Z'],
      ['ENTERED', 'CONDITION_MET', '2025-01-24T10:00:00.000Z'],
    ]);
    const messages = await listRunMessages(t, secret, { customerExternalId: 'cust-16020' });
    expect(sends(messages)).toEqual([
      sent('2025-01-10T10:00:00.000Z'),
      sent('2025-01-17T10:00:00.000Z'),
      sent('2025-01-24T10:00:00.000Z'),
    ]);
    expect(await mailsTo(t.smtp, email)).toHaveLength(3);
  });

  it('maxActive 2: a third open run is BLOCKED / ACTIVE_LIMIT; after one completes a new entry runs', async () => {
    const secret = await tenant('2025-01-10T09:00:00.000Z');
    const triggerId = await createTrigger(t, secret, {
      ...BROWSE,
      name: 'browse-max-2',
      reentry: undefined,
      maxActive: 2,
    });
    const email = await customer(secret, 'cust-16030');

    await sendAt(secret, 'cust-16030', 'viewed_product', '2025-01-10T10:00:00.000Z', { sku: 'a' });
    await sendAt(secret, 'cust-16030', 'viewed_product', '2025-01-10T10:10:00.000Z', { sku: 'b' });
    await sendAt(secret, 'cust-16030', 'viewed_product', '2025-01-10T10:20:00.000Z', { sku: 'c' });
    // 11:00: the first run sends its only step and completes; one run is open.
    await sendAt(secret, 'cust-16030', 'viewed_product', '2025-01-10T11:05:00.000Z', { sku: 'd' });
    await sendAt(secret, 'cust-16030', 'viewed_product', '2025-01-10T11:06:00.000Z', { sku: 'e' });
    await t.setClock('2025-01-10T15:00:00.000Z');

    const decisions = await listDecisions(t, secret, 'cust-16030', triggerId);
    expect(decisions.map((d) => [d.outcome, d.reason, isoOf(d.event!.occurredAt)])).toEqual([
      ['ENTERED', 'CONDITION_MET', '2025-01-10T10:00:00.000Z'],
      ['ENTERED', 'CONDITION_MET', '2025-01-10T10:10:00.000Z'],
      ['BLOCKED', 'ACTIVE_LIMIT', '2025-01-10T10:20:00.000Z'],
      ['ENTERED', 'CONDITION_MET', '2025-01-10T11:05:00.000Z'],
      ['BLOCKED', 'ACTIVE_LIMIT', '2025-01-10T11:06:00.000Z'],
    ]);
    const messages = await listRunMessages(t, secret, { customerExternalId: 'cust-16030' });
    expect(sends(messages)).toEqual([
      sent('2025-01-10T11:00:00.000Z'),
      sent('2025-01-10T11:10:00.000Z'),
      sent('2025-01-10T12:05:00.000Z'),
    ]);
    expect(messages.map((m) => m.body).sort()).toEqual([
      'You viewed a',
      'You viewed b',
      'You viewed d',
    ]);
    expect(await mailsTo(t.smtp, email)).toHaveLength(3);
  });

  it('entryKey without unless: a repeat of a key whose run is still open is BLOCKED / SAME_KEY_OPEN; another key, or the same key after the run ends, starts a run', async () => {
    const secret = await tenant('2025-01-10T09:00:00.000Z');
    const triggerId = await createTrigger(t, secret, {
      ...BROWSE,
      name: 'browse-per-sku',
      reentry: undefined,
      maxActive: undefined,
      entryKey: ['sku'],
    });
    const email = await customer(secret, 'cust-16035');

    await sendAt(secret, 'cust-16035', 'viewed_product', '2025-01-10T10:00:00.000Z', { sku: 'a' });
    await sendAt(secret, 'cust-16035', 'viewed_product', '2025-01-10T10:00:00.054Z', { sku: 'a' });
    await sendAt(secret, 'cust-16035', 'viewed_product', '2025-01-10T10:10:00.000Z', { sku: 'b' });
    // 11:00: the run for "a" sends its only step and ends; "a" may start again.
    await sendAt(secret, 'cust-16035', 'viewed_product', '2025-01-10T11:05:00.000Z', { sku: 'a' });
    await t.setClock('2025-01-10T15:00:00.000Z');

    const decisions = await listDecisions(t, secret, 'cust-16035', triggerId);
    expect(decisions.map((d) => [d.outcome, d.reason, isoOf(d.event!.occurredAt)])).toEqual([
      ['ENTERED', 'CONDITION_MET', '2025-01-10T10:00:00.000Z'],
      ['BLOCKED', 'SAME_KEY_OPEN', '2025-01-10T10:00:00.054Z'],
      ['ENTERED', 'CONDITION_MET', '2025-01-10T10:10:00.000Z'],
      ['ENTERED', 'CONDITION_MET', '2025-01-10T11:05:00.000Z'],
    ]);
    const blocked = decisions[1];
    expect(blocked.enrollmentId).toBe(decisions[0].enrollmentId);
    expect(blocked.detail).toEqual({ entryKey: ['a'] });
    const messages = await listRunMessages(t, secret, { customerExternalId: 'cust-16035' });
    expect(messages.map((m) => m.body).sort()).toEqual([
      'You viewed a',
      'You viewed a',
      'You viewed b',
    ]);
    expect(sends(messages).map((m) => m.scheduledFor)).toEqual([
      isoOf('2025-01-10T11:00:00.000Z'),
      isoOf('2025-01-10T11:10:00.000Z'),
      isoOf('2025-01-10T12:05:00.000Z'),
    ]);
    expect(await mailsTo(t.smtp, email)).toHaveLength(3);

    // The backtest decides the same way.
    const simulated = await t.ok<any>(
      secret,
      `query($input: SimulateTriggerInput!) {
         simulateTrigger(input: $input) { entered blocked fired byReason }
       }`,
      {
        input: {
          definition: {
            ...BROWSE,
            name: 'browse-per-sku',
            reentry: undefined,
            maxActive: undefined,
            entryKey: ['sku'],
          },
          from: '2025-01-10T00:00:00.000Z',
          to: '2025-01-10T15:00:00.000Z',
        },
      },
    );
    expect(simulated.simulateTrigger).toMatchObject({ entered: 3, blocked: 1, fired: 3 });
    expect(simulated.simulateTrigger.byReason).toMatchObject({ SAME_KEY_OPEN: 1 });
  });

  it('maxActive 1 counts a waiting absence run; a repeat of the same key resets it instead of being blocked', async () => {
    const secret = await tenant('2025-01-10T09:00:00.000Z');
    const triggerId = await createTrigger(t, secret, {
      name: 'cart-max-1',
      event: 'added_to_cart',
      entryKey: ['cartId'],
      unless: { event: 'purchase', within: 'PT2H', matchOn: ['cartId'] },
      maxActive: 1,
      steps: [
        { channel: 'EMAIL', template: { subject: 'Cart', body: '{{ event.properties.cartId }}' } },
      ],
    });
    const email = await customer(secret, 'cust-16040');
    const control = await customer(secret, 'cust-16041');

    await sendAt(secret, 'cust-16040', 'added_to_cart', '2025-01-10T10:00:00.000Z', {
      cartId: 'c-1',
    });
    await sendAt(secret, 'cust-16040', 'added_to_cart', '2025-01-10T10:30:00.000Z', {
      cartId: 'c-2',
    });
    await sendAt(secret, 'cust-16040', 'added_to_cart', '2025-01-10T10:40:00.000Z', {
      cartId: 'c-1',
    });
    await sendAt(secret, 'cust-16041', 'added_to_cart', '2025-01-10T10:30:00.000Z', {
      cartId: 'c-2',
    });
    await t.setClock('2025-01-10T15:00:00.000Z');

    const decisions = await listDecisions(t, secret, 'cust-16040', triggerId);
    expect(decisions.map((d) => [d.outcome, d.reason, isoOf(d.at)])).toEqual([
      ['ENTERED', 'CONDITION_MET', '2025-01-10T10:00:00.000Z'],
      ['BLOCKED', 'ACTIVE_LIMIT', '2025-01-10T10:30:00.000Z'],
      ['RESET', 'SAME_KEY_REENTRY', '2025-01-10T10:40:00.000Z'],
      ['FIRED', 'DEADLINE_PASSED', '2025-01-10T12:40:00.000Z'],
    ]);
    expect(decisions[1].event!.occurredAt).toBe('2025-01-10T10:30:00.000Z');
    expect(decisions[2].detail).toEqual({ moved: true, deadline: '2025-01-10T12:40:00.000Z' });
    const messages = await listRunMessages(t, secret, { customerExternalId: 'cust-16040' });
    expect(sends(messages)).toEqual([sent('2025-01-10T12:40:00.000Z')]);
    expect(messages[0].body).toBe('c-1');
    expect(await mailsTo(t.smtp, email)).toHaveLength(1);

    const controlMessages = await listRunMessages(t, secret, { customerExternalId: 'cust-16041' });
    expect(sends(controlMessages)).toEqual([sent('2025-01-10T12:30:00.000Z')]);
    expect(controlMessages[0].body).toBe('c-2');
    expect(await mailsTo(t.smtp, control)).toHaveLength(1);
  });
  const CART_ONCE_PER_3H = {
    name: 'cart-once-per',
    event: 'added_to_cart',
    entryKey: ['cartId'],
    unless: { event: 'purchase', within: 'PT2H', matchOn: ['cartId'] },
    steps: [
      { channel: 'EMAIL', template: { subject: 'Cart', body: '{{ event.properties.cartId }}' } },
    ],
  };

  it('ONCE counts an earlier run in any state: after a cancelled run the next entry is BLOCKED / REENTRY_NOT_ALLOWED', async () => {
    const secret = await tenant('2025-01-10T09:00:00.000Z');
    const triggerId = await createTrigger(t, secret, {
      ...CART_ONCE_PER_3H,
      name: 'cart-once',
      reentry: { policy: 'ONCE' },
    });
    const email = await customer(secret, 'cust-16050');
    const control = await customer(secret, 'cust-16051');
    await sendAt(secret, 'cust-16050', 'added_to_cart', '2025-01-10T10:00:00.000Z', {
      cartId: 'c-1',
    });
    await sendAt(secret, 'cust-16050', 'purchase', '2025-01-10T10:30:00.000Z', { cartId: 'c-1' });
    await sendAt(secret, 'cust-16050', 'added_to_cart', '2025-01-10T11:00:00.000Z', {
      cartId: 'c-2',
    });
    await sendAt(secret, 'cust-16051', 'added_to_cart', '2025-01-10T11:00:00.000Z', {
      cartId: 'c-2',
    });
    await t.setClock('2025-01-10T18:00:00.000Z');

    const decisions = await listDecisions(t, secret, 'cust-16050', triggerId);
    expect(decisions.map((d) => [d.outcome, d.reason, isoOf(d.at)])).toEqual([
      ['ENTERED', 'CONDITION_MET', '2025-01-10T10:00:00.000Z'],
      ['CANCELLED', 'ABSENCE_VIOLATED', '2025-01-10T10:30:00.000Z'],
      ['BLOCKED', 'REENTRY_NOT_ALLOWED', '2025-01-10T11:00:00.000Z'],
    ]);
    expect(await listRunMessages(t, secret, { customerExternalId: 'cust-16050' })).toEqual([]);
    expect(await mailsTo(t.smtp, email)).toHaveLength(0);
    const controlMessages = await listRunMessages(t, secret, { customerExternalId: 'cust-16051' });
    expect(sends(controlMessages)).toEqual([sent('2025-01-10T13:00:00.000Z')]);
    expect(await mailsTo(t.smtp, control)).toHaveLength(1);
  });

  it("ONCE_PER counts from the latest run's first entry: a same-key reset does not move the period", async () => {
    const secret = await tenant('2025-01-10T09:00:00.000Z');
    const triggerId = await createTrigger(t, secret, {
      ...CART_ONCE_PER_3H,
      reentry: { policy: 'ONCE_PER', period: 'PT3H' },
    });
    await customer(secret, 'cust-16060');
    await sendAt(secret, 'cust-16060', 'added_to_cart', '2025-01-10T10:00:00.000Z', {
      cartId: 'c-1',
    });
    await sendAt(secret, 'cust-16060', 'added_to_cart', '2025-01-10T11:00:00.000Z', {
      cartId: 'c-1',
    });
    await sendAt(secret, 'cust-16060', 'added_to_cart', '2025-01-10T12:59:59.999Z', {
      cartId: 'c-2',
    });
    await sendAt(secret, 'cust-16060', 'added_to_cart', '2025-01-10T13:00:00.000Z', {
      cartId: 'c-3',
    });
    await t.setClock('2025-01-10T18:00:00.000Z');

    const decisions = await listDecisions(t, secret, 'cust-16060', triggerId);
    expect(decisions.map((d) => [d.outcome, d.reason, isoOf(d.at)])).toEqual([
      ['ENTERED', 'CONDITION_MET', '2025-01-10T10:00:00.000Z'],
      ['RESET', 'SAME_KEY_REENTRY', '2025-01-10T11:00:00.000Z'],
      ['BLOCKED', 'REENTRY_NOT_ALLOWED', '2025-01-10T12:59:59.999Z'],
      ['FIRED', 'DEADLINE_PASSED', '2025-01-10T13:00:00.000Z'],
      ['ENTERED', 'CONDITION_MET', '2025-01-10T13:00:00.000Z'],
      ['FIRED', 'DEADLINE_PASSED', '2025-01-10T15:00:00.000Z'],
    ]);
    const messages = await listRunMessages(t, secret, { customerExternalId: 'cust-16060' });
    expect(sends(messages)).toEqual([
      sent('2025-01-10T13:00:00.000Z'),
      sent('2025-01-10T15:00:00.000Z'),
    ]);
    expect(messages.map((m) => m.body).sort()).toEqual(['c-1', 'c-3']);
  });
});
