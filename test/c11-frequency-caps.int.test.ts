import { startTestNudge, TestNudge } from './support/harness';
import { createTrigger, identifyWith, listDecisions, track } from './support/scenario';
import {
  ChannelPeers,
  advance,
  consent,
  messagesOf,
  registerPush,
  setTenantSettings,
  startNudgeWithPeers,
  stopPeers,
} from './support/sequences';

/**
 * Field case C11: "≤ 3 marketing messages per 7 days", per customer across journeys and
 * channels, counted when a message takes its slot, over the rolling window (now − 7 d, now].
 * Suppressed and transactional messages do not count; over-cap steps are suppressed or
 * deferred to the first instant a slot frees — never by whole windows.
 */
describe('C11 frequency caps', () => {
  let t: TestNudge;
  let peers: ChannelPeers;

  beforeAll(async () => {
    ({ t, peers } = await startNudgeWithPeers());
  });
  afterAll(async () => {
    await t.stop();
    await stopPeers(peers);
  });

  const journey = (name: string, channel: string, extra: Record<string, unknown> = {}) => ({
    name,
    event: name,
    steps: [
      {
        channel,
        template: { subject: `${name} says hi`, body: `${name}` },
        ...(channel === 'SMS' ? { template: { body: name } } : {}),
      },
    ],
    ...extra,
  });

  async function delta(capPolicy: 'SUPPRESS' | 'DEFER') {
    const { secret } = await t.createTenant(`t-delta-${capPolicy}`);
    await t.setClock('2025-09-01T09:00:00.000Z');
    await setTenantSettings(t, secret, {
      frequencyCaps: [{ purpose: 'MARKETING', max: 3, within: 'P7D' }],
    });
    await createTrigger(t, secret, {
      name: 'J1',
      event: 'J1',
      capPolicy,
      steps: [
        { channel: 'EMAIL', template: { subject: 'J1 one', body: 'one' } },
        { delay: 'P3D', channel: 'EMAIL', template: { subject: 'J1 two', body: 'two' } },
      ],
    });
    await createTrigger(t, secret, journey('J2', 'SMS'));
    await createTrigger(t, secret, journey('J3', 'PUSH'));
    await createTrigger(t, secret, journey('J4', 'EMAIL'));
    await createTrigger(t, secret, {
      name: 'receipt',
      event: 'order_placed',
      steps: [
        {
          channel: 'EMAIL',
          purpose: 'TRANSACTIONAL',
          template: { subject: 'Your receipt', body: 'thanks' },
        },
      ],
    });
    const id = 'cust-11001';
    await identifyWith(t, secret, {
      externalId: id,
      email: `c11-${capPolicy}-${Date.now()}@example.com`,
      phone: '+15551100001',
      timezone: 'UTC',
    });
    await consent(t, secret, 'grantConsent', {
      customerExternalId: id,
      channel: 'SMS',
      purpose: 'MARKETING',
    });
    await registerPush(t, secret, id, peers.push.newSubscription());
    const at = async (iso: string, event: string) => {
      await t.setClock(iso);
      await track(t, secret, { customerExternalId: id, event });
      await advance(t, 'PT0S');
    };
    await at('2025-09-01T10:00:00.000Z', 'J1'); // email 1/3; J1 step 2 due 09-04T10:00
    await at('2025-09-02T10:00:00.000Z', 'J2'); // SMS 2/3
    await at('2025-09-03T10:00:00.000Z', 'J3'); // push 3/3
    await t.setClock('2025-09-04T10:00:00.000Z'); // J1 step 2: over the cap
    await at('2025-09-04T11:00:00.000Z', 'order_placed'); // transactional: exempt
    return { secret, id, at };
  }

  const summary = async (secret: string, id: string) =>
    (await messagesOf(t, secret, id)).map((m) => [
      m.subject ?? m.body,
      m.status,
      m.suppressionReason,
      m.sentAt,
    ]);

  it('suppresses the fourth marketing message, exempts transactional, frees at exactly 7 days', async () => {
    const { secret, id, at } = await delta('SUPPRESS');
    await at('2025-09-08T10:00:00.000Z', 'J4');
    expect(await summary(secret, id)).toEqual([
      ['J1 one', 'SENT', null, '2025-09-01T10:00:00.000Z'],
      ['J2', 'SENT', null, '2025-09-02T10:00:00.000Z'],
      ['J3 says hi', 'SENT', null, '2025-09-03T10:00:00.000Z'],
      [null, 'SUPPRESSED', 'FREQUENCY_CAP', null],
      ['Your receipt', 'SENT', null, '2025-09-04T11:00:00.000Z'],
      // 09-01T10:00 is exactly 7 days old: outside (now − 7 d, now].
      ['J4 says hi', 'SENT', null, '2025-09-08T10:00:00.000Z'],
    ]);
  });

  it('defer: the capped email goes out when the first slot frees, and takes that slot', async () => {
    const { secret, id, at } = await delta('DEFER');
    await at('2025-09-08T10:00:00.000Z', 'J4');
    const messages = await messagesOf(t, secret, id);
    const j1two = messages.find((m) => m.subject === 'J1 two')!;
    expect([j1two.status, j1two.sentAt]).toEqual(['SENT', '2025-09-08T10:00:00.000Z']);
    // FIFO by original due time: the deferred step fired first, so J4 found the cap full.
    const j4 = messages.at(-1)!;
    expect([j4.channel, j4.status, j4.suppressionReason]).toEqual([
      'EMAIL',
      'SUPPRESSED',
      'FREQUENCY_CAP',
    ]);
    expect(messages.filter((m) => m.status === 'SUPPRESSED')).toHaveLength(1);
    const deferred = (await listDecisions(t, secret, id)).filter((d) => d.outcome === 'DEFERRED');
    expect(deferred).toEqual([
      expect.objectContaining({
        reason: 'FREQUENCY_CAP',
        detail: expect.objectContaining({ deferredTo: '2025-09-08T10:00:00.000Z' }),
      }),
    ]);
  });

  it('a per-channel cap counts its channel only; max 0 blocks every marketing send', async () => {
    const { secret } = await t.createTenant('t-delta-sms');
    await t.setClock('2025-09-01T09:00:00.000Z');
    await setTenantSettings(t, secret, {
      frequencyCaps: [{ purpose: 'MARKETING', channel: 'SMS', max: 1, within: 'P1D' }],
    });
    await createTrigger(t, secret, journey('mail', 'EMAIL'));
    await createTrigger(t, secret, journey('text', 'SMS'));
    await identifyWith(t, secret, {
      externalId: 'c',
      email: 'c11-sms@example.com',
      phone: '+15551100002',
    });
    await consent(t, secret, 'grantConsent', {
      customerExternalId: 'c',
      channel: 'SMS',
      purpose: 'MARKETING',
    });
    for (const event of ['mail', 'text', 'text']) {
      await track(t, secret, { customerExternalId: 'c', event });
      await advance(t, 'PT1H');
    }
    expect((await messagesOf(t, secret, 'c')).map((m) => [m.channel, m.status])).toEqual([
      ['EMAIL', 'SENT'],
      ['SMS', 'SENT'],
      ['SMS', 'SUPPRESSED'],
    ]);

    await setTenantSettings(t, secret, {
      frequencyCaps: [{ purpose: 'MARKETING', max: 0, within: 'P1D' }],
    });
    await track(t, secret, { customerExternalId: 'c', event: 'mail' });
    await advance(t, 'PT1H');
    const last = (await messagesOf(t, secret, 'c')).at(-1)!;
    expect([last.channel, last.status, last.suppressionReason]).toEqual([
      'EMAIL',
      'SUPPRESSED',
      'FREQUENCY_CAP',
    ]);
  });
});

