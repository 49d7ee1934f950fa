/**
 * What the keyed, windowed replay should produce ("addtocart, keyed by itemId, unless a
 * transaction of the same item within 2 h; send only Mon–Fri 09:00–17:00 Berlin time"),
 * computed straight from the events and deliberately independent of the engine: nothing here
 * imports from src/. The local calendar comes from luxon, as any integrator would do it.
 */
import { DateTime } from 'luxon';
import {
  CART_WINDOW_MS,
  countExpectedReminders,
  type AbsenceRuleOptions,
  type ExpectedRun,
  type VisitorEvent,
} from './expected-reminders';

/** An event that names an item (every RetailRocket row does). */
export interface ItemEvent extends VisitorEvent {
  itemId: string;
}

/** A weekly send window: the allowed local weekdays and the local times `[from, to)`. */
export interface WeeklyWindow {
  /** IANA zone the window is read in. */
  zone: string;
  /** ISO weekday numbers as luxon counts them: 1 = Monday … 7 = Sunday. */
  weekdays: readonly number[];
  /** Opening, minutes after local midnight (inclusive). Must not fall into a DST gap. */
  fromMinute: number;
  /** Closing, minutes after local midnight (exclusive); 1440 is the end of the day. */
  toMinute: number;
}

/** The keyed rule: the absence rule per (visitor, item), then the send window. */
export interface KeyedRuleOptions extends AbsenceRuleOptions {
  window: WeeklyWindow;
}

/** One expected run of one visitor and one item. */
export interface ExpectedKeyedRun extends ExpectedRun {
  itemId: string;
  /**
   * When its reminder goes out: the deadline if that lies inside the window, else the
   * window's next opening after it. Null for a cancelled run.
   */
  sendAtMs: number | null;
  /** True when the window moves the reminder off the deadline. */
  isDeferred: boolean;
}

export interface ExpectedKeyedReminders {
  runs: ExpectedKeyedRun[];
  /** Runs that end in a reminder. */
  reminders: number;
  /** Runs that an unless-event of the same item cancels. */
  cancelled: number;
  /** Reminders sent later than their run's deadline because of the window. */
  deferred: number;
}

/** Mon–Fri, 09:00 (inclusive) to 17:00 (exclusive), Europe/Berlin. */
export const CART_SEND_WINDOW: WeeklyWindow = {
  zone: 'Europe/Berlin',
  weekdays: [1, 2, 3, 4, 5],
  fromMinute: 9 * 60,
  toMinute: 17 * 60,
};

const KEYED_CART_RULE: KeyedRuleOptions = {
  entryEvent: 'addtocart',
  unlessEvent: 'transaction',
  windowMs: CART_WINDOW_MS,
  window: CART_SEND_WINDOW,
};

const MINUTE_MS = 60_000;

/**
 * Counts the reminders of "entry keyed by itemId, unless U with the same itemId within W",
 * sent inside a weekly window:
 *
 * - The events are split by (visitor, itemId); within each part, runs and cancellations
 *   follow exactly the rule of `countExpectedReminders` (greedy joining of entries strictly
 *   before `last + W` with no U in `[last, a)`; cancelled by a U in `[last, last + W]`). A U
 *   of another item belongs to another part, so it neither cancels nor splits a run.
 * - A reminded run's reminder goes out at its deadline if that instant is inside the window,
 *   else at the window's next opening (`nextWindowOpening`).
 *
 * Pure; the input is not changed. Runs are listed visitor by visitor, item by item, in the
 * order each (visitor, item) first occurs among the entry and unless events.
 */
