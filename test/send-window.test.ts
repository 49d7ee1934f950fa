import fc from 'fast-check';
import { DateTime, IANAZone } from 'luxon';
import { InputProblem } from '../src/errors';
import {
  WEEKDAYS,
  isInsideWindow,
  nextOpening,
  parseSendWindow,
  type SendWindow,
  type SendWindowInput,
} from '../src/engine/time/send-window';

/**
 * Send windows are read on the customer's local calendar and clock. A step due outside is
 * deferred to the next opening, which is itself inside, so it is never deferred twice.
 */

const ms = (iso: string) => Date.parse(iso);
const iso = (value: number) => new Date(value).toISOString();

function opening(window: SendWindow, zone: string, at: string): string {
  return iso(nextOpening(window, zone, ms(at)));
}

function problemOf(input: unknown): { path: string; problem: string } {
  try {
    parseSendWindow(input as SendWindowInput);
  } catch (err) {
    if (err instanceof InputProblem) return { path: err.path, problem: err.problem };
    throw err;
  }
  throw new Error('expected an InputProblem');
}

const weekdays = parseSendWindow({
  days: ['MON', 'TUE', 'WED', 'THU', 'FRI'],
  from: '09:00',
  to: '17:00',
});

describe('send windows', () => {
  describe('C03: Mon–Fri 09:00–17:00 in the customer’s zone, not UTC', () => {
    it('event 1: Friday 16:30 in Los Angeles is inside, sent at once', () => {
      const at = '2025-06-13T23:30:00.000Z';
      expect(isInsideWindow(weekdays, 'America/Los_Angeles', ms(at))).toBe(true);
      expect(opening(weekdays, 'America/Los_Angeles', at)).toBe(at);
    });

    it('event 2: Friday 17:30 in Los Angeles (Saturday UTC) waits for Monday 09:00 PDT', () => {
      const at = '2025-06-14T00:30:00.000Z';
      expect(isInsideWindow(weekdays, 'America/Los_Angeles', ms(at))).toBe(false);
      const result = opening(weekdays, 'America/Los_Angeles', at);
      expect(result).toBe('2025-06-16T16:00:00.000Z');
      // Deferred once: the opening is inside, so asking again does not move it.
      expect(opening(weekdays, 'America/Los_Angeles', result)).toBe(result);
    });

    it('event 3: Monday 10:00 in Auckland (Sunday UTC) is inside, sent at once', () => {
      const at = '2025-06-15T22:00:00.000Z';
      expect(isInsideWindow(weekdays, 'Pacific/Auckland', ms(at))).toBe(true);
      const result = opening(weekdays, 'Pacific/Auckland', at);
      expect(result).toBe(at);
      expect(result).not.toBe('2025-06-16T09:00:00.000Z'); // 21:00 local
    });
  });

  describe('edges', () => {
    const zone = 'America/Los_Angeles';

    it('`to` is exclusive, `from` inclusive', () => {
      expect(isInsideWindow(weekdays, zone, ms('2025-06-13T23:59:59.999Z'))).toBe(true);
      expect(isInsideWindow(weekdays, zone, ms('2025-06-14T00:00:00.000Z'))).toBe(false);
      expect(isInsideWindow(weekdays, zone, ms('2025-06-13T16:00:00.000Z'))).toBe(true);
      expect(isInsideWindow(weekdays, zone, ms('2025-06-13T15:59:59.999Z'))).toBe(false);
      expect(opening(weekdays, zone, '2025-06-13T15:59:59.999Z')).toBe('2025-06-13T16:00:00.000Z');
      expect(opening(weekdays, zone, '2025-06-14T00:00:00.000Z')).toBe('2025-06-16T16:00:00.000Z');
    });

    it('"24:00" runs to the end of the local day', () => {
      const saturdayEvening = parseSendWindow({ days: ['SAT'], from: '20:00', to: '24:00' });
      const berlin = 'Europe/Berlin';
      expect(isInsideWindow(saturdayEvening, berlin, ms('2025-06-14T21:59:59.999Z'))).toBe(true);
      expect(isInsideWindow(saturdayEvening, berlin, ms('2025-06-14T22:00:00.000Z'))).toBe(false);
      expect(opening(saturdayEvening, berlin, '2025-06-14T22:00:00.000Z')).toBe(
        '2025-06-21T18:00:00.000Z',
      );
    });

    it('an all-day window on one weekday opens at local midnight', () => {
      const sunday = parseSendWindow({ days: ['SUN'], from: '00:00', to: '24:00' });
      expect(opening(sunday, 'Asia/Kolkata', '2025-06-12T12:00:00.000Z')).toBe(
        '2025-06-14T18:30:00.000Z',
      );
    });

    it('Kiritimati (+14): Monday morning local is still Sunday in UTC', () => {
      expect(opening(weekdays, 'Pacific/Kiritimati', '2025-06-15T10:00:00.000Z')).toBe(
        '2025-06-15T19:00:00.000Z',
      );
    });
  });

  describe('DST', () => {
    const berlin = 'Europe/Berlin';
    const sundayMidnightCet = '2025-03-29T23:00:00.000Z'; // 2025-03-30 00:00 CET

    it('`from` in the spring-forward gap opens at the first instant after it', () => {
      // 02:00–03:00 does not exist on 2025-03-30 in Berlin; 03:00 CEST is 01:00Z.
      const early = parseSendWindow({ from: '02:00', to: '04:00' });
      expect(opening(early, berlin, sundayMidnightCet)).toBe('2025-03-30T01:00:00.000Z');
      const mid = parseSendWindow({ from: '02:30', to: '03:30' });
      expect(opening(mid, berlin, sundayMidnightCet)).toBe('2025-03-30T01:00:00.000Z');
      // New York: 02:00 EST jumps to 03:00 EDT at 07:00Z.
      expect(opening(mid, 'America/New_York', '2025-03-09T05:00:00.000Z')).toBe(
        '2025-03-09T07:00:00.000Z',
      );
      // Lord Howe moves 30 minutes: 02:00 +10:30 jumps to 02:30 +11 at 15:30Z.
      const lordHowe = parseSendWindow({ from: '02:00', to: '03:00' });
      expect(opening(lordHowe, 'Australia/Lord_Howe', '2025-10-04T13:00:00.000Z')).toBe(
        '2025-10-04T15:30:00.000Z',
      );
    });

    it('a window wholly inside the gap does not open that day', () => {
      const tiny = parseSendWindow({ from: '02:15', to: '02:45' });
      expect(opening(tiny, berlin, sundayMidnightCet)).toBe('2025-03-31T00:15:00.000Z');
      const ny = parseSendWindow({ from: '02:00', to: '03:00' });
      expect(opening(ny, 'America/New_York', '2025-03-09T05:00:00.000Z')).toBe(
        '2025-03-10T06:00:00.000Z',
      );
      const lordHowe = parseSendWindow({ from: '02:00', to: '02:30' });
      expect(opening(lordHowe, 'Australia/Lord_Howe', '2025-10-04T13:00:00.000Z')).toBe(
        '2025-10-05T15:00:00.000Z', // 2025-10-06 02:00 +11
      );
    });

    it('a gap on the only allowed weekday skips to the same weekday after it', () => {
      const tinySunday = parseSendWindow({ days: ['SUN'], from: '02:15', to: '02:45' });
      // From Sunday 2025-03-23 03:00 CET: the 30th is the gap day, so 2025-04-06 02:15 CEST.
      expect(opening(tinySunday, berlin, '2025-03-23T02:00:00.000Z')).toBe(
        '2025-04-06T00:15:00.000Z',
      );
    });

    it('`from` that occurs twice opens at the first occurrence', () => {
      const window = parseSendWindow({ from: '02:30', to: '02:45' });
      // 2025-10-26 01:00 CEST (23:00Z) → 02:30 CEST = 00:30Z, not 02:30 CET = 01:30Z.
      expect(opening(window, berlin, '2025-10-25T23:00:00.000Z')).toBe('2025-10-26T00:30:00.000Z');
      expect(opening(window, berlin, '2025-10-26T00:40:00.000Z')).toBe('2025-10-26T00:40:00.000Z');
      // After the first pass has closed, the clock comes round again the same night.
      expect(opening(window, berlin, '2025-10-26T00:50:00.000Z')).toBe('2025-10-26T01:30:00.000Z');
    });

    it('a clock set back into the window reopens it at the change', () => {
      // New York 2025-11-02: 02:00 EDT (06:00Z) becomes 01:00 EST, back inside 00:30–01:45.
      const window = parseSendWindow({ from: '00:30', to: '01:45' });
      expect(opening(window, 'America/New_York', '2025-11-02T05:50:00.000Z')).toBe(
        '2025-11-02T06:00:00.000Z',
      );
    });

    it('09:00 follows the offset of the day it falls on (Sydney, DST end)', () => {
      const everyDay = parseSendWindow({ from: '09:00', to: '17:00' });
      expect(opening(everyDay, 'Australia/Sydney', '2025-04-05T11:30:00.000Z')).toBe(
        '2025-04-05T23:00:00.000Z',
      );
    });
  });

  it('refuses an unknown zone', () => {
    expect(() => isInsideWindow(weekdays, 'Mars/Olympus', 0)).toThrow(RangeError);
  });
});