/**
 * Two workers (two Nudge instances, separate connection pools) fire the last two due steps of
 * one customer at the same moment while one cap slot is left: exactly one message goes out.
 * Each instance's timer processor is driven directly so both transactions really overlap.
 */
describe('two workers racing for the last cap slot', () => {
  let a: TestNudge;
  let b: TestNudge;

  beforeAll(async () => {
    const prefix = `race${Date.now().toString(36)}`;
    a = await startTestNudge({ prefix });
    b = await startTestNudge({ prefix, smtp: a.smtp });
  });
  afterAll(async () => {
    await b.stop();
    await a.stop();
  });

  it('sends one of the two racing messages and suppresses the other, for every customer', async () => {
    const { tenantId, secret } = await a.createTenant('t-race');
    await a.setClock('2025-09-01T09:00:00.000Z');
    await setTenantSettings(a, secret, {
      frequencyCaps: [{ purpose: 'MARKETING', max: 1, within: 'P7D' }],
    });
    for (const name of ['first', 'second']) {
      await createTrigger(a, secret, {
        name,
        event: 'visit',
        steps: [{ delay: 'PT1H', channel: 'EMAIL', template: { subject: name, body: name } }],
      });
    }
    const customers = ['r1', 'r2', 'r3', 'r4', 'r5'];
    for (const id of customers) {
      await identifyWith(a, secret, { externalId: id, email: `${id}-${Date.now()}@example.com` });
      await track(a, secret, { customerExternalId: id, event: 'visit' });
    }
    const due = Date.parse('2025-09-01T10:00:00.000Z');
    (a.nudge.clock as any).set(due);
    (b.nudge.clock as any).set(due);
    const processorOf = (x: TestNudge) => (x.nudge.timers as any).processor;
    for (const id of customers) {
      const timers = (await a.nudge.db.dataSource.query(
        `SELECT t.id FROM timers t JOIN enrollments e ON e.id = t.enrollment_id
         JOIN customers c ON c.id = e.customer_id
         WHERE t.tenant_id = $1 AND c.external_id = $2 AND t.kind = 'STEP' ORDER BY t.id`,
        [tenantId, id],
      )) as Array<{ id: string }>;
      expect(timers).toHaveLength(2);
      const outcomes = await Promise.all([
        processorOf(a).fire(String(timers[0].id)),
        processorOf(b).fire(String(timers[1].id)),
      ]);
      expect(outcomes).toEqual(['fired', 'fired']);
      const statuses = (await messagesOf(a, secret, id)).map((m) => m.status).sort();
      expect(statuses).toEqual(['SENT', 'SUPPRESSED']);
    }
  });
});
