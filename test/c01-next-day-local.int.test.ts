import { startTestNudge, TestNudge } from './support/harness';
import {
  createTrigger,
  identifyWith,
  isoOf,
  listMessages,
  mailsTo,
  track,
  uniqueEmail,
} from './support/scenario';

/**
 * Field case C01: "next calendar day at 09:00 customer-local" around local midnight and the
 * end of DST in Australia/Sydney (2025-04-06 03:00 AEDT +11 → 02:00 AEST +10). The day is
 * taken from the customer's local calendar (never the UTC date) and the offset is the one in
 * force on the target day (never the one at the event). A customer without a zone uses the
 * tenant's. Every instant below is asserted exactly, for scheduledFor and sentAt alike.
 */
describe('C01 next day 09:00 local (Australia/Sydney, DST end)', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  const SYDNEY = 'Australia/Sydney';

  const TIPS_STEP = {
    at: { days: 1, time: '09:00' },
    channel: 'EMAIL',
    template: { subject: 'tips-1', body: 'Tips for your trial' },
  };

  const C01_TRIGGER = { name: 'tips-1', event: 'trial_started', steps: [TIPS_STEP] };

  async function freshTenant(
    trigger: Record<string, unknown> = C01_TRIGGER,
    timezone = 'UTC',
  ): Promise<{ secret: string; triggerId: string }> {
    const { secret } = await t.createTenant('t-koala', timezone);
    await t.setClock('2025-04-04T00:00:00.000Z');
    const triggerId = await createTrigger(t, secret, trigger);
    return { secret, triggerId };
  }

  async function customer(secret: string, externalId: string, timezone?: string): Promise<string> {
    const email = uniqueEmail(externalId);
    await identifyWith(t, secret, { externalId, email, ...(timezone ? { timezone } : {}) });
    return email;
  }

  /** Moves the clock to `at` and tracks `trial_started` that happened at that instant. */
  async function trialStartedAt(secret: string, externalId: string, at: string) {
    await t.setClock(at);
    return track(t, secret, {
      customerExternalId: externalId,
      event: 'trial_started',
      occurredAt: at,
    });
  }

  /** Exactly these messages (by step), each SENT, scheduled and sent at the given instant. */
  async function expectSentAt(secret: string, externalId: string, email: string, dues: string[]) {
    const messages = await listMessages(t, secret, { customerExternalId: externalId });
    const byStep = [...messages].sort((a, b) => a.stepIndex - b.stepIndex);
    expect(byStep.map((m) => m.stepIndex)).toEqual(dues.map((_, i) => i));
    byStep.forEach((message, i) => {
      expect(message).toMatchObject({ channel: 'EMAIL', status: 'SENT', to: email });
      expect(isoOf(message.scheduledFor)).toBe(isoOf(dues[i]));
      expect(isoOf(message.sentAt!)).toBe(isoOf(dues[i]));
    });
    expect(await mailsTo(t.smtp, email)).toHaveLength(dues.length);
  }

  async function expectNothingYet(secret: string, externalId: string, email: string) {
    expect(await listMessages(t, secret, { customerExternalId: externalId })).toHaveLength(0);
    expect(await mailsTo(t.smtp, email)).toHaveLength(0);
  }

  it('C01: cust-1001 (Sat 22:30 +11) gets one email at 2025-04-05T23:00Z, cust-1002 (Sun 00:30 +11) at 2025-04-06T23:00Z', async () => {
    const { secret, triggerId } = await freshTenant();
    const first = await customer(secret, 'cust-1001', SYDNEY);
    const second = await customer(secret, 'cust-1002', SYDNEY);

    await trialStartedAt(secret, 'cust-1001', '2025-04-05T11:30:00.000Z');
    await trialStartedAt(secret, 'cust-1002', '2025-04-05T13:30:00.000Z');

    // Never 2025-04-05T22:00Z for cust-1001 (the stale +11 offset: 08:00 local).
    await t.setClock('2025-04-05T22:00:00.000Z');
    await expectNothingYet(secret, 'cust-1001', first);
    await t.setClock('2025-04-05T22:59:59.999Z');
    await expectNothingYet(secret, 'cust-1001', first);

    // 09:00 AEST on Sunday 2025-04-06. Never 23:00Z for cust-1002 (the UTC date's next day).
    await t.setClock('2025-04-05T23:00:00.000Z');
    await expectSentAt(secret, 'cust-1001', first, ['2025-04-05T23:00:00.000Z']);
    await expectNothingYet(secret, 'cust-1002', second);

    await t.setClock('2025-04-06T22:59:59.999Z');
    await expectNothingYet(secret, 'cust-1002', second);

    // 09:00 AEST on Monday 2025-04-07.
    await t.setClock('2025-04-06T23:00:00.000Z');
    await expectSentAt(secret, 'cust-1002', second, ['2025-04-06T23:00:00.000Z']);

    // Nothing more for anyone, in particular nothing for cust-1001 on local Monday or later.
    await t.setClock('2025-04-30T00:00:00.000Z');
    await expectSentAt(secret, 'cust-1001', first, ['2025-04-05T23:00:00.000Z']);
    await expectSentAt(secret, 'cust-1002', second, ['2025-04-06T23:00:00.000Z']);
    const all = await listMessages(t, secret, { triggerId });
    expect(all).toHaveLength(2);
  });

  it('C01: a customer without a time zone uses the tenant zone; a customer zone overrides it', async () => {
    const sydneyTenant = await freshTenant(C01_TRIGGER, SYDNEY);
    const noZone = await customer(sydneyTenant.secret, 'cust-1001');
    const noZoneSunday = await customer(sydneyTenant.secret, 'cust-1002');
    const utcCustomer = await customer(sydneyTenant.secret, 'cust-1003', 'UTC');
    // Control: the same customer without a zone in a UTC tenant.
    const utcTenant = await freshTenant(C01_TRIGGER, 'UTC');
    const utcTenantCustomer = await customer(utcTenant.secret, 'cust-1001');

    await trialStartedAt(sydneyTenant.secret, 'cust-1001', '2025-04-05T11:30:00.000Z');
    await trialStartedAt(sydneyTenant.secret, 'cust-1003', '2025-04-05T11:30:00.000Z');
    await trialStartedAt(utcTenant.secret, 'cust-1001', '2025-04-05T11:30:00.000Z');
    await trialStartedAt(sydneyTenant.secret, 'cust-1002', '2025-04-05T13:30:00.000Z');
    await t.setClock('2025-04-30T00:00:00.000Z');

    await expectSentAt(sydneyTenant.secret, 'cust-1001', noZone, ['2025-04-05T23:00:00.000Z']);
    await expectSentAt(sydneyTenant.secret, 'cust-1002', noZoneSunday, [
      '2025-04-06T23:00:00.000Z',
    ]);
    // UTC: Saturday 11:30Z → Sunday 09:00Z.
    await expectSentAt(sydneyTenant.secret, 'cust-1003', utcCustomer, ['2025-04-06T09:00:00.000Z']);
    await expectSentAt(utcTenant.secret, 'cust-1001', utcTenantCustomer, [
      '2025-04-06T09:00:00.000Z',
    ]);
  });

  it('C01: a time zone changed before the trigger fires is the one used', async () => {
    const { secret } = await freshTenant();
    const email = await customer(secret, 'cust-1001', 'America/Los_Angeles');
    await identifyWith(t, secret, { externalId: 'cust-1001', timezone: SYDNEY });

    await trialStartedAt(secret, 'cust-1001', '2025-04-05T11:30:00.000Z');
    await t.setClock('2025-04-30T00:00:00.000Z');

    // Los Angeles would have been 2025-04-06 09:00 PDT = 2025-04-06T16:00Z.
    await expectSentAt(secret, 'cust-1001', email, ['2025-04-05T23:00:00.000Z']);
  });

  it('C01: a time zone changed after entry but before the "at" step is scheduled is the one used', async () => {
    // Step 0 two hours after entry; step 1 (next day 09:00 local) is scheduled when step 0 runs.
    const { secret } = await freshTenant({
      name: 'welcome-then-tips',
      event: 'trial_started',
      steps: [
        { delay: 'PT2H', channel: 'EMAIL', template: { subject: 'welcome', body: 'Welcome' } },
        TIPS_STEP,
      ],
    });
    const mover = await customer(secret, 'cust-1001', 'UTC');
    const control = await customer(secret, 'cust-1002', 'UTC');

    await trialStartedAt(secret, 'cust-1001', '2025-04-05T11:30:00.000Z');
    await track(t, secret, {
      customerExternalId: 'cust-1002',
      event: 'trial_started',
      occurredAt: '2025-04-05T11:30:00.000Z',
    });
    await t.setClock('2025-04-05T12:00:00.000Z');
    await identifyWith(t, secret, { externalId: 'cust-1001', timezone: SYDNEY });
    await t.setClock('2025-04-30T00:00:00.000Z');

    // Step 0 at 13:30Z = Sunday 00:30 AEDT → Monday 09:00 AEST = 2025-04-06T23:00Z.
    await expectSentAt(secret, 'cust-1001', mover, [
      '2025-04-05T13:30:00.000Z',
      '2025-04-06T23:00:00.000Z',
    ]);
    // Still UTC: Saturday 13:30Z → Sunday 09:00Z.
    await expectSentAt(secret, 'cust-1002', control, [
      '2025-04-05T13:30:00.000Z',
      '2025-04-06T09:00:00.000Z',
    ]);
  });

  it('C01: a second step with delay PT24H after an "at" step lands exactly 24 h after its due time', async () => {
    const { secret } = await freshTenant({
      name: 'tips-1-and-2',
      event: 'trial_started',
      steps: [
        TIPS_STEP,
        {
          delay: 'PT24H',
          channel: 'EMAIL',
          template: { subject: 'tips-2', body: 'More tips' },
        },
      ],
    });
    const acrossDst = await customer(secret, 'cust-1004', SYDNEY);
    const c01 = await customer(secret, 'cust-1001', SYDNEY);

    // Friday 12:00 AEDT → step 0 Saturday 09:00 AEDT (+11) = 2025-04-04T22:00Z; 24 h later is
    // Sunday 08:00 AEST (+10) = 2025-04-05T22:00Z, not "09:00 local" (23:00Z).
    await trialStartedAt(secret, 'cust-1004', '2025-04-04T01:00:00.000Z');
    await trialStartedAt(secret, 'cust-1001', '2025-04-05T11:30:00.000Z');
    await t.setClock('2025-04-30T00:00:00.000Z');

    await expectSentAt(secret, 'cust-1004', acrossDst, [
      '2025-04-04T22:00:00.000Z',
      '2025-04-05T22:00:00.000Z',
    ]);
    await expectSentAt(secret, 'cust-1001', c01, [
      '2025-04-05T23:00:00.000Z',
      '2025-04-06T23:00:00.000Z',
    ]);
  });

  it('C01: a wall time that occurs twice on the DST-end night means its earlier occurrence (+11)', async () => {
    const { secret } = await freshTenant({
      name: 'night-owl',
      event: 'trial_started',
      steps: [{ ...TIPS_STEP, at: { days: 0, time: '02:30' } }],
    });
    const email = await customer(secret, 'cust-1005', SYDNEY);

    // Saturday 23:00 AEDT → the next 02:30 is Sunday 02:30 AEDT = 2025-04-05T15:30Z, not the
    // repeated 02:30 AEST one hour later (16:30Z).
    await trialStartedAt(secret, 'cust-1005', '2025-04-05T12:00:00.000Z');
    await t.setClock('2025-04-30T00:00:00.000Z');

    await expectSentAt(secret, 'cust-1005', email, ['2025-04-05T15:30:00.000Z']);
  });
});