describe('parseSendWindow', () => {
  it('defaults to every day and orders days Monday first', () => {
    expect(parseSendWindow({ from: '09:00', to: '17:00' })).toEqual({
      days: [...WEEKDAYS],
      from: '09:00',
      to: '17:00',
      fromMinute: 540,
      toMinute: 1020,
    });
    expect(parseSendWindow({ days: null, from: '09:00', to: '24:00' }).toMinute).toBe(1440);
    expect(parseSendWindow({ days: ['SUN', 'FRI', 'MON'], from: '00:00', to: '00:01' })).toEqual({
      days: ['MON', 'FRI', 'SUN'],
      from: '00:00',
      to: '00:01',
      fromMinute: 0,
      toMinute: 1,
    });
  });

  it.each([
    [{ days: [], from: '09:00', to: '17:00' }, 'days', 'expected at least one of MON'],
    [{ days: 'MON', from: '09:00', to: '17:00' }, 'days', 'expected at least one of MON'],
    [{ days: ['MON', 'Tue'], from: '09:00', to: '17:00' }, 'days.1', '"Tue" is not a weekday'],
    [{ days: ['MON', 'MONDAY'], from: '09:00', to: '17:00' }, 'days.1', 'expected one of MON'],
    [{ days: ['MON', 'MON'], from: '09:00', to: '17:00' }, 'days.1', 'MON is listed twice'],
    [{ days: ['SAT', 7], from: '09:00', to: '17:00' }, 'days.1', '7 is not a weekday'],
    [{ from: '9:00', to: '17:00' }, 'from', '"9:00" is not a time of day; expected HH:MM'],
    [{ from: '24:00', to: '24:00' }, 'from', '"24:00" is not a time of day'],
    [{ from: '09:00', to: '25:00' }, 'to', 'or 24:00 for end of day'],
    [{ from: '09:00', to: '24:01' }, 'to', '"24:01" is not a time of day'],
    [{ from: '09:00' }, 'to', 'undefined is not a time of day'],
    [{ from: '17:00', to: '09:00' }, 'to', 'use two triggers'],
    [{ from: '09:00', to: '09:00' }, 'to', 'must be later than from ("09:00")'],
  ])('%j fails at %s', (input, path, problem) => {
    const found = problemOf(input);
    expect(found.path).toBe(path);
    expect(found.problem).toContain(problem);
  });
});

