import fc from 'fast-check';
import { DateTime } from 'luxon';
import { InputProblem } from '../src/errors';
import { atLocalTime, parseLocalTime, type LocalTimeInput } from '../src/engine/time/local-time';

/**
 * Local times ("next calendar day at 09:00 customer-local"): the date is the zone's, and a
 * wall time in a DST gap moves forward by the gap, one in an overlap means the earlier one.
 */

const ms = (iso: string) => Date.parse(iso);
const iso = (value: number) => new Date(value).toISOString();

/** `atLocalTime` from an ISO base, answered as an ISO UTC string. */
function at(base: string, zone: string, input: LocalTimeInput): string {
  return iso(atLocalTime(ms(base), zone, parseLocalTime(input)));
}

function problemOf(input: unknown): { path: string; problem: string } {
  try {
    parseLocalTime(input as LocalTimeInput);
  } catch (err) {
    if (err instanceof InputProblem) return { path: err.path, problem: err.problem };
    throw err;
  }
  throw new Error('expected an InputProblem');
}

describe('atLocalTime', () => {
  describe('C01: next calendar day at 09:00 across midnight and DST end (Australia/Sydney)', () => {
    const nextDayNine = { days: 1, time: '09:00' };

    it('cust-1001 (Saturday 22:30 AEDT) gets Sunday 09:00 AEST', () => {
      const result = at('2025-04-05T11:30:00Z', 'Australia/Sydney', nextDayNine);
      expect(result).toBe('2025-04-05T23:00:00.000Z');
      expect(result).not.toBe('2025-04-05T22:00:00.000Z'); // stale +11: 08:00 local
    });

    it('cust-1002 (Sunday 00:30 AEDT, still Saturday in UTC) gets Monday 09:00 AEST', () => {
      const result = at('2025-04-05T13:30:00Z', 'Australia/Sydney', nextDayNine);
      expect(result).toBe('2025-04-06T23:00:00.000Z');
      expect(result).not.toBe('2025-04-05T23:00:00.000Z'); // "next day" from the UTC date
    });
  });

  describe('spring-forward gap: the wall time moves forward by the gap', () => {
    it.each([
      // zone, base (the day before, noon local), time, expected UTC, expected local
      ['Europe/Berlin', '2025-03-29T11:00:00Z', '02:30', '2025-03-30T01:30:00.000Z', '03:30'],
      ['Europe/Berlin', '2025-03-29T11:00:00Z', '02:00', '2025-03-30T01:00:00.000Z', '03:00'],
      ['Europe/Berlin', '2025-03-29T11:00:00Z', '03:00', '2025-03-30T01:00:00.000Z', '03:00'],
      ['America/New_York', '2025-03-08T17:00:00Z', '02:30', '2025-03-09T07:30:00.000Z', '03:30'],
      ['Australia/Sydney', '2025-10-04T02:00:00Z', '02:30', '2025-10-04T16:30:00.000Z', '03:30'],
      // Lord Howe moves 30 minutes: 02:00 +10:30 → 02:30 +11.
      ['Australia/Lord_Howe', '2025-10-04T01:30:00Z', '02:15', '2025-10-04T15:45:00.000Z', '02:45'],
    ])('%s, %s on the next day', (zone, base, time, expected, local) => {
      const result = at(base, zone, { days: 1, time });
      expect(result).toBe(expected);
      expect(DateTime.fromMillis(ms(result), { zone }).toFormat('HH:mm')).toBe(local);
    });

    it('before the gap on the same day is untouched', () => {
      expect(at('2025-03-29T11:00:00Z', 'Europe/Berlin', { days: 1, time: '01:59' })).toBe(
        '2025-03-30T00:59:00.000Z',
      );
    });
  });

  describe('fall-back overlap: the earlier occurrence', () => {
    it.each([
      // zone, base (the day before), time, expected UTC (first occurrence), the later one
      [
        'Europe/Berlin',
        '2025-10-25T10:00:00Z',
        '02:30',
        '2025-10-26T00:30:00.000Z',
        '2025-10-26T01:30:00.000Z',
      ],
      [
        'America/New_York',
        '2025-11-01T16:00:00Z',
        '01:30',
        '2025-11-02T05:30:00.000Z',
        '2025-11-02T06:30:00.000Z',
      ],
      [
        'Australia/Sydney',
        '2025-04-05T01:00:00Z',
        '02:30',
        '2025-04-05T15:30:00.000Z',
        '2025-04-05T16:30:00.000Z',
      ],
      [
        'Australia/Lord_Howe',
        '2025-04-05T01:00:00Z',
        '01:45',
        '2025-04-05T14:45:00.000Z',
        '2025-04-05T15:15:00.000Z',
      ],
    ])('%s, %s on the next day', (zone, base, time, expected, later) => {
      const result = at(base, zone, { days: 1, time });
      expect(result).toBe(expected);
      expect(result).not.toBe(later);
    });

    it('Berlin 09:00 is 08:00Z before the switch and 07:00Z after', () => {
      expect(at('2025-10-24T12:00:00Z', 'Europe/Berlin', { days: 1, time: '09:00' })).toBe(
        '2025-10-25T07:00:00.000Z',
      );
      expect(at('2025-10-25T12:00:00Z', 'Europe/Berlin', { days: 1, time: '09:00' })).toBe(
        '2025-10-26T08:00:00.000Z',
      );
    });
  });

  describe('days: 0 is the next HH:MM at or after base', () => {
    const zone = 'Europe/Berlin';

    it('later today when the time is still ahead', () => {
      expect(at('2025-06-10T05:00:00Z', zone, { days: 0, time: '09:00' })).toBe(
        '2025-06-10T07:00:00.000Z',
      );
    });

    it('exactly base when base is that time', () => {
      expect(at('2025-06-10T07:00:00Z', zone, { days: 0, time: '09:00' })).toBe(
        '2025-06-10T07:00:00.000Z',
      );
    });

    it('tomorrow when the time has passed', () => {
      expect(at('2025-06-10T07:00:00.001Z', zone, { days: 0, time: '09:00' })).toBe(
        '2025-06-11T07:00:00.000Z',
      );
    });

    it('days defaults to 0', () => {
      expect(at('2025-06-10T05:00:00Z', zone, { time: '09:00' })).toBe('2025-06-10T07:00:00.000Z');
      expect(at('2025-06-10T05:00:00Z', zone, { days: null, time: '09:00' })).toBe(
        '2025-06-10T07:00:00.000Z',
      );
    });

    it('on a fall-back day, a base between the two 02:30s gives the next day', () => {
      // Base 02:10 CET (the second pass); the day's 02:30 means 02:30 CEST, already past.
      expect(at('2025-10-26T01:10:00Z', zone, { days: 0, time: '02:30' })).toBe(
        '2025-10-27T01:30:00.000Z',
      );
    });

    it('after the gap on a spring-forward day, a gap time is the shifted one if still ahead', () => {
      expect(at('2025-03-30T01:10:00Z', zone, { days: 0, time: '02:30' })).toBe(
        '2025-03-30T01:30:00.000Z',
      );
    });
  });

  describe('the date is the zone’s, far from UTC', () => {
    it('Pacific/Kiritimati (+14): Monday 01:00 local is Sunday in UTC', () => {
      // 2025-06-15T11:00Z is Monday 2025-06-16 01:00 in Kiritimati.
      expect(at('2025-06-15T11:00:00Z', 'Pacific/Kiritimati', { days: 1, time: '09:00' })).toBe(
        '2025-06-16T19:00:00.000Z',
      );
    });

    it('Pacific/Apia skipped 2011-12-30: "next day" from the 29th lands on the 31st', () => {
      // Base 2011-12-29 12:00 (-10). The 30th does not exist: its 09:00 is in a 24-hour gap
      // and moves forward by the gap, to 2011-12-31 09:00 (+14).
      expect(at('2011-12-29T22:00:00Z', 'Pacific/Apia', { days: 1, time: '09:00' })).toBe(
        '2011-12-30T19:00:00.000Z',
      );
      expect(at('2011-12-29T22:00:00Z', 'Pacific/Apia', { days: 2, time: '09:00' })).toBe(
        '2011-12-30T19:00:00.000Z',
      );
    });

    it('a year ahead', () => {
      expect(at('2025-01-15T12:00:00Z', 'America/New_York', { days: 366, time: '09:00' })).toBe(
        '2026-01-16T14:00:00.000Z',
      );
    });
  });
});

