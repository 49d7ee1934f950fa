import {
  CART_WINDOW_MS,
  countAbandonment,
  countExpectedReminders,
  type VisitorEvent,
} from '../scripts/lib/expected-reminders';
import { visitorEmail, visitorIdOf } from '../scripts/lib/nudge-operations';
import { cutBatches } from '../scripts/lib/replay-batches';
import { parseRetailRocketCsv, sortForReplay } from '../scripts/lib/retailrocket-events';

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
