import {
  CART_WINDOW_MS,
  countAbandonment,
  countExpectedReminders,
  type VisitorEvent,
} from '../scripts/lib/expected-reminders';
import {
  CART_SEND_WINDOW,
  countExpectedKeyedReminders,
  nextWindowOpening,
  type ItemEvent,
} from '../scripts/lib/expected-keyed-reminders';
import { visitorEmail, visitorIdOf } from '../scripts/lib/nudge-operations';
import { cutBatches } from '../scripts/lib/replay-batches';
import {
  KEYED_WINDOWED_TRIGGER,
  VARIANTS,
  replayVariant,
  replayVariantName,
} from '../scripts/lib/replay-variants';
import { parseRetailRocketCsv, sortForReplay } from '../scripts/lib/retailrocket-events';
import {
  OPEN_AFTER_MS,
  THREE_STEP_TRIGGER,
  afterQuietHours,
  flowDueTimesOf,
  isOpenedByPerson,
  itemOfSubject,
  openStopsOf,
  syntheticContact,
} from '../scripts/lib/three-step-flow';
import { failedFlowChecks, type ThreeStepSummary } from '../scripts/lib/three-step-summary';

const W = CART_WINDOW_MS;
const T0 = Date.UTC(2015, 5, 1, 12);
const add = (ms: number, visitorId = 'v1'): VisitorEvent => ({
  visitorId,
  event: 'addtocart',
  timestampMs: ms,
});
const buy = (ms: number, visitorId = 'v1'): VisitorEvent => ({
  visitorId,
  event: 'transaction',
  timestampMs: ms,
});
const view = (ms: number, visitorId = 'v1'): VisitorEvent => ({
  visitorId,
  event: 'view',
  timestampMs: ms,
});

describe('replay: expected cart reminders', () => {
  it('reminds a lone add-to-cart once', () => {
    expect(countExpectedReminders([view(T0 - 1), add(T0)])).toMatchObject({
      reminders: 1,
      cancelled: 0,
    });
  });

  it('cancels on a transaction exactly at last + 2 h (window end inclusive)', () => {
    expect(countExpectedReminders([add(T0), buy(T0 + W)])).toMatchObject({
      reminders: 0,
      cancelled: 1,
    });
  });

  it('does not cancel on a transaction at last + 2 h + 1 ms', () => {
    expect(countExpectedReminders([add(T0), buy(T0 + W + 1)])).toMatchObject({
      reminders: 1,
      cancelled: 0,
    });
  });

  it('cancels on a transaction at the same instant as the last add (window start inclusive)', () => {
    expect(countExpectedReminders([add(T0), buy(T0)])).toMatchObject({
      reminders: 0,
      cancelled: 1,
    });
  });

  it('starts a new run on a re-add at exactly last + 2 h', () => {
    const result = countExpectedReminders([add(T0), add(T0 + W)]);
    expect(result.runs.map((r) => [r.lastEntryMs, r.entries])).toEqual([
      [T0, 1],
      [T0 + W, 1],
    ]);
    expect(result.reminders).toBe(2);
  });

  it('joins a re-add 1 ms before the deadline and moves the window with it', () => {
    const result = countExpectedReminders([add(T0), add(T0 + W - 1), buy(T0 + W + 1)]);
    expect(result.runs).toHaveLength(1);
    expect(result.runs[0]).toMatchObject({ firstEntryMs: T0, lastEntryMs: T0 + W - 1, entries: 2 });
    expect(result.reminders).toBe(0);
  });

  it('splits runs at a transaction between two adds', () => {
    const result = countExpectedReminders([add(T0), buy(T0 + 60_000), add(T0 + 120_000)]);
    expect(result.runs.map((r) => r.isReminded)).toEqual([false, true]);
    expect(result).toMatchObject({ reminders: 1, cancelled: 1 });
  });

  it('joins an add at the instant of a transaction, whatever their file order; the run is cancelled', () => {
    // The engine, if it stores the transaction first, cancels the first run and opens a second
    // one that the same transaction cancels at its deadline: two runs, but no reminder either.
    for (const events of [
      [add(T0), add(T0 + 60_000), buy(T0 + 60_000)],
      [add(T0), buy(T0 + 60_000), add(T0 + 60_000)],
    ]) {
      const result = countExpectedReminders(events);
      expect(result.runs).toHaveLength(1);
      expect(result).toMatchObject({ reminders: 0, cancelled: 1 });
    }
  });

  it("ignores other visitors' transactions and does not depend on input order", () => {
    const events = [buy(T0 + 1000, 'v2'), add(T0 + 5000, 'v2'), add(T0, 'v1'), add(T0 + 10, 'v2')];
    const result = countExpectedReminders(events);
    expect(result.runs.map((r) => [r.visitorId, r.entries, r.isReminded])).toEqual([
      ['v2', 1, false],
      ['v2', 1, true],
      ['v1', 1, true],
    ]);
  });

  it('counts the README figures per add-to-cart event, not per run', () => {
    // v1's first add is abandoned by itself, but it shares a run with the second add, whose
    // window the transaction falls into: the README counts v1, the trigger sends v1 nothing.
    const events = [
      add(T0),
      add(T0 + W - 1),
      buy(T0 + W + 1),
      add(T0, 'v2'),
      buy(T0 + W + 1, 'v2'),
    ];
    expect(countAbandonment(events)).toEqual({
      entryEvents: 3,
      abandonedEntryEvents: 2,
      visitorsWithEntry: 2,
      visitorsWithAbandonedEntry: 2,
    });
    expect(countExpectedReminders(events)).toMatchObject({ reminders: 1, cancelled: 1 });
  });
});