describe('parseLocalTime', () => {
  it('normalises', () => {
    expect(parseLocalTime({ days: 1, time: '09:00' })).toEqual({
      days: 1,
      time: '09:00',
      minute: 540,
    });
    expect(parseLocalTime({ time: '23:59' })).toEqual({ days: 0, time: '23:59', minute: 1439 });
  });

  it.each([
    [{ days: -1, time: '09:00' }, 'days', 'expected an integer from 0 to 366'],
    [{ days: 367, time: '09:00' }, 'days', 'expected an integer from 0 to 366'],
    [{ days: 1.5, time: '09:00' }, 'days', 'expected an integer from 0 to 366'],
    [{ days: '1', time: '09:00' }, 'days', 'expected an integer from 0 to 366'],
    [{ days: 1, time: '9:00' }, 'time', '"9:00" is not a time of day; expected HH:MM'],
    [{ days: 1, time: '24:00' }, 'time', '"24:00" is not a time of day'],
    [{ days: 1, time: '09:60' }, 'time', '"09:60" is not a time of day'],
    [{ days: 1, time: '09:00:00' }, 'time', '"09:00:00" is not a time of day'],
    [{ days: 1 }, 'time', 'undefined is not a time of day'],
  ])('%j fails at %s', (input, path, problem) => {
    const found = problemOf(input);
    expect(found.path).toBe(path);
    expect(found.problem).toContain(problem);
  });
});