export function countExpectedKeyedReminders(
  events: Iterable<ItemEvent>,
  rule: KeyedRuleOptions = KEYED_CART_RULE,
): ExpectedKeyedReminders {
  checkWindow(rule.window);
  const parts = new Map<string, Map<string, ItemEvent[]>>();
  for (const e of events) {
    if (e.event !== rule.entryEvent && e.event !== rule.unlessEvent) continue;
    let byItem = parts.get(e.visitorId);
    if (!byItem) {
      byItem = new Map();
      parts.set(e.visitorId, byItem);
    }
    const part = byItem.get(e.itemId);
    if (part) part.push(e);
    else byItem.set(e.itemId, [e]);
  }

  const runs: ExpectedKeyedRun[] = [];
  for (const byItem of parts.values()) {
    for (const [itemId, part] of byItem) {
      for (const run of countExpectedReminders(part, rule).runs) {
        const sendAtMs = run.isReminded ? nextWindowOpening(rule.window, run.deadlineMs) : null;
        runs.push({
          ...run,
          itemId,
          sendAtMs,
          isDeferred: sendAtMs !== null && sendAtMs !== run.deadlineMs,
        });
      }
    }
  }
  const reminders = runs.filter((run) => run.isReminded).length;
  return {
    runs,
    reminders,
    cancelled: runs.length - reminders,
    deferred: runs.filter((run) => run.isDeferred).length,
  };
}

/**
 * Is `atMs` inside the window: on an allowed local weekday, at a local time of day at or
 * after `from` and strictly before `to` (wall-clock time in the window's zone)?
 */
export function isInsideWindow(window: WeeklyWindow, atMs: number): boolean {
  const local = DateTime.fromMillis(atMs, { zone: window.zone });
  const msOfDay = ((local.hour * 60 + local.minute) * 60 + local.second) * 1000 + local.millisecond;
  return (
    window.weekdays.includes(local.weekday) &&
    msOfDay >= window.fromMinute * MINUTE_MS &&
    msOfDay < window.toMinute * MINUTE_MS
  );
}

/**
 * The earliest instant at or after `atMs` inside the window: `atMs` itself when it is inside,
 * else the `from` wall time of the first allowed local day whose opening is not before
 * `atMs` (today's, if today is allowed and `from` is still ahead). The wall time is turned
 * into an instant with the zone's offset of that day, so across a DST change the opening
 * keeps its local time and its UTC instant moves by an hour.
 */
export function nextWindowOpening(window: WeeklyWindow, atMs: number): number {
  checkWindow(window);
  if (isInsideWindow(window, atMs)) return atMs;
  const local = DateTime.fromMillis(atMs, { zone: window.zone });
  // Calendar arithmetic on the local date alone, so no wall time of the day can shift it.
  const today = DateTime.utc(local.year, local.month, local.day);
  for (let days = 0; days <= 7; days++) {
    const date = today.plus({ days });
    const opening = DateTime.fromObject(
      {
        year: date.year,
        month: date.month,
        day: date.day,
        hour: Math.floor(window.fromMinute / 60),
        minute: window.fromMinute % 60,
      },
      { zone: window.zone },
    );
    if (opening.hour * 60 + opening.minute !== window.fromMinute) {
      throw new Error(`the window's opening falls into a DST gap on ${date.toISODate()}`);
    }
    if (window.weekdays.includes(opening.weekday) && opening.toMillis() >= atMs) {
      return opening.toMillis();
    }
  }
  throw new Error('the send window never opens (no allowed weekday)');
}

function checkWindow(window: WeeklyWindow): void {
  if (!DateTime.now().setZone(window.zone).isValid) {
    throw new Error(`unknown time zone "${window.zone}"`);
  }
  const isDay = (d: number) => Number.isInteger(d) && d >= 1 && d <= 7;
  if (window.weekdays.length === 0 || !window.weekdays.every(isDay)) {
    throw new Error(`weekdays must be 1 (Monday) to 7 (Sunday), at least one`);
  }
  if (
    !Number.isInteger(window.fromMinute) ||
    !Number.isInteger(window.toMinute) ||
    window.fromMinute < 0 ||
    window.toMinute > 24 * 60 ||
    window.fromMinute >= window.toMinute
  ) {
    throw new Error(`need 0 <= fromMinute < toMinute <= 1440, got ${JSON.stringify(window)}`);
  }
}
