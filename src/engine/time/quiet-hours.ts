import { InputProblem } from '../../errors';
import {
  DAY_MS,
  MINUTE_MS,
  OffsetTimeline,
  localClock,
  offsetTimeline,
  parseTimeOfDay,
  wallTimeInstants,
} from './local-time';

/**
 * Quiet hours: "no marketing between 21:00 and 08:00 in the customer's zone". A message due
 * inside a quiet period is deferred to the period's end, never suppressed.
 *
 * A quiet period is one stretch of real time per local night: it starts at the instant the
 * zone's clock reads `from` and ends at the next instant it reads `to` (`from` inclusive, `to`
 * exclusive). The DST rule, for `from` and `to` alike:
 *
 * - **Gap** (spring forward): a wall time that does not exist means the first instant after
 *   the gap. In Europe/Berlin on 2025-03-30, `to: "02:30"` ends the period at 03:00 CEST
 *   (01:00Z). A period lying wholly inside the gap (02:10–02:50 that night) is empty.
 * - **Overlap** (fall back): a wall time that exists twice means its first occurrence, as in
 *   `local-time.ts`. In Europe/Berlin on 2025-10-26, `to: "02:30"` ends the period at 02:30
 *   CEST (00:30Z); when the clock is set back and reads 02:00 again, the period does not
 *   resume.
 *
 * Note that the gap rule differs from `atLocalTime`'s (which moves a missing time forward by
 * the gap's length): a quiet period should end as soon as its end time has passed, not an hour
 * later. It is the rule `nextOpening` applies to a send window's `from`.
 */

/** A validated quiet period; it crosses midnight when `fromMinute > toMinute`. */
export interface QuietHours {
  from: string;
  to: string;
  /** `from` as minutes after local midnight. */
  fromMinute: number;
  /** `to` as minutes after local midnight. */
  toMinute: number;
}

/** The untrusted input. */
export interface QuietHoursInput {
  from: unknown;
  to: unknown;
}

/**
 * Validates `{ from, to }`: each `HH:MM` from 00:00 to 23:59, and different. A period may
 * cross midnight (`21:00` to `08:00`). Throws `InputProblem` at `from` or `to`.
 */
export function parseQuietHours(input: QuietHoursInput): QuietHours {
  const fromMinute = parseTimeOfDay(input.from, 'from');
  const toMinute = parseTimeOfDay(input.to, 'to');
  if (fromMinute === toMinute) {
    throw new InputProblem(
      'to',
      `must differ from from ("${String(input.from)}"); quiet hours are a part of the day, ` +
        'e.g. from 21:00 to 08:00',
    );
  }
  return { from: input.from as string, to: input.to as string, fromMinute, toMinute };
}

/**
 * Null when `atMs` lies outside every quiet period in `zone` (an IANA name); otherwise the
 * instant, in epoch milliseconds, at which the period containing it ends. The result is
 * outside quiet hours, so `quietUntil(q, zone, quietUntil(q, zone, t))` is null: a deferred
 * message is never deferred twice. Pure. Throws a `RangeError` for an unknown zone.
 */
export function quietUntil(q: QuietHours, zone: string, atMs: number): number | null {
  const today = localClock(zone, atMs).day;
  // A wide timeline: a period starting two local days back can still be running after a
  // day-long jump (Pacific/Apia skipped 2011-12-30), and clocks set back across midnight
  // revisit the previous local date.
  const timeline = offsetTimeline(zone, (today - 3) * DAY_MS, (today + 4) * DAY_MS);
  let endMs: number | null = null;
  for (let day = today - 2; day <= today + 1; day++) {
    const period = periodStartingOn(q, timeline, day);
    if (period.startMs <= atMs && atMs < period.endMs) {
      endMs = endMs === null ? period.endMs : Math.max(endMs, period.endMs);
    }
  }
  if (endMs === null) return null;
  // Periods of consecutive nights never touch (from ≠ to), but a zone that shifts its clock
  // by hours could make one start where another ends; follow the chain then.
  return quietUntil(q, zone, endMs) ?? endMs;
}

/** The period whose `from` falls on local day `day`, as `[startMs, endMs)`; may be empty. */
function periodStartingOn(
  q: QuietHours,
  timeline: OffsetTimeline,
  day: number,
): { startMs: number; endMs: number } {
  const endDay = q.fromMinute < q.toMinute ? day : day + 1;
  return {
    startMs: instantOf(timeline, day * DAY_MS + q.fromMinute * MINUTE_MS),
    endMs: instantOf(timeline, endDay * DAY_MS + q.toMinute * MINUTE_MS),
  };
}

/**
 * The instant the zone's clock first reads `wallMs` (a wall time written as UTC), or the end
 * of the gap it falls into.
 */
function instantOf(timeline: OffsetTimeline, wallMs: number): number {
  const [first] = wallTimeInstants(timeline, wallMs);
  if (first !== undefined) return first;
  const gap = timeline.changes.find(
    (c) => c.after > c.before && c.at + c.before <= wallMs && wallMs < c.at + c.after,
  );
  if (!gap) throw new Error(`wall time ${wallMs} is neither on the clock nor in a gap`);
  return gap.at;
}