describe('send window properties', () => {
  const ZONES = [
    'UTC',
    'Europe/Berlin',
    'Europe/London',
    'America/New_York',
    'America/Los_Angeles',
    'America/St_Johns',
    'Australia/Sydney',
    'Australia/Lord_Howe',
    'Asia/Kolkata',
    'Asia/Kathmandu',
    'Pacific/Auckland',
    'Pacific/Chatham',
    'Pacific/Kiritimati',
  ];
  const START = Date.UTC(2024, 0, 1);
  const END = Date.UTC(2027, 0, 1);
  const MINUTE = 60_000;
  const HOUR = 60 * MINUTE;

  /** Each zone's offset changes in 2024–2026 as [zone, first ms of the new offset]. */
  function transitionsOf(zone: string): Array<[string, number]> {
    const found: Array<[string, number]> = [];
    const offset = (t: number) => DateTime.fromMillis(t, { zone }).offset;
    let previous = offset(START);
    for (let t = START; t < END; t += 24 * HOUR) {
      const next = offset(t + 24 * HOUR);
      if (next !== previous) {
        let lo = t;
        let hi = t + 24 * HOUR;
        while (hi - lo > 1000) {
          const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
          if (offset(mid) === previous) lo = mid;
          else hi = mid;
        }
        found.push([zone, hi]);
      }
      previous = next;
    }
    return found;
  }
  const TRANSITIONS = ZONES.flatMap(transitionsOf);

  /** A zone and an instant: anywhere in 2024–2026, or within a day of a DST change. */
  const zoneAndInstant = fc.oneof(
    fc.tuple(fc.constantFrom(...ZONES), fc.integer({ min: START, max: END })),
    fc
      .tuple(fc.constantFrom(...TRANSITIONS), fc.integer({ min: -24 * HOUR, max: 6 * HOUR }))
      .map(([[zone, t], d]): [string, number] => [zone, t + d]),
  );

  const hhmm = (minute: number) =>
    minute === 1440
      ? '24:00'
      : `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;

  /** Windows of any length, often short (a DST gap can swallow those). */
  const windowInput = fc
    .tuple(
      fc.subarray([...WEEKDAYS], { minLength: 1 }),
      fc.integer({ min: 0, max: 1439 }),
      fc.oneof(fc.integer({ min: 1, max: 90 }), fc.integer({ min: 1, max: 1440 })),
    )
    .map(([days, from, length]) => ({
      days,
      from: hhmm(from),
      to: hhmm(Math.min(1440, from + length)),
    }));

  /**
   * An oracle independent of the implementation: luxon's offset, sampled each hour (and each
   * minute within an hour where it changes), then plain arithmetic on the local clock.
   */
  function insideOracle(window: SendWindowInput, zone: string) {
    const tz = IANAZone.create(zone);
    const offsetAt = (t: number) => tz.offset(t) * MINUTE;
    const hourly = new Map<number, number>();
    const offsetAtHour = (hour: number) => {
      if (!hourly.has(hour)) hourly.set(hour, offsetAt(hour));
      return hourly.get(hour)!;
    };
    const offsetOf = (t: number) => {
      const hour = Math.floor(t / HOUR) * HOUR;
      const a = offsetAtHour(hour);
      return a === offsetAtHour(hour + HOUR) ? a : offsetAt(t);
    };
    const from = Number(window.from.slice(0, 2)) * 60 + Number(window.from.slice(3));
    const to = Number(window.to.slice(0, 2)) * 60 + Number(window.to.slice(3));
    const days = window.days ?? [...WEEKDAYS];
    return (t: number) => {
      const local = new Date(t + offsetOf(t));
      const weekday = WEEKDAYS[(local.getUTCDay() + 6) % 7];
      const minuteOfDay = local.getUTCHours() * 60 + local.getUTCMinutes();
      return days.includes(weekday) && minuteOfDay >= from && minuteOfDay < to;
    };
  }

  it('nextOpening: inside, not before `at`, nothing inside earlier, idempotent', () => {
    const seen = { immediate: 0, deferred: 0 };
    fc.assert(
      fc.property(windowInput, zoneAndInstant, (input, [zone, at]) => {
        const window = parseSendWindow(input);
        const inside = insideOracle(input, zone);
        const result = nextOpening(window, zone, at);

        expect(result).toBeGreaterThanOrEqual(at);
        expect(isInsideWindow(window, zone, result)).toBe(true);
        expect(inside(result)).toBe(true);
        expect(nextOpening(window, zone, result)).toBe(result);
        expect(isInsideWindow(window, zone, at)).toBe(inside(at));

        if (result === at) {
          seen.immediate++;
          return;
        }
        seen.deferred++;
        expect(result - at).toBeLessThanOrEqual(15 * 24 * HOUR);
        // Every zone here changes offset on whole minutes, so insideness is constant
        // between UTC minute boundaries: checking `at` and each boundary covers [at, result).
        expect(inside(at)).toBe(false);
        for (let t = Math.ceil(at / MINUTE) * MINUTE; t < result; t += MINUTE) {
          if (inside(t)) throw new Error(`${iso(t)} is inside, before ${iso(result)}`);
        }
      }),
      { numRuns: 400 },
    );
    expect(seen.immediate).toBeGreaterThan(0);
    expect(seen.deferred).toBeGreaterThan(0);
  });

  it('isInsideWindow agrees with the oracle', () => {
    fc.assert(
      fc.property(windowInput, zoneAndInstant, (input, [zone, at]) => {
        const window = parseSendWindow(input);
        expect(isInsideWindow(window, zone, at)).toBe(insideOracle(input, zone)(at));
      }),
      { numRuns: 1000 },
    );
  });
});
