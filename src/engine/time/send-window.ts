import { InputProblem } from '../../errors';
import {
  DAY_MS,
  MINUTE_MS,
  localClock,
  offsetIn,
  offsetTimeline,
  splitLocal,
  wallTimeInstants,
  weekdayIndex,
  parseTimeOfDay,
} from './local-time';

/**
 * Send windows: "only Mon–Fri, 09:00 to 17:00 in the customer's zone". A window is checked
 * on the zone's local calendar and clock, never on UTC; a step due outside it is deferred to
 * `nextOpening`, which is idempotent, so a deferred step is never deferred a second time.
 */

export const WEEKDAYS = ['MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT', 'SUN'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** A validated window. `to` is exclusive; `toMinute` is 1440 for `"24:00"`. */
export interface SendWindow {
  /** Allowed local weekdays, Monday first, no duplicates. */
  days: Weekday[];
  from: string;
  to: string;
  fromMinute: number;
  toMinute: number;
}

/** The untrusted input; `days` defaults to all seven. */
export interface SendWindowInput {
  days?: string[] | null;
  from: string;
  to: string;
}

/** How many local days `nextOpening` looks ahead before widening its search. */
const LOOKAHEAD_DAYS = 8;
/** Only reached when the window on the sole allowed weekday falls into a DST gap. */
const WIDENED_LOOKAHEAD_DAYS = 15;

/**
 * Validates a window. `from` is `HH:MM` (00:00–23:59), `to` is `HH:MM` or `24:00` (end of
 * day) and must be later than `from`: windows do not cross midnight. `days` lists weekdays
 * as `MON` … `SUN`, each once, at least one; omitted means every day. Throws `InputProblem`
 * at `days`, `days.<i>`, `from` or `to`.
 */
export function parseSendWindow(input: SendWindowInput): SendWindow {
  const days = parseDays(input.days);
  const fromMinute = parseTimeOfDay(input.from, 'from');
  const toMinute =
    input.to === '24:00' ? 24 * 60 : parseTimeOfDay(input.to, 'to', ', or 24:00 for end of day');
  if (fromMinute >= toMinute) {
    throw new InputProblem(
      'to',
      `must be later than from ("${input.from}"); a window cannot cross midnight ` +
        '(for one that does, use two triggers, one window before and one after midnight)',
    );
  }
  return { days, from: input.from, to: input.to, fromMinute, toMinute };
}

/**
 * Whether `atMs` is inside the window in `zone`: its local weekday is allowed and its local
 * time of day is at or after `from` and strictly before `to`.
 */
export function isInsideWindow(window: SendWindow, zone: string, atMs: number): boolean {
  const { day, msOfDay } = localClock(zone, atMs);
  return insideLocal(window, day, msOfDay);
}

/**
 * The earliest instant at or after `atMs` that is inside the window: `atMs` itself when it
 * already is. On a DST day, a `from` that falls into a gap opens at the first instant after
 * the gap; a `from` that occurs twice opens at its first occurrence; a window wholly inside a
 * gap does not open that day. Calling it again on its own result returns that result.
 */
export function nextOpening(window: SendWindow, zone: string, atMs: number): number {
  if (isInsideWindow(window, zone, atMs)) return atMs;
  const found =
    earliestOpening(window, zone, atMs, LOOKAHEAD_DAYS) ??
    earliestOpening(window, zone, atMs, WIDENED_LOOKAHEAD_DAYS);
  if (found === null) throw new Error('send window never opens (no allowed day)');
  return found;
}

/**
 * Where the window can open after `atMs` (which is outside it): at each occurrence of `from`
 * on an allowed local day, or at an offset change that jumps the clock into the window. The
 * earliest of those that is inside is the answer; null if none within `lookaheadDays`.
 */
function earliestOpening(
  window: SendWindow,
  zone: string,
  atMs: number,
  lookaheadDays: number,
): number | null {
  // Instants before `atMs` are never wanted, so the timeline starts there.
  const timeline = offsetTimeline(zone, atMs, atMs + (lookaheadDays + 2) * DAY_MS);
  const insideAt = (ms: number) => {
    const { day, msOfDay } = splitLocal(ms + offsetIn(timeline, ms));
    return insideLocal(window, day, msOfDay);
  };
  const today = localClock(zone, atMs).day;
  let best: number | null = null;
  const consider = (ms: number) => {
    if (ms >= atMs && (best === null || ms < best) && insideAt(ms)) best = ms;
  };
  // From yesterday: a clock set back across midnight re-enters the previous local date.
  for (let day = today - 1; day <= today + lookaheadDays; day++) {
    if (!window.days.includes(WEEKDAYS[weekdayIndex(day)])) continue;
    wallTimeInstants(timeline, day * DAY_MS + window.fromMinute * MINUTE_MS).forEach(consider);
  }
  timeline.changes.forEach((change) => consider(change.at));
  return best;
}

function insideLocal(window: SendWindow, day: number, msOfDay: number): boolean {
  return (
    window.days.includes(WEEKDAYS[weekdayIndex(day)]) &&
    msOfDay >= window.fromMinute * MINUTE_MS &&
    msOfDay < window.toMinute * MINUTE_MS
  );
}

function parseDays(days: SendWindowInput['days']): Weekday[] {
  if (days == null) return [...WEEKDAYS];
  if (!Array.isArray(days) || days.length === 0) {
    throw new InputProblem('days', 'expected at least one of MON, TUE, WED, THU, FRI, SAT, SUN');
  }
  const seen = new Set<Weekday>();
  days.forEach((day, i) => {
    const known = WEEKDAYS.find((w) => w === day);
    if (!known) {
      const shown = typeof day === 'string' ? `"${day.slice(0, 20)}"` : String(day);
      throw new InputProblem(
        `days.${i}`,
        `${shown} is not a weekday; expected one of ${WEEKDAYS.join(', ')}`,
      );
    }
    if (seen.has(known)) throw new InputProblem(`days.${i}`, `${known} is listed twice`);
    seen.add(known);
  });
  return WEEKDAYS.filter((w) => seen.has(w));
}