describe('replay: expected keyed, windowed cart reminders', () => {
  // Instants written as Berlin wall time (CEST is UTC+2 in summer 2015, CET UTC+1 in winter).
  const CEST = (iso: string) => Date.parse(`${iso}+02:00`);
  const CET = (iso: string) => Date.parse(`${iso}+01:00`);
  const MONDAY = CEST('2015-06-01T12:00:00'); // inside the window: nothing is deferred
  const item = (event: string, ms: number, itemId: string, visitorId = 'v1'): ItemEvent => ({
    visitorId,
    event,
    timestampMs: ms,
    itemId,
  });
  const addItem = (ms: number, itemId: string, visitorId?: string) =>
    item('addtocart', ms, itemId, visitorId);
  const buyItem = (ms: number, itemId: string, visitorId?: string) =>
    item('transaction', ms, itemId, visitorId);
  /** One add-to-cart whose deadline is `deadlineMs`: its expected send instant. */
  const sendAtOf = (deadlineMs: number) =>
    countExpectedKeyedReminders([addItem(deadlineMs - W, 'i1')]).runs[0].sendAtMs;

  it('does not cancel on a transaction of another item, which the basic rule would', () => {
    const events = [addItem(MONDAY, 'A'), buyItem(MONDAY + 60_000, 'B')];
    expect(countExpectedKeyedReminders(events)).toMatchObject({ reminders: 1, cancelled: 0 });
    expect(countExpectedReminders(events)).toMatchObject({ reminders: 0, cancelled: 1 });
  });

  it('cancels on a transaction of the same item, window ends inclusive', () => {
    for (const buyMs of [MONDAY, MONDAY + W]) {
      const result = countExpectedKeyedReminders([addItem(MONDAY, 'A'), buyItem(buyMs, 'A')]);
      expect(result).toMatchObject({ reminders: 0, cancelled: 1, deferred: 0 });
      expect(result.runs[0].sendAtMs).toBeNull();
    }
    const late = countExpectedKeyedReminders([addItem(MONDAY, 'A'), buyItem(MONDAY + W + 1, 'A')]);
    expect(late).toMatchObject({ reminders: 1, cancelled: 0 });
  });

  it('keeps one run per item: other items neither join nor split it', () => {
    const result = countExpectedKeyedReminders([
      addItem(MONDAY, 'A'),
      addItem(MONDAY + 1000, 'B'),
      buyItem(MONDAY + 2000, 'B'), // splits nothing in A's run, cancels B's
      addItem(MONDAY + 3000, 'A'), // joins A's run and moves its deadline
      addItem(MONDAY + 3000, 'A', 'v2'), // another visitor: a run of its own
    ]);
    expect(
      result.runs.map((r) => [r.visitorId, r.itemId, r.entries, r.isReminded, r.sendAtMs]),
    ).toEqual([
      ['v1', 'A', 2, true, MONDAY + 3000 + W],
      ['v1', 'B', 1, false, null],
      ['v2', 'A', 1, true, MONDAY + 3000 + W],
    ]);
    expect(result).toMatchObject({ reminders: 2, cancelled: 1, deferred: 0 });
  });

  it('applies the greedy reset rule within an item: a transaction of it splits the runs', () => {
    const result = countExpectedKeyedReminders([
      addItem(MONDAY, 'A'),
      buyItem(MONDAY + 60_000, 'A'),
      addItem(MONDAY + 120_000, 'A'),
    ]);
    expect(result.runs.map((r) => [r.entries, r.isReminded])).toEqual([
      [1, false],
      [1, true],
    ]);
  });

  it('sends at a Friday 16:59 deadline, and defers a 17:00 one to Monday 09:00', () => {
    expect(sendAtOf(CEST('2015-06-05T16:59:00'))).toBe(CEST('2015-06-05T16:59:00'));
    expect(sendAtOf(CEST('2015-06-05T16:59:59.999'))).toBe(CEST('2015-06-05T16:59:59.999'));
    expect(sendAtOf(CEST('2015-06-05T17:00:00'))).toBe(CEST('2015-06-08T09:00:00'));
    const result = countExpectedKeyedReminders([
      addItem(CEST('2015-06-05T14:59:00'), 'A'),
      addItem(CEST('2015-06-05T15:00:00'), 'B'),
    ]);
    expect(result.runs.map((r) => r.isDeferred)).toEqual([false, true]);
    expect(result).toMatchObject({ reminders: 2, deferred: 1 });
  });

  it('defers a Saturday deadline to Monday 09:00, and opens at 09:00 inclusive', () => {
    expect(sendAtOf(CEST('2015-06-06T12:00:00'))).toBe(Date.UTC(2015, 5, 8, 7));
    expect(sendAtOf(CEST('2015-06-09T07:00:00'))).toBe(CEST('2015-06-09T09:00:00'));
    expect(sendAtOf(CEST('2015-06-09T08:59:59.999'))).toBe(CEST('2015-06-09T09:00:00'));
    expect(sendAtOf(CEST('2015-06-09T09:00:00'))).toBe(CEST('2015-06-09T09:00:00'));
    expect(sendAtOf(CEST('2015-06-09T23:30:00'))).toBe(CEST('2015-06-10T09:00:00'));
  });

  it('keeps 09:00 local across a DST weekend: the UTC instant moves by an hour', () => {
    // Clocks went forward on Sunday 29 March 2015 and back on Sunday 25 October 2015.
    expect(sendAtOf(CET('2015-03-28T10:00:00'))).toBe(Date.UTC(2015, 2, 30, 7));
    expect(sendAtOf(CEST('2015-10-23T18:00:00'))).toBe(Date.UTC(2015, 9, 26, 8));
    // A deadline inside the repeated hour of the night of 25 October is still a Sunday.
    expect(sendAtOf(Date.UTC(2015, 9, 25, 0, 30))).toBe(Date.UTC(2015, 9, 26, 8));
    expect(sendAtOf(Date.UTC(2015, 9, 25, 1, 30))).toBe(Date.UTC(2015, 9, 26, 8));
  });

  it('refuses a window whose opening falls into a DST gap', () => {
    const night = { ...CART_SEND_WINDOW, weekdays: [7], fromMinute: 2 * 60 + 30 };
    expect(() => nextWindowOpening(night, Date.UTC(2015, 2, 28, 12))).toThrow('DST gap');
  });

  it("describes the same window to the API as the expectation's", () => {
    const days = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'];
    const hhmm = (minute: number) =>
      `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;
    expect(KEYED_WINDOWED_TRIGGER.sendWindow).toEqual({
      days: CART_SEND_WINDOW.weekdays.map((d) => days[d - 1]),
      from: hhmm(CART_SEND_WINDOW.fromMinute),
      to: hhmm(CART_SEND_WINDOW.toMinute),
    });
    expect(VARIANTS['keyed-windowed'].tenantTimezone).toBe(CART_SEND_WINDOW.zone);
    expect(KEYED_WINDOWED_TRIGGER).toMatchObject({
      entryKey: ['itemId'],
      unless: { event: 'transaction', within: 'PT2H', matchOn: ['itemId'] },
    });
    expect(replayVariant('basic').trigger).not.toHaveProperty('sendWindow');
    expect(() => replayVariant('windowed')).toThrow('basic, keyed-windowed');
  });

  it('cuts batches before the deferred send time too, not only before the deadline', () => {
    const fridayAdd = CEST('2015-06-05T16:00:00'); // deadline 18:00, sent Monday 09:00
    const events = [
      { timestampMs: fridayAdd, event: 'addtocart' },
      { timestampMs: fridayAdd + W, event: 'view' }, // at the deadline: same batch
      { timestampMs: CEST('2015-06-06T10:00:00'), event: 'view' }, // after it: cut
      { timestampMs: CEST('2015-06-08T09:00:00'), event: 'view' }, // at the send time
      { timestampMs: CEST('2015-06-08T09:00:01'), event: 'view' }, // after it: cut
    ];
    const limits = { maxEvents: 1000, maxSpanMs: 7 * 24 * 3_600_000 };
    const cut = (deadlineOf: (typeof VARIANTS)['basic']['dueTimesOf']) =>
      cutBatches(events, { ...limits, deadlineOf }).map((b) => b.length);
    expect(cut(VARIANTS['keyed-windowed'].dueTimesOf)).toEqual([2, 2, 1]);
    expect(cut(VARIANTS.basic.dueTimesOf)).toEqual([2, 3]);
  });
});

describe('replay: batches', () => {
  const at = (...times: number[]) => times.map((timestampMs) => ({ timestampMs, event: 'view' }));

  it('cuts when a batch would span more than the limit, not at exactly the limit', () => {
    const batches = cutBatches(at(0, 900_000, 900_001, 1_800_001, 1_800_002), {
      maxEvents: 500,
      maxSpanMs: 900_000,
    });
    expect(batches.map((b) => b.map((e) => e.timestampMs))).toEqual([
      [0, 900_000],
      [900_001, 1_800_001],
      [1_800_002],
    ]);
  });

  it('cuts at the event limit and keeps every event once, in order', () => {
    const batches = cutBatches(at(1, 1, 1, 1, 1), { maxEvents: 2, maxSpanMs: 900_000 });
    expect(batches.map((b) => b.length)).toEqual([2, 2, 1]);
  });

  it('cuts before the first event after a deadline opened earlier, not at the deadline itself', () => {
    const events = [
      { timestampMs: 0, event: 'addtocart' },
      { timestampMs: 50, event: 'view' },
      { timestampMs: 100, event: 'view' },
      { timestampMs: 101, event: 'view' },
      { timestampMs: 300, event: 'view' },
    ];
    const deadlineOf = (e: { timestampMs: number; event: string }) =>
      e.event === 'addtocart' ? e.timestampMs + 100 : null;
    const batches = cutBatches(events, { maxEvents: 1000, maxSpanMs: 10_000, deadlineOf });
    expect(batches.map((b) => b.map((e) => e.timestampMs))).toEqual([
      [0, 50, 100],
      [101, 300],
    ]);
  });

  it('refuses unsorted events', () => {
    expect(() => cutBatches(at(2, 1))).toThrow('sorted');
  });
});

describe('replay: RetailRocket CSV', () => {
  const header = 'timestamp,visitorid,event,itemid,transactionid,datetime';

  it('parses rows, keeps equal rows equal, and sorts by time then file order', () => {
    const text = [
      header,
      '2000,7,transaction,42,8693.0,x',
      '1000,7,addtocart,42,,x',
      '2000,8,view,43,,x',
      '1000,7,addtocart,42,,x',
      '',
    ].join('\r\n');
    const events = parseRetailRocketCsv(text);
    expect(events[0]).toMatchObject({
      timestampMs: 2000,
      visitorId: '7',
      event: 'transaction',
      transactionId: '8693',
    });
    expect(events[1].rowHash).toBe(events[3].rowHash);
    expect(events[1].rowHash).not.toBe(events[2].rowHash);
    expect(sortForReplay(events).map((e) => e.rowIndex)).toEqual([1, 3, 0, 2]);
  });

  it('names the line of a bad row', () => {
    expect(() => parseRetailRocketCsv(`${header}\n1000,7,view,1,,x\nsoon,7,view,1,,x\n`)).toThrow(
      'line 3',
    );
    expect(() => parseRetailRocketCsv('a,b\n')).toThrow('line 1');
  });
});

describe('replay: visitor addresses', () => {
  it('reads the visitor id back from the address the replay gave it, and only from that', () => {
    expect(visitorIdOf(visitorEmail('1134473'))).toBe('1134473');
    expect(visitorIdOf('someone@example.com')).toBeNull();
    expect(visitorIdOf(null)).toBeNull();
  });
});

describe('replay: three-step flow', () => {
  const ids = Array.from({ length: 2000 }, (_, i) => String(1000 + i * 617));
  const MIN = 60_000;
  const H = 60 * MIN;

  it('gives each visitor the same contact data every time, covering every row of the rules', () => {
    const contacts = ids.map(syntheticContact);
    expect(ids.map(syntheticContact)).toEqual(contacts);
    expect(contacts.every((c) => c.email === visitorEmail(c.visitorId))).toBe(true);
    const phones = contacts.flatMap((c) => (c.phone ? [c.phone] : []));
    expect(phones.every((p) => /^\+[1-9]\d{6,14}$/.test(p))).toBe(true);
    expect(new Set(phones).size).toBe(phones.length);
    const rows = new Set(contacts.map((c) => `${c.phone ? 'phone' : 'no phone'} ${c.sms}`));
    expect([...rows].sort()).toEqual([
      'no phone granted',
      'no phone none',
      'phone granted',
      'phone none',
      'phone revoked',
    ]);
    const share = (n: number) => n / contacts.length;
    expect(share(phones.length)).toBeCloseTo(0.7, 1);
    expect(share(contacts.filter((c) => c.hasPush).length)).toBeCloseTo(0.5, 1);
    expect(share(ids.filter((id) => isOpenedByPerson(id, '7')).length)).toBeCloseTo(0.4, 1);
  });

  it('ends quiet hours at 08:00 Berlin: 21:00 is inside, 08:00 is not', () => {
    const berlin = (iso: string) => Date.parse(`${iso}+02:00`); // CEST in June
    expect(afterQuietHours(berlin('2015-06-01T20:59:59'))).toBe(berlin('2015-06-01T20:59:59'));
    expect(afterQuietHours(berlin('2015-06-01T21:00:00'))).toBe(berlin('2015-06-02T08:00:00'));
    expect(afterQuietHours(berlin('2015-06-02T07:59:59'))).toBe(berlin('2015-06-02T08:00:00'));
    expect(afterQuietHours(berlin('2015-06-02T08:00:00'))).toBe(berlin('2015-06-02T08:00:00'));
  });

  it('cuts batches before every step and the open; stops the clock only for opened emails', () => {
    const t = Date.parse('2015-06-01T10:00:00Z'); // 12:00 in Berlin: no quiet hours involved
    expect(flowDueTimesOf({ timestampMs: t, event: 'view' })).toBeNull();
    expect([...flowDueTimesOf({ timestampMs: t, event: 'addtocart' })!].sort()).toEqual(
      [t + 30 * MIN, t + 30 * MIN + OPEN_AFTER_MS, t + 30 * MIN + 24 * H, t + 48 * H].sort(),
    );
    const opened = ids.find((id) => isOpenedByPerson(id, '7'))!;
    const unopened = ids.find((id) => !isOpenedByPerson(id, '7'))!;
    const add = (visitorId: string) => ({
      timestampMs: t,
      event: 'addtocart',
      visitorId,
      itemId: '7',
    });
    expect(openStopsOf(add(opened))).toEqual([t + 30 * MIN, t + 30 * MIN + OPEN_AFTER_MS]);
    expect(openStopsOf(add(unopened))).toEqual([]);
  });

  it('reads the item back from the subject the email step renders', () => {
    const subject = THREE_STEP_TRIGGER.steps[0].template.subject!;
    expect(itemOfSubject(subject.replace('{{ event.properties.itemId }}', '461686'))).toBe(
      '461686',
    );
    expect(itemOfSubject('Still thinking about item 5?')).toBeNull();
  });

  it('fails its self-check when a peer received other than what a step sent', () => {
    const step = (index: number, channel: string, sent: number, peerReceived = sent) => ({
      index,
      channel,
      when: '',
      sent,
      peerReceived,
      skippedByCondition: 0,
      suppressed: {},
      failed: 0,
      pending: 0,
      deferredByQuietHours: 0,
      opened: 0,
    });
    const counts = (sent: number) => ({
      entries: 7,
      sent,
      failed: 0,
      opened: 0,
      conversions: 0,
      timeToConvertMedianSeconds: null,
      suppressedByReason: [],
    });
    const summary = (smsPeer: number, metricsSmsSent = 3) =>
      ({
        steps: [step(0, 'EMAIL', 5), step(1, 'SMS', 3, smsPeer), step(2, 'PUSH', 2)],
        peers: { smtpMails: 5, smsMessages: smsPeer, pushDeliveries: 2, otherTenants: 0 },
        opens: { chosen: 0, pixelsFetched: 0 },
        enrollments: { total: 7, byState: {} },
        conversions: { count: 0, medianTimeToConvertMs: null, creditedByStep: {} },
        metrics: {
          totals: counts(7 + metricsSmsSent),
          steps: [
            { step: 0, channel: 'EMAIL', variant: null, counts: counts(5) },
            { step: 1, channel: 'SMS', variant: null, counts: counts(metricsSmsSent) },
            { step: 2, channel: 'PUSH', variant: null, counts: counts(2) },
          ],
        },
      }) as unknown as ThreeStepSummary;
    expect(failedFlowChecks(summary(3))).toEqual([]);
    expect(failedFlowChecks(summary(4))).toEqual([
      'step 1 SMS: sent 3 != received by the peer 4',
      'SMS peer messages 4 != SMS sent 3',
    ]);
    // #5: the replay's own count and triggerMetrics must agree.
    expect(failedFlowChecks(summary(3, 2))).toEqual([
      'metrics sent 9 != counted 10',
      'metrics step 1 SMS sent 2 != counted 3',
    ]);
  });

  it('is a variant name, but not a reminder variant', () => {
    expect(replayVariantName('three-step')).toBe('three-step');
    expect(() => replayVariant('three-step')).toThrow('runThreeStepReplay');
  });
});
