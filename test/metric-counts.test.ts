import {
  CountsAccumulator,
  countsChange,
  isUnchanged,
  sumChanges,
  zeroCounters,
  zeroCounts,
  type CounterSet,
} from '../src/engine/metrics/metric-counts';
import { widenedRange } from '../src/engine/metrics/metrics.service';

/** Issue #5: the arithmetic on counters — rates, changes, merged changes, range widening. */
const row = (over: Partial<CounterSet>): CounterSet => ({ ...zeroCounters(), ...over });

describe('#5 metric counts', () => {
  it('rates are ratios of the same counters, null when the denominator is 0', () => {
    const acc = new CountsAccumulator();
    expect(acc.toCounts()).toMatchObject({ activationRate: null, conversionRate: null });
    acc.add(row({ eligible: 8, entries: 6 }), '');
    acc.add(row({ conversions: 3 }), '');
    expect(acc.toCounts()).toMatchObject({ activationRate: 0.75, conversionRate: 0.5 });
  });

  it('suppressed by reason sums per reason, largest first, then by name, and skips zeros', () => {
    const acc = new CountsAccumulator();
    acc.add(row({ suppressed: 2 }), 'NO_CONSENT');
    acc.add(row({ suppressed: 3 }), 'FREQUENCY_CAP');
    acc.add(row({ suppressed: 1 }), 'NO_CONSENT');
    acc.add(row({ suppressed: 3 }), 'INVALID_ADDRESS');
    acc.add(row({ suppressed: 1 }), 'GOAL_REACHED');
    acc.add(row({ suppressed: -1 }), 'GOAL_REACHED');
    expect(acc.toCounts().suppressedByReason).toEqual([
      { reason: 'FREQUENCY_CAP', count: 3 },
      { reason: 'INVALID_ADDRESS', count: 3 },
      { reason: 'NO_CONSENT', count: 3 },
    ]);
    expect(acc.toCounts().suppressed).toBe(9);
  });

  it('a change is the counter difference; rates and percentiles are null in it', () => {
    const before = new CountsAccumulator();
    before.add(row({ eligible: 2, entries: 1, suppressed: 1 }), 'NO_CONSENT');
    const after = new CountsAccumulator();
    after.add(row({ eligible: 5, entries: 3, suppressed: 1 }), 'NO_CONSENT');
    after.add(row({ suppressed: 2, attributedValue: 9.5 }), 'FREQUENCY_CAP');
    const change = countsChange(
      before.toCounts(),
      after.toCounts({ medianSeconds: 60, p90Seconds: 90 }),
    );
    expect(change).toMatchObject({
      eligible: 3,
      entries: 2,
      suppressed: 2,
      attributedValue: 9.5,
      suppressedByReason: [{ reason: 'FREQUENCY_CAP', count: 2 }],
      activationRate: null,
      timeToConvertMedianSeconds: null,
    });
    expect(isUnchanged(change)).toBe(false);
    expect(isUnchanged(countsChange(after.toCounts(), after.toCounts()))).toBe(true);
  });

  it('two consecutive changes merge into their sum', () => {
    const a = { ...zeroCounts(), sent: 2, suppressedByReason: [{ reason: 'X', count: 1 }] };
    const b = { ...zeroCounts(), sent: 1, suppressedByReason: [{ reason: 'X', count: 2 }] };
    expect(sumChanges(a, b)).toMatchObject({
      sent: 3,
      suppressedByReason: [{ reason: 'X', count: 3 }],
    });
  });

  it('a range widens outwards to whole UTC buckets and refuses empty or oversized ranges', () => {
    const at = (iso: string) => new Date(iso);
    expect(widenedRange(at('2025-07-08T09:30:00Z'), at('2025-07-08T12:10:00Z'), 'hour')).toEqual({
      from: at('2025-07-08T09:00:00Z'),
      to: at('2025-07-08T13:00:00Z'),
    });
    expect(widenedRange(at('2025-07-08T09:30:00Z'), at('2025-07-09T00:00:00Z'), 'day')).toEqual({
      from: at('2025-07-08T00:00:00Z'),
      to: at('2025-07-09T00:00:00Z'),
    });
    expect(() =>
      widenedRange(at('2025-07-08T10:00:00Z'), at('2025-07-08T10:00:00Z'), 'hour'),
    ).toThrow(expect.objectContaining({ extensions: expect.objectContaining({ field: 'to' }) }));
    expect(() =>
      widenedRange(at('2025-01-01T00:00:00Z'), at('2025-06-01T00:00:00Z'), 'hour'),
    ).toThrow(
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT' }) }),
    );
    expect(() =>
      widenedRange(at('2025-01-01T00:00:00Z'), at('2025-06-01T00:00:00Z'), 'day'),
    ).not.toThrow();
  });
});
