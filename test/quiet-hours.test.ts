import fc from 'fast-check';
import { InputProblem } from '../src/errors';
import {
  parseQuietHours,
  quietUntil,
  type QuietHours,
  type QuietHoursInput,
} from '../src/engine/time/quiet-hours';

/**
 * Quiet hours are read on the customer's local clock. A message due inside a quiet period is
 * deferred to the instant the period ends; that instant is outside, so it is never deferred
 * twice.
 */

const ms = (iso: string) => Date.parse(iso);

function until(q: QuietHours, zone: string, at: string): string | null {
  const result = quietUntil(q, zone, ms(at));
  return result === null ? null : new Date(result).toISOString();
}

function problemOf(input: unknown): { path: string; problem: string } {
  try {
    parseQuietHours(input as QuietHoursInput);
  } catch (err) {
    if (err instanceof InputProblem) return { path: err.path, problem: err.problem };
    throw err;
  }
  throw new Error('expected an InputProblem');
}

const night = parseQuietHours({ from: '21:00', to: '08:00' });
const lunch = parseQuietHours({ from: '12:00', to: '14:00' });

describe('quiet hours', () => {
  describe('parseQuietHours', () => {
    it('accepts a period crossing midnight and one within a day', () => {
      expect(night).toEqual({ from: '21:00', to: '08:00', fromMinute: 1260, toMinute: 480 });
      expect(lunch).toEqual({ from: '12:00', to: '14:00', fromMinute: 720, toMinute: 840 });
    });

    it.each([
      [{ from: '9:00', to: '08:00' }, 'from'],
      [{ from: '21:00', to: '24:00' }, 'to'],
      [{ from: '25:00', to: '08:00' }, 'from'],
      [{ from: 2100, to: '08:00' }, 'from'],
      [{ from: '21:00', to: null }, 'to'],
      [{ from: '21:00', to: '08:00:00' }, 'to'],
    ])('%j is refused at %s, saying what is accepted', (input, path) => {
      const found = problemOf(input);
      expect(found.path).toBe(path);
      expect(found.problem).toMatch(/HH:MM/);
    });

    it('refuses from equal to to (no empty or whole-day period)', () => {
      expect(problemOf({ from: '08:00', to: '08:00' }).path).toBe('to');
    });
  });

  describe('a period crossing midnight, 21:00 to 08:00 in Europe/Berlin (summer, UTC+2)', () => {
    const zone = 'Europe/Berlin';

    it('is not quiet just before from, and quiet from exactly from (inclusive)', () => {
      expect(until(night, zone, '2025-06-10T18:59:59.999Z')).toBeNull();
      expect(until(night, zone, '2025-06-10T19:00:00.000Z')).toBe('2025-06-11T06:00:00.000Z');
    });

    it('after midnight the period is still the one that began the evening before', () => {
      expect(until(night, zone, '2025-06-10T23:30:00.000Z')).toBe('2025-06-11T06:00:00.000Z');
      expect(until(night, zone, '2025-06-11T05:59:59.999Z')).toBe('2025-06-11T06:00:00.000Z');
    });

    it('is not quiet at exactly to (exclusive) nor in the afternoon', () => {
      expect(until(night, zone, '2025-06-11T06:00:00.000Z')).toBeNull();
      expect(until(night, zone, '2025-06-11T13:00:00.000Z')).toBeNull();
    });
  });

  describe('a period within one day, 12:00 to 14:00 UTC', () => {
    it('from inclusive, to exclusive', () => {
      expect(until(lunch, 'UTC', '2025-06-10T11:59:59.999Z')).toBeNull();
      expect(until(lunch, 'UTC', '2025-06-10T12:00:00.000Z')).toBe('2025-06-10T14:00:00.000Z');
      expect(until(lunch, 'UTC', '2025-06-10T13:59:59.999Z')).toBe('2025-06-10T14:00:00.000Z');
      expect(until(lunch, 'UTC', '2025-06-10T14:00:00.000Z')).toBeNull();
      expect(until(lunch, 'UTC', '2025-06-10T23:00:00.000Z')).toBeNull();
    });
  });

  describe('Europe/Berlin spring forward, 2025-03-30 (02:00 CET → 03:00 CEST at 01:00Z)', () => {
    const zone = 'Europe/Berlin';

    it('21:00–08:00 ends at 08:00 CEST, an hour shorter in real time', () => {
      expect(until(night, zone, '2025-03-29T20:00:00.000Z')).toBe('2025-03-30T06:00:00.000Z');
      expect(until(night, zone, '2025-03-30T00:59:59.999Z')).toBe('2025-03-30T06:00:00.000Z');
      expect(until(night, zone, '2025-03-30T01:00:00.000Z')).toBe('2025-03-30T06:00:00.000Z');
    });

    it('a to inside the gap (02:30) ends at the first instant after the gap, 03:00 CEST', () => {
      const q = parseQuietHours({ from: '22:00', to: '02:30' });
      expect(until(q, zone, '2025-03-29T22:00:00.000Z')).toBe('2025-03-30T01:00:00.000Z');
      expect(until(q, zone, '2025-03-30T00:59:59.999Z')).toBe('2025-03-30T01:00:00.000Z');
      expect(until(q, zone, '2025-03-30T01:00:00.000Z')).toBeNull();
    });

    it('a from inside the gap (02:30) starts at the first instant after the gap', () => {
      const q = parseQuietHours({ from: '02:30', to: '06:00' });
      expect(until(q, zone, '2025-03-30T00:59:59.999Z')).toBeNull();
      expect(until(q, zone, '2025-03-30T01:00:00.000Z')).toBe('2025-03-30T04:00:00.000Z');
    });

    it('a period wholly inside the gap is empty that night, and normal the next', () => {
      const q = parseQuietHours({ from: '02:10', to: '02:50' });
      expect(until(q, zone, '2025-03-30T00:30:00.000Z')).toBeNull();
      expect(until(q, zone, '2025-03-30T01:00:00.000Z')).toBeNull();
      expect(until(q, zone, '2025-03-31T00:20:00.000Z')).toBe('2025-03-31T00:50:00.000Z');
    });
  });

  describe('Europe/Berlin fall back, 2025-10-26 (03:00 CEST → 02:00 CET at 01:00Z)', () => {
    const zone = 'Europe/Berlin';

    it('21:00–08:00 ends at 08:00 CET, an hour longer in real time', () => {
      expect(until(night, zone, '2025-10-25T19:00:00.000Z')).toBe('2025-10-26T07:00:00.000Z');
      expect(until(night, zone, '2025-10-26T06:59:59.999Z')).toBe('2025-10-26T07:00:00.000Z');
      expect(until(night, zone, '2025-10-26T07:00:00.000Z')).toBeNull();
    });

    it('a to that occurs twice (02:30) ends at its first occurrence and does not resume', () => {
      const q = parseQuietHours({ from: '22:00', to: '02:30' });
      expect(until(q, zone, '2025-10-25T20:00:00.000Z')).toBe('2025-10-26T00:30:00.000Z');
      expect(until(q, zone, '2025-10-26T00:30:00.000Z')).toBeNull();
      // 02:15 CET, the second time the clock reads 02:15: the period is over.
      expect(until(q, zone, '2025-10-26T01:15:00.000Z')).toBeNull();
    });

    it('a from that occurs twice (02:30) starts at its first occurrence', () => {
      const q = parseQuietHours({ from: '02:30', to: '06:00' });
      expect(until(q, zone, '2025-10-26T00:29:59.999Z')).toBeNull();
      expect(until(q, zone, '2025-10-26T00:30:00.000Z')).toBe('2025-10-26T05:00:00.000Z');
      expect(until(q, zone, '2025-10-26T01:15:00.000Z')).toBe('2025-10-26T05:00:00.000Z');
    });
  });

  describe('zones with odd offsets', () => {
    it('Asia/Kolkata (UTC+05:30)', () => {
      const zone = 'Asia/Kolkata';
      expect(until(night, zone, '2025-06-10T15:29:59.999Z')).toBeNull();
      expect(until(night, zone, '2025-06-10T15:30:00.000Z')).toBe('2025-06-11T02:30:00.000Z');
      expect(until(night, zone, '2025-06-11T02:30:00.000Z')).toBeNull();
    });

    it('Pacific/Chatham (UTC+12:45 in winter)', () => {
      const zone = 'Pacific/Chatham';
      expect(until(night, zone, '2025-06-10T08:14:59.999Z')).toBeNull();
      expect(until(night, zone, '2025-06-10T08:15:00.000Z')).toBe('2025-06-10T19:15:00.000Z');
    });

    it('Pacific/Chatham spring forward 2025-09-28 (02:45 → 03:45): a to of 03:00 ends at 03:45', () => {
      const q = parseQuietHours({ from: '22:00', to: '03:00' });
      const zone = 'Pacific/Chatham';
      expect(until(q, zone, '2025-09-27T09:15:00.000Z')).toBe('2025-09-27T14:00:00.000Z');
      expect(until(q, zone, '2025-09-27T13:59:59.999Z')).toBe('2025-09-27T14:00:00.000Z');
      expect(until(q, zone, '2025-09-27T14:00:00.000Z')).toBeNull();
    });
  });

  describe('properties', () => {
    const zones = [
      'UTC',
      'Europe/Berlin',
      'America/New_York',
      'Asia/Kolkata',
      'Pacific/Chatham',
      'Australia/Lord_Howe',
      'America/Santiago',
    ];
    const minute = fc.integer({ min: 0, max: 1439 });
    const hhmm = (m: number) =>
      `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`;
    const instant = fc.integer({
      min: ms('2024-01-01T00:00:00Z'),
      max: ms('2026-12-31T00:00:00Z'),
    });

    it('the end lies after the instant, within a day and a bit, and is itself not quiet', () => {
      fc.assert(
        fc.property(minute, minute, fc.constantFrom(...zones), instant, (from, to, zone, atMs) => {
          fc.pre(from !== to);
          const q = parseQuietHours({ from: hhmm(from), to: hhmm(to) });
          const end = quietUntil(q, zone, atMs);
          if (end === null) return;
          expect(end).toBeGreaterThan(atMs);
          expect(end - atMs).toBeLessThanOrEqual(26 * 3_600_000);
          expect(quietUntil(q, zone, end)).toBeNull();
        }),
        { numRuns: 300 },
      );
    });
  });
});
