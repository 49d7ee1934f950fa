import { IANAZone } from 'luxon';
import { InputProblem } from '../../errors';

/**
 * Local wall-clock time in an IANA zone, with one written rule for the two DST cases:
 *
 * - **Gap** (spring forward): a wall time that does not exist moves forward by the length of
 *   the gap. On 2025-03-30 in Europe/Berlin, 02:30 becomes 03:30 CEST (01:30Z).
 * - **Overlap** (fall back): a wall time that exists twice means the first, earlier occurrence,
 *   still at the pre-transition offset. On 2025-10-26 in Europe/Berlin, 02:30 is 02:30 CEST
 *   (00:30Z), never 02:30 CET (01:30Z).
 *
 * Luxon 3.7 agrees on gaps, but `DateTime.fromObject` resolves an overlap with the offset in
 * force on the day the code runs: run in December, Berlin's 02:30 on 2025-10-26 came out as
 * the later 02:30 CET. So the rule is applied here from the zone's offsets alone, and luxon
 * only supplies `offset(ms)`.
 *
 * Days are counted on the zone's own calendar as "local day numbers": days since 1970-01-01
 * of the local date, so `day * DAY_MS + msOfDay` is the wall time written as if it were UTC.
 */

export const MINUTE_MS = 60_000;
export const DAY_MS = 86_400_000;

/**
 * Offsets are sampled this far apart when looking for changes. Assumes a zone never changes
 * its offset twice within this span, which holds for the tz database's current rules.
 */
const SCAN_STEP_MS = 6 * 3_600_000;

/** How far after `base` a step may be placed, in local calendar days. */
export const MAX_LOCAL_DAYS = 366;

/** A wall time of day: `HH:MM` from 00:00 to 23:59, two digits each. */
const TIME_OF_DAY = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** The untrusted input: `{ days: 1, time: "09:00" }` is "next calendar day at 09:00". */
export interface LocalTimeInput {
  days?: number | null;
  time: string;
}

/** A validated local time: whole calendar days after the base date, and a wall time. */
export interface LocalTime {
  days: number;
  time: string;
  /** `time` as minutes after local midnight. */
  minute: number;
}

/**
 * Validates `{ days, time }`. `days` is an integer from 0 to 366 (default 0); `time` is
 * `HH:MM`. Throws `InputProblem` at `days` or `time`.
 */
export function parseLocalTime(input: LocalTimeInput): LocalTime {
  const days = input.days ?? 0;
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 0 || days > MAX_LOCAL_DAYS) {
    throw new InputProblem('days', `expected an integer from 0 to ${MAX_LOCAL_DAYS}`);
  }
  const minute = parseTimeOfDay(input.time, 'time');
  return { days, time: input.time, minute };
}

/**
 * Parses a wall time `HH:MM` (00:00–23:59) into minutes after midnight. Throws
 * `InputProblem` at `path`; `alternative` names other accepted text in the message.
 */
export function parseTimeOfDay(text: unknown, path: string, alternative = ''): number {
  const match = typeof text === 'string' ? TIME_OF_DAY.exec(text) : null;
  if (!match) {
    const shown = typeof text === 'string' ? `"${text.slice(0, 40)}"` : String(text);
    throw new InputProblem(
      path,
      `${shown} is not a time of day; expected HH:MM from 00:00 to 23:59${alternative}`,
    );
  }
  return Number(match[1]) * 60 + Number(match[2]);
}

/**
 * The instant at wall time `at.time`, `at.days` calendar days after the local date of
 * `baseMs` in `zone` ("next calendar day at 09:00" is `{ days: 1, time: "09:00" }`). The date
 * is taken in the zone, never from UTC, and the offset is the one in force on the target day.
 *
 * `days: 0` means the next `HH:MM` at or after base: when that time today is already past,
 * the same time tomorrow. A wall time in a DST gap moves forward by the gap's length; one
 * that occurs twice means the earlier occurrence (see the top of this file). So on a
 * fall-back day, `days: 0` with a base between the two occurrences gives the next day.
 */
export function atLocalTime(baseMs: number, zone: string, at: LocalTime): number {
  const target = localClock(zone, baseMs).day + at.days;
  const timeline = offsetTimeline(zone, target * DAY_MS - DAY_MS, (target + 3) * DAY_MS);
  const wallMs = at.minute * MINUTE_MS;
  const result = resolveWallTime(timeline, target * DAY_MS + wallMs);
  if (at.days === 0 && result < baseMs) {
    return resolveWallTime(timeline, (target + 1) * DAY_MS + wallMs);
  }
  return result;
}

