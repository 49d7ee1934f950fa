import { startTestNudge, TestNudge } from './support/harness';
import {
  createTrigger,
  identifyWith,
  isoOf,
  listDecisions,
  listMessages,
  mailsTo,
  track,
  uniqueEmail,
} from './support/scenario';

/**
 * Field case C03: a "Mon–Fri 09:00–17:00" send window is read on the customer's local calendar
 * and clock (never UTC), `to` is exclusive, and a step due outside the window is deferred once,
 * to the next opening, with a DEFERRED / SEND_WINDOW decision. A deferral never re-queues
 * itself: exactly one email per run, however far the clock moves on.
 */
describe('C03 weekday send window in the customer zone', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  const LOS_ANGELES = 'America/Los_Angeles';
  const AUCKLAND = 'Pacific/Auckland';
  const WEEKDAYS_9_TO_5 = { days: ['MON', 'TUE', 'WED', 'THU', 'FRI'], from: '09:00', to: '17:00' };
  const FOLLOW_UP = {
    channel: 'EMAIL',
    template: { subject: 'quote-followup', body: 'About your quote' },
  };

  /** The C03 trigger; `reentry` is left at its default (EVERY_TIME). */
  const C03_TRIGGER = {
    name: 'quote-followup',
    event: 'quote_requested',
    sendWindow: WEEKDAYS_9_TO_5,
    steps: [FOLLOW_UP],
  };

  async function freshTenant(
    trigger: Record<string, unknown> = C03_TRIGGER,
  ): Promise<{ secret: string; triggerId: string }> {
    const { secret } = await t.createTenant('t-sequoia');
    await t.setClock('2025-06-13T12:00:00.000Z');
    const triggerId = await createTrigger(t, secret, trigger);
    return { secret, triggerId };
  }

  async function customer(secret: string, externalId: string, timezone: string): Promise<string> {
    const email = uniqueEmail(externalId);
    await identifyWith(t, secret, { externalId, email, timezone });
    return email;
  }

  /** Moves the clock to `at` and tracks `quote_requested` that happened at that instant. */
  async function quoteRequestedAt(secret: string, externalId: string, at: string) {
    await t.setClock(at);
    return track(t, secret, {
      customerExternalId: externalId,
      event: 'quote_requested',
      occurredAt: at,
    });
  }

  /** Exactly these messages, oldest due first, each SENT, scheduled and sent at its instant. */
  async function expectSentAt(secret: string, externalId: string, email: string, dues: string[]) {
    const messages = await listMessages(t, secret, { customerExternalId: externalId });
    const byDue = [...messages].sort(
      (a, b) =>
        Date.parse(a.scheduledFor) - Date.parse(b.scheduledFor) || a.stepIndex - b.stepIndex,
    );
    expect(byDue.map((m) => isoOf(m.scheduledFor))).toEqual(dues.map(isoOf));
    expect(byDue.map((m) => isoOf(m.sentAt!))).toEqual(dues.map(isoOf));
    byDue.forEach((message) =>
      expect(message).toMatchObject({ channel: 'EMAIL', status: 'SENT', to: email }),
    );
    expect(await mailsTo(t.smtp, email)).toHaveLength(dues.length);
  }

  const outcomes = async (secret: string, externalId: string, triggerId: string) =>
    (await listDecisions(t, secret, externalId, triggerId)).map((d) => `${d.outcome}/${d.reason}`);

  it('C03: Friday 16:30 PDT goes out at once; Friday 17:30 PDT waits for Monday 09:00 PDT; Monday 10:00 NZST goes out at once', async () => {
    const { secret, triggerId } = await freshTenant();
    const la = await customer(secret, 'cust-3001', LOS_ANGELES);
    const nz = await customer(secret, 'cust-3002', AUCKLAND);

    // Event 1: Friday 16:30 local, inside the window.
    await quoteRequestedAt(secret, 'cust-3001', '2025-06-13T23:30:00.000Z');
    await expectSentAt(secret, 'cust-3001', la, ['2025-06-13T23:30:00.000Z']);
    expect(await outcomes(secret, 'cust-3001', triggerId)).toEqual(['ENTERED/CONDITION_MET']);

    // Event 2: Friday 17:30 local (Saturday in UTC), outside: deferred to Monday 09:00 PDT.
    await quoteRequestedAt(secret, 'cust-3001', '2025-06-14T00:30:00.000Z');
    await expectSentAt(secret, 'cust-3001', la, ['2025-06-13T23:30:00.000Z']);
    const decisions = await listDecisions(t, secret, 'cust-3001', triggerId);
    expect(decisions.map((d) => `${d.outcome}/${d.reason}`)).toEqual([
      'ENTERED/CONDITION_MET',
      'ENTERED/CONDITION_MET',
      'DEFERRED/SEND_WINDOW',
    ]);
    const [, secondEntry, deferral] = decisions;
    expect(isoOf(deferral.at)).toBe('2025-06-14T00:30:00.000Z');
    expect(deferral.enrollmentId).toBe(secondEntry.enrollmentId);
    expect(deferral.enrollmentId).not.toBe(decisions[0].enrollmentId);
    expect(deferral.detail).toEqual({
      step: 0,
      dueAt: '2025-06-14T00:30:00.000Z',
      deferredTo: '2025-06-16T16:00:00.000Z',
      zone: LOS_ANGELES,
    });

    // Event 3: Monday 10:00 NZST (Sunday in UTC), inside: at once, never 2025-06-16T09:00Z.
    await quoteRequestedAt(secret, 'cust-3002', '2025-06-15T22:00:00.000Z');
    await expectSentAt(secret, 'cust-3002', nz, ['2025-06-15T22:00:00.000Z']);

    await t.setClock('2025-06-16T15:59:59.999Z');
    await expectSentAt(secret, 'cust-3001', la, ['2025-06-13T23:30:00.000Z']);
    await t.setClock('2025-06-16T16:00:00.000Z');
    await expectSentAt(secret, 'cust-3001', la, [
      '2025-06-13T23:30:00.000Z',
      '2025-06-16T16:00:00.000Z',
    ]);

    // Weeks later: still exactly one email per event, and the deferral was decided once.
    await t.setClock('2025-07-31T00:00:00.000Z');
    await expectSentAt(secret, 'cust-3001', la, [
      '2025-06-13T23:30:00.000Z',
      '2025-06-16T16:00:00.000Z',
    ]);
    await expectSentAt(secret, 'cust-3002', nz, ['2025-06-15T22:00:00.000Z']);
    expect(await outcomes(secret, 'cust-3001', triggerId)).toEqual([
      'ENTERED/CONDITION_MET',
      'ENTERED/CONDITION_MET',
      'DEFERRED/SEND_WINDOW',
    ]);
    expect(await outcomes(secret, 'cust-3002', triggerId)).toEqual(['ENTERED/CONDITION_MET']);
    expect(await listMessages(t, secret, { triggerId })).toHaveLength(3);
  });

  it('C03: the window end is exclusive (17:00:00.000 local defers, 16:59:59.999 does not) and its start inclusive', async () => {
    const { secret, triggerId } = await freshTenant();
    const atEnd = await customer(secret, 'cust-3003', LOS_ANGELES);
    const beforeEnd = await customer(secret, 'cust-3004', LOS_ANGELES);
    const atStart = await customer(secret, 'cust-3005', LOS_ANGELES);
    const beforeStart = await customer(secret, 'cust-3006', LOS_ANGELES);

    // Friday 2025-06-13 16:59:59.999 and 17:00:00.000 PDT.
    await quoteRequestedAt(secret, 'cust-3004', '2025-06-13T23:59:59.999Z');
    await quoteRequestedAt(secret, 'cust-3003', '2025-06-14T00:00:00.000Z');
    // Monday 2025-06-16 08:59:59.999 and 09:00:00.000 PDT.
    await quoteRequestedAt(secret, 'cust-3006', '2025-06-16T15:59:59.999Z');
    await quoteRequestedAt(secret, 'cust-3005', '2025-06-16T16:00:00.000Z');
    await t.setClock('2025-07-31T00:00:00.000Z');

    await expectSentAt(secret, 'cust-3004', beforeEnd, ['2025-06-13T23:59:59.999Z']);
    await expectSentAt(secret, 'cust-3003', atEnd, ['2025-06-16T16:00:00.000Z']);
    await expectSentAt(secret, 'cust-3005', atStart, ['2025-06-16T16:00:00.000Z']);
    await expectSentAt(secret, 'cust-3006', beforeStart, ['2025-06-16T16:00:00.000Z']);

    expect(await outcomes(secret, 'cust-3004', triggerId)).toEqual(['ENTERED/CONDITION_MET']);
    expect(await outcomes(secret, 'cust-3005', triggerId)).toEqual(['ENTERED/CONDITION_MET']);
    const [, endDeferral] = await listDecisions(t, secret, 'cust-3003', triggerId);
    expect(endDeferral).toMatchObject({ outcome: 'DEFERRED', reason: 'SEND_WINDOW' });
    expect(endDeferral.detail).toEqual({
      step: 0,
      dueAt: '2025-06-14T00:00:00.000Z',
      deferredTo: '2025-06-16T16:00:00.000Z',
      zone: LOS_ANGELES,
    });
    const [, startDeferral] = await listDecisions(t, secret, 'cust-3006', triggerId);
    expect(startDeferral.detail).toEqual({
      step: 0,
      dueAt: '2025-06-16T15:59:59.999Z',
      deferredTo: '2025-06-16T16:00:00.000Z',
      zone: LOS_ANGELES,
    });
  });

  it("C03: in a two-step sequence, step 2's delay pushing it past 17:00 local defers only step 2", async () => {
    const { secret, triggerId } = await freshTenant({
      ...C03_TRIGGER,
      name: 'quote-followup-twice',
      steps: [
        FOLLOW_UP,
        { ...FOLLOW_UP, delay: 'PT2H', template: { subject: 'quote-reminder', body: 'Still?' } },
      ],
    });
    const late = await customer(secret, 'cust-3007', LOS_ANGELES);
    const early = await customer(secret, 'cust-3008', LOS_ANGELES);

    // Control, Friday 10:00 PDT: both steps inside the window (10:00 and 12:00 PDT).
    await quoteRequestedAt(secret, 'cust-3008', '2025-06-13T17:00:00.000Z');
    // Friday 16:00 PDT: step 1 now; step 2 due 18:00 PDT (01:00Z Saturday) → Monday 09:00 PDT.
    await quoteRequestedAt(secret, 'cust-3007', '2025-06-13T23:00:00.000Z');
    await t.setClock('2025-07-31T00:00:00.000Z');

    await expectSentAt(secret, 'cust-3007', late, [
      '2025-06-13T23:00:00.000Z',
      '2025-06-16T16:00:00.000Z',
    ]);
    await expectSentAt(secret, 'cust-3008', early, [
      '2025-06-13T17:00:00.000Z',
      '2025-06-13T19:00:00.000Z',
    ]);
    const messages = await listMessages(t, secret, { customerExternalId: 'cust-3007' });
    expect(
      messages.map((m) => [m.stepIndex, isoOf(m.scheduledFor)]).sort((a, b) => +a[0] - +b[0]),
    ).toEqual([
      [0, '2025-06-13T23:00:00.000Z'],
      [1, '2025-06-16T16:00:00.000Z'],
    ]);

    const decisions = await listDecisions(t, secret, 'cust-3007', triggerId);
    expect(decisions.map((d) => `${d.outcome}/${d.reason}`)).toEqual([
      'ENTERED/CONDITION_MET',
      'DEFERRED/SEND_WINDOW',
    ]);
    expect(isoOf(decisions[1].at)).toBe('2025-06-13T23:00:00.000Z');
    expect(decisions[1].detail).toEqual({
      step: 1,
      dueAt: '2025-06-14T01:00:00.000Z',
      deferredTo: '2025-06-16T16:00:00.000Z',
      zone: LOS_ANGELES,
    });
    expect(await outcomes(secret, 'cust-3008', triggerId)).toEqual(['ENTERED/CONDITION_MET']);
  });
});