describe('atLocalTime properties', () => {
  const ZONES = [
    'UTC',
    'Europe/Berlin',
    'Europe/London',
    'America/New_York',
    'America/Los_Angeles',
    'America/Sao_Paulo',
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
  const HOUR = 3_600_000;

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

  const hhmm = (minute: number) =>
    `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;

  /**
   * Checks one answer against luxon's reading of the result: the requested local date, and
   * the requested wall time, or (in a gap) that time moved forward by the gap. Returns which
   * case it was.
   */
  function check(zone: string, baseMs: number, days: number, minute: number) {
    const time = hhmm(minute);
    const result = atLocalTime(baseMs, zone, parseLocalTime({ days, time }));
    const base = DateTime.fromMillis(baseMs, { zone });
    const local = DateTime.fromMillis(result, { zone });

    // The requested local date: base's date + days. With days 0, the result is at or after
    // base, and either on base's date or exactly the days-1 answer.
    let date = base.startOf('day').plus({ days }).toISODate()!;
    if (days === 0) {
      expect(result).toBeGreaterThanOrEqual(baseMs);
      if (local.toISODate() !== date) {
        expect(result).toBe(atLocalTime(baseMs, zone, parseLocalTime({ days: 1, time })));
        date = base.startOf('day').plus({ days: 1 }).toISODate()!;
      }
    }
    expect(local.toISODate()).toBe(date);
    expect(local.second).toBe(0);
    expect(local.millisecond).toBe(0);

    const readsWall = (ms: number) => {
      const t = DateTime.fromMillis(ms, { zone });
      return t.toISODate() === date && t.hour * 60 + t.minute === minute;
    };
    const wallMinute = local.hour * 60 + local.minute;
    if (wallMinute !== minute) {
      // In a gap: the requested wall time is on no clock that day, and the result is it
      // moved forward by exactly the gap (new offset minus the one before).
      const before = DateTime.fromMillis(result - 3 * HOUR, { zone }).offset;
      const after = local.offset;
      expect(after).toBeGreaterThan(before);
      expect(wallMinute - minute).toBe(after - before);
      const wallAsUtc = Date.parse(`${date}T00:00:00Z`) + minute * 60_000;
      for (const offset of [before, after]) {
        expect(readsWall(wallAsUtc - offset * 60_000)).toBe(false);
      }
      return 'gap';
    }
    // On the clock: the earlier occurrence, so 30, 60 or 120 minutes before is not it.
    for (const back of [30, 60, 120]) expect(readsWall(result - back * 60_000)).toBe(false);
    return [30, 60].some((ahead) => readsWall(result + ahead * 60_000)) ? 'overlap' : 'plain';
  }

  it('any zone, base and time: requested date and wall time', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        fc.integer({ min: START, max: END }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 0, max: 1439 }),
        (zone, baseMs, days, minute) => {
          check(zone, baseMs, days, minute);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('wall times around each DST change of 2024–2026: gaps shift, overlaps take the first', () => {
    const seen = { gap: 0, overlap: 0, plain: 0 };
    fc.assert(
      fc.property(
        fc.constantFrom(...TRANSITIONS),
        fc.integer({ min: -120, max: 120 }),
        fc.integer({ min: 0, max: 1 }),
        ([zone, changeMs], aroundMinutes, days) => {
          // The change's wall time on the old offset, give or take two hours.
          const before = DateTime.fromMillis(changeMs - 1, { zone });
          const minute = before.hour * 60 + before.minute + 1 + aroundMinutes;
          if (minute < 0 || minute > 1439) return;
          const baseMs = before.startOf('day').minus({ days }).plus({ hours: 12 }).toMillis();
          seen[check(zone, baseMs, days, minute)]++;
        },
      ),
      { numRuns: 400 },
    );
    expect(seen.gap).toBeGreaterThan(10);
    expect(seen.overlap).toBeGreaterThan(10);
  });
});