/** The zone's offset from UTC at `ms`, in milliseconds (positive east of Greenwich). */
export function offsetMs(zone: string, ms: number): number {
  const offsetMinutes = ianaZone(zone).offset(ms);
  return Math.round(offsetMinutes * MINUTE_MS);
}

/** The local day number of `ms` in `zone` and the milliseconds since that local midnight. */
export function localClock(zone: string, ms: number): { day: number; msOfDay: number } {
  return splitLocal(ms + offsetMs(zone, ms));
}

/** Splits a wall time written as UTC milliseconds into local day number and time of day. */
export function splitLocal(wallMs: number): { day: number; msOfDay: number } {
  const day = Math.floor(wallMs / DAY_MS);
  return { day, msOfDay: wallMs - day * DAY_MS };
}

/** Monday-first weekday index (0 = Monday … 6 = Sunday) of a local day number. */
export function weekdayIndex(day: number): number {
  // Day 0, 1970-01-01, was a Thursday (index 3).
  return (((day + 3) % 7) + 7) % 7;
}

/** A change of a zone's UTC offset: from `at` on (inclusive), `after` replaces `before`. */
export interface OffsetChange {
  at: number;
  before: number;
  after: number;
}

/** A zone's offsets over `[fromMs, toMs]`: the one in force at `fromMs`, then each change. */
export interface OffsetTimeline {
  fromMs: number;
  toMs: number;
  first: number;
  changes: OffsetChange[];
}

/**
 * Samples `zone` over `[fromMs, toMs]` and pins every offset change to the millisecond.
 * Throws a `RangeError` for a name that is not an IANA zone (callers check it on input).
 */
export function offsetTimeline(zone: string, fromMs: number, toMs: number): OffsetTimeline {
  const at = (ms: number) => offsetMs(zone, ms);
  const first = at(fromMs);
  const changes: OffsetChange[] = [];
  let prevMs = fromMs;
  let prevOffset = first;
  while (prevMs < toMs) {
    const nextMs = Math.min(prevMs + SCAN_STEP_MS, toMs);
    const nextOffset = at(nextMs);
    if (nextOffset !== prevOffset) {
      // Invariant: at(lo) === prevOffset, at(hi) !== prevOffset.
      let lo = prevMs;
      let hi = nextMs;
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        if (at(mid) === prevOffset) lo = mid;
        else hi = mid;
      }
      changes.push({ at: hi, before: prevOffset, after: at(hi) });
    }
    prevMs = nextMs;
    prevOffset = nextOffset;
  }
  return { fromMs, toMs, first, changes };
}

/** The offset in force at `ms`, which must lie within the timeline. */
export function offsetIn(timeline: OffsetTimeline, ms: number): number {
  let offset = timeline.first;
  for (const change of timeline.changes) {
    if (change.at > ms) break;
    offset = change.after;
  }
  return offset;
}

/**
 * Every instant at which the zone's clock reads `wallMs` (a wall time written as UTC), in
 * order: none in a gap, two in an overlap, otherwise one. The timeline must cover
 * `wallMs ± 15h`.
 */
export function wallTimeInstants(timeline: OffsetTimeline, wallMs: number): number[] {
  const offsets = new Set([timeline.first, ...timeline.changes.map((c) => c.after)]);
  const instants: number[] = [];
  for (const offset of offsets) {
    const candidate = wallMs - offset;
    if (!instants.includes(candidate) && offsetIn(timeline, candidate) === offset) {
      instants.push(candidate);
    }
  }
  return instants.sort((a, b) => a - b);
}

/**
 * The instant a wall time means under the rule of this file: the earlier occurrence when it
 * exists (twice in an overlap), else shifted forward by the gap it falls into.
 */
export function resolveWallTime(timeline: OffsetTimeline, wallMs: number): number {
  const instants = wallTimeInstants(timeline, wallMs);
  if (instants.length > 0) return instants[0];
  const gap = timeline.changes.find(
    (c) => c.after > c.before && c.at + c.before <= wallMs && wallMs < c.at + c.after,
  );
  if (!gap) throw new Error(`wall time ${wallMs} is neither on the clock nor in a gap`);
  // Read with the offset from before the gap, i.e. moved forward by (after - before).
  return wallMs - gap.before;
}

function ianaZone(zone: string): IANAZone {
  const found = IANAZone.create(zone);
  if (!found.isValid) throw new RangeError(`"${zone}" is not an IANA time zone name`);
  return found;
}
