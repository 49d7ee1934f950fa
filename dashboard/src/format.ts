/**
 * Pure formatting for the dashboard: numbers, rates, durations and the funnel's stages. No DOM
 * here, so it is unit-tested under Node (test/dashboard-format.test.ts).
 */

/** The counts of `MetricCounts` (docs/api.md) that the page shows. */
export interface Counts {
  eligible: number;
  entries: number;
  activationRate: number | null;
  sent: number;
  delivered: number;
  opened: number;
  clicked: number;
  failed: number;
  suppressed: number;
  suppressedByReason: Array<{ reason: string; count: number }>;
  conversions: number;
  conversionRate: number | null;
  timeToConvertMedianSeconds: number | null;
  timeToConvertP90Seconds: number | null;
  attributedValue: number;
}

export type FunnelKey =
  | 'eligible'
  | 'entries'
  | 'sent'
  | 'delivered'
  | 'opened'
  | 'clicked'
  | 'conversions';

export interface FunnelStage {
  key: FunnelKey;
  label: string;
  count: number;
  /** Share of the widest stage, 0..1, for the bar's width. */
  width: number;
  /** How this stage relates to the one it follows, e.g. "42.0% of eligible"; '' for the first. */
  rateLabel: string;
}

const STAGES: Array<{ key: FunnelKey; label: string; of?: FunnelKey; ofLabel?: string }> = [
  { key: 'eligible', label: 'Eligible' },
  { key: 'entries', label: 'Entries', of: 'eligible', ofLabel: 'of eligible' },
  { key: 'sent', label: 'Sent', of: 'entries', ofLabel: 'per entry' },
  { key: 'delivered', label: 'Delivered', of: 'sent', ofLabel: 'of sent' },
  // Opens and clicks against what was sent: an email has no delivery receipt to count from.
  { key: 'opened', label: 'Opened', of: 'sent', ofLabel: 'of sent' },
  { key: 'clicked', label: 'Clicked', of: 'sent', ofLabel: 'of sent' },
  { key: 'conversions', label: 'Conversions', of: 'entries', ofLabel: 'of entries' },
];

/**
 * The funnel eligible → entries → sent → delivered → opened → clicked → conversions; entries
 * against eligible, messages against entries, delivered, opened and clicked against sent,
 * conversions against entries (the contract's conversionRate).
 */
export function funnelStages(counts: Counts): FunnelStage[] {
  const widest = Math.max(1, ...STAGES.map((stage) => counts[stage.key]));
  return STAGES.map((stage) => {
    const count = counts[stage.key];
    let rateLabel = '';
    if (stage.of) {
      const base = counts[stage.of];
      // A sequence sends several messages per entry: "per entry" is a ratio, not a share.
      const value = base === 0 ? null : count / base;
      rateLabel =
        stage.key === 'sent'
          ? `${value === null ? '—' : value.toFixed(2)} ${stage.ofLabel}`
          : `${formatRate(value)} ${stage.ofLabel}`;
    }
    return { key: stage.key, label: stage.label, count, width: count / widest, rateLabel };
  });
}

const COUNT_FORMAT = new Intl.NumberFormat('en-US');
const VALUE_FORMAT = new Intl.NumberFormat('en-US', {
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
});

export function formatCount(value: number): string {
  return COUNT_FORMAT.format(value);
}

export function formatValue(value: number): string {
  return VALUE_FORMAT.format(value);
}

/** A share 0..1 as a percentage with one decimal; null (nothing to divide by) as a dash. */
export function formatRate(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return `${(value * 100).toFixed(1)}%`;
}

/**
 * A difference of two rates (experimentResults' `uplift`: variant rate − control rate) in
 * percentage points with its sign: 0.031 → "+3.1 pp".
 */
export function formatUplift(value: number | null | undefined): string {
  const points = signedPoints(value);
  return points === null ? '—' : `${points} pp`;
}

/** A confidence interval of rate differences in percentage points: "[−3.1, +12.4] pp". */
export function formatInterval(
  low: number | null | undefined,
  high: number | null | undefined,
): string {
  const from = signedPoints(low);
  const to = signedPoints(high);
  return from === null || to === null ? '—' : `[${from}, ${to}] pp`;
}

/** One decimal of percentage points, with a true minus sign; null when not a number. */
function signedPoints(value: number | null | undefined): string | null {
  if (value === null || value === undefined || !Number.isFinite(value)) return null;
  const points = Math.abs(value * 100).toFixed(1);
  if (points === '0.0') return '0.0';
  return value > 0 ? `+${points}` : `−${points}`;
}

export function formatPValue(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (value < 0.001) return '< 0.001';
  return value.toFixed(3);
}

/** Seconds as the two largest units: "45s", "12m 5s", "3h 20m", "2d 4h". */
export function formatSeconds(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  const total = Math.round(value);
  const units: Array<[string, number]> = [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ];
  const parts: string[] = [];
  let rest = total;
  for (const [name, size] of units) {
    const amount = Math.floor(rest / size);
    if (amount > 0 || (parts.length > 0 && parts.length < 2)) parts.push(`${amount}${name}`);
    rest -= amount * size;
    if (parts.length === 2) break;
  }
  return parts.length === 0 ? '0s' : parts.join(' ');
}

/** An instant as "2025-05-06 12:00:00 UTC". */
export function formatInstant(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** The numeric count fields of `change` that moved (a metricsUpdated delta). */
export function changedFields(change: Partial<Counts> | null | undefined): string[] {
  if (!change) return [];
  return Object.entries(change)
    .filter(([, value]) => typeof value === 'number' && value !== 0)
    .map(([key]) => key);
}

/** A signed delta for a badge: "+3", "−1". */
export function formatDelta(value: number): string {
  return value > 0 ? `+${formatCount(value)}` : `−${formatCount(-value)}`;
}
