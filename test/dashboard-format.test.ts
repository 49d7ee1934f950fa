import {
  changedFields,
  formatDelta,
  formatInterval,
  formatPValue,
  formatRate,
  formatSeconds,
  formatUplift,
  funnelStages,
  type Counts,
} from '../dashboard/src/format';

const ZERO: Counts = {
  eligible: 0,
  entries: 0,
  activationRate: null,
  sent: 0,
  delivered: 0,
  opened: 0,
  clicked: 0,
  failed: 0,
  suppressed: 0,
  suppressedByReason: [],
  conversions: 0,
  conversionRate: null,
  timeToConvertMedianSeconds: null,
  timeToConvertP90Seconds: null,
  attributedValue: 0,
};

describe('dashboard formatting', () => {
  it('builds the funnel in order, each stage against the one it follows', () => {
    const stages = funnelStages({
      ...ZERO,
      eligible: 200,
      entries: 50,
      sent: 120,
      delivered: 100,
      opened: 40,
      clicked: 10,
      conversions: 5,
    });
    expect(stages.map((s) => s.key)).toEqual([
      'eligible',
      'entries',
      'sent',
      'delivered',
      'opened',
      'clicked',
      'conversions',
    ]);
    expect(stages.map((s) => s.rateLabel)).toEqual([
      '',
      '25.0% of eligible',
      '2.40 per entry',
      '83.3% of sent',
      '33.3% of sent',
      '8.3% of sent',
      '10.0% of entries',
    ]);
    expect(stages[0].width).toBe(1);
    expect(stages[1].width).toBe(0.25);
  });

  it('shows a dash, not NaN or Infinity, when there is nothing to divide by', () => {
    const stages = funnelStages(ZERO);
    expect(stages.map((s) => s.rateLabel).slice(1)).toEqual([
      '— of eligible',
      '— per entry',
      '— of sent',
      '— of sent',
      '— of sent',
      '— of entries',
    ]);
    expect(stages.every((s) => s.width === 0)).toBe(true);
    expect(formatRate(null)).toBe('—');
    expect(formatUplift(undefined)).toBe('—');
    expect(formatPValue(Number.NaN)).toBe('—');
    expect(formatInterval(null, 0.1)).toBe('—');
  });

  it('formats experiment statistics with signs and bounds', () => {
    expect(formatUplift(0.125)).toBe('+12.5 pp');
    expect(formatUplift(-0.031)).toBe('−3.1 pp');
    expect(formatUplift(0.0001)).toBe('0.0 pp');
    expect(formatInterval(-0.031, 0.2)).toBe('[−3.1, +20.0] pp');
    expect(formatPValue(0.0004)).toBe('< 0.001');
    expect(formatPValue(0.04567)).toBe('0.046');
  });

  it('says durations in their two largest units', () => {
    expect(formatSeconds(0)).toBe('0s');
    expect(formatSeconds(45)).toBe('45s');
    expect(formatSeconds(725)).toBe('12m 5s');
    expect(formatSeconds(3 * 3600 + 20 * 60 + 9)).toBe('3h 20m');
    expect(formatSeconds(2 * 86400 + 4 * 3600)).toBe('2d 4h');
    expect(formatSeconds(86400 + 30)).toBe('1d 0h');
  });

  it('lists the counts a live update moved, with signed deltas', () => {
    expect(changedFields({ ...ZERO, entries: 2, sent: -1 })).toEqual(['entries', 'sent']);
    expect(changedFields(null)).toEqual([]);
    expect(formatDelta(3)).toBe('+3');
    expect(formatDelta(-1200)).toBe('−1,200');
  });
});
