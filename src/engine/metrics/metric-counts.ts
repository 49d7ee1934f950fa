/**
 * The counters of issue #5 and the arithmetic on them. Definitions: docs/metrics.md; the
 * counting itself happens in PostgreSQL (migrations/1765000000000-metrics.ts).
 */

/** The additive counters, as stored per rollup row. */
export interface CounterSet {
  eligible: number;
  entries: number;
  sent: number;
  delivered: number;
  opened: number;
  clicked: number;
  failed: number;
  suppressed: number;
  conversions: number;
  /** Sum of the goal events' numeric `value` property. */
  attributedValue: number;
}

/** Counters plus what is derived from them or computed from the conversion rows. */
export interface MetricCounts extends CounterSet {
  /** Suppressed messages by reason code, largest first, then by name. */
  suppressedByReason: Array<{ reason: string; count: number }>;
  /** entries / eligible; null when eligible = 0. */
  activationRate: number | null;
  /** conversions / entries; null when entries = 0. */
  conversionRate: number | null;
  timeToConvertMedianSeconds: number | null;
  timeToConvertP90Seconds: number | null;
}

/** The additive counters by name, in the order the API lists them. */
export const COUNTER_NAMES = [
  'eligible',
  'entries',
  'sent',
  'delivered',
  'opened',
  'clicked',
  'failed',
  'suppressed',
  'conversions',
  'attributedValue',
] as const;

/** A mutable accumulator: counters and suppressed-by-reason. */
export class CountsAccumulator {
  readonly counters: CounterSet = zeroCounters();
  readonly reasons = new Map<string, number>();

  add(row: CounterSet, reason: string): void {
    for (const name of COUNTER_NAMES) this.counters[name] += row[name];
    if (reason && row.suppressed !== 0) {
      this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + row.suppressed);
    }
  }

  /** The finished counts; percentiles come from the conversion rows (null when none). */
  toCounts(timeToConvert: TimeToConvert | null = null): MetricCounts {
    return withDerived(this.counters, this.reasons, timeToConvert);
  }
}

/** Percentiles of the time from a run's start to its goal event, in seconds. */
export interface TimeToConvert {
  medianSeconds: number | null;
  p90Seconds: number | null;
}

/** Every counter at 0 (a fresh accumulator's start). */
export function zeroCounters(): CounterSet {
  return {
    eligible: 0,
    entries: 0,
    sent: 0,
    delivered: 0,
    opened: 0,
    clicked: 0,
    failed: 0,
    suppressed: 0,
    conversions: 0,
    attributedValue: 0,
  };
}

/** All zeros: the `change` of a first (snapshot) live message. */
export function zeroCounts(): MetricCounts {
  return withDerived(zeroCounters(), new Map(), null);
}

function withDerived(
  counters: CounterSet,
  reasons: ReadonlyMap<string, number>,
  timeToConvert: TimeToConvert | null,
): MetricCounts {
  return {
    ...counters,
    suppressedByReason: sortedReasons(reasons),
    activationRate: ratio(counters.entries, counters.eligible),
    conversionRate: ratio(counters.conversions, counters.entries),
    timeToConvertMedianSeconds: timeToConvert?.medianSeconds ?? null,
    timeToConvertP90Seconds: timeToConvert?.p90Seconds ?? null,
  };
}

function ratio(numerator: number, denominator: number): number | null {
  return denominator === 0 ? null : numerator / denominator;
}

function sortedReasons(reasons: ReadonlyMap<string, number>) {
  return [...reasons]
    .filter(([, count]) => count !== 0)
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1));
}

/**
 * What moved from `before` to `after`: counter differences and the reasons whose count
 * changed. Rates and percentiles are not additive, so the change carries them as null.
 */
export function countsChange(before: MetricCounts, after: MetricCounts): MetricCounts {
  const counters = zeroCounters();
  for (const name of COUNTER_NAMES) counters[name] = after[name] - before[name];
  const reasons = new Map<string, number>();
  for (const { reason, count } of after.suppressedByReason) reasons.set(reason, count);
  for (const { reason, count } of before.suppressedByReason) {
    reasons.set(reason, (reasons.get(reason) ?? 0) - count);
  }
  return {
    ...counters,
    suppressedByReason: sortedReasons(reasons),
    activationRate: null,
    conversionRate: null,
    timeToConvertMedianSeconds: null,
    timeToConvertP90Seconds: null,
  };
}

/** Two consecutive changes as one (for a consumer that fell behind). */
export function sumChanges(first: MetricCounts, second: MetricCounts): MetricCounts {
  const counters = zeroCounters();
  for (const name of COUNTER_NAMES) counters[name] = first[name] + second[name];
  const reasons = new Map<string, number>();
  for (const { reason, count } of [...first.suppressedByReason, ...second.suppressedByReason]) {
    reasons.set(reason, (reasons.get(reason) ?? 0) + count);
  }
  return { ...second, ...counters, suppressedByReason: sortedReasons(reasons) };
}

/** True when no counter moved (the percentiles alone never make a live update). */
export function isUnchanged(change: MetricCounts): boolean {
  return (
    COUNTER_NAMES.every((name) => change[name] === 0) && change.suppressedByReason.length === 0
  );
}
