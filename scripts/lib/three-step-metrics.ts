import type { GraphQLClient } from './graphql-client';
import type { StepFigures, ThreeStepSummary } from './three-step-summary';

/** The counters the replay takes from `triggerMetrics` (the dashboard shows the same). */
export interface MetricsCounts {
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

/** What `triggerMetrics` says about the replayed trigger over the whole replay. */
export interface MetricsFigures {
  /** The range counted (the replay's days, widened to whole UTC days). */
  from: string;
  to: string;
  totals: MetricsCounts;
  steps: Array<{ step: number; channel: string; variant: string | null; counts: MetricsCounts }>;
}

const COUNTS = `eligible entries activationRate sent delivered opened clicked failed suppressed
  suppressedByReason { reason count } conversions conversionRate timeToConvertMedianSeconds
  timeToConvertP90Seconds attributedValue`;

const TRIGGER_METRICS = `query($id: ID!, $from: DateTime!, $to: DateTime!) {
  triggerMetrics(triggerId: $id, from: $from, to: $to, bucket: DAY) {
    from to totals { ${COUNTS} } steps { step channel variant counts { ${COUNTS} } }
  }
}`;

/** Reads `triggerMetrics` for `[fromMs, toMs)` through the public API. */
export async function readTriggerMetrics(
  client: GraphQLClient,
  secret: string,
  triggerId: string,
  fromMs: number,
  toMs: number,
): Promise<MetricsFigures> {
  const data = await client.request<{ triggerMetrics: MetricsFigures }>(
    'triggerMetrics',
    secret,
    TRIGGER_METRICS,
    { id: triggerId, from: new Date(fromMs).toISOString(), to: new Date(toMs).toISOString() },
  );
  return data.triggerMetrics;
}

/**
 * The metrics half of the self-check: `triggerMetrics` must give, per step and in total,
 * exactly the figures the replay counted itself from `messages`, decisions and enrollments —
 * sent, failed, suppressed by reason, opened by a person, runs, conversions (how many, which
 * step they are credited to, the median time to convert).
 */
export function failedMetricsChecks(s: Omit<ThreeStepSummary, 'isMatch'>): string[] {
  const m = s.metrics;
  const checks: Array<[isOk: boolean, failure: string]> = [];
  const expect = (what: string, fromMetrics: unknown, counted: unknown) =>
    checks.push([
      JSON.stringify(fromMetrics) === JSON.stringify(counted),
      `metrics ${what} ${JSON.stringify(fromMetrics)} != counted ${JSON.stringify(counted)}`,
    ]);
  const sum = (pick: (step: StepFigures) => number) => s.steps.reduce((n, x) => n + pick(x), 0);

  expect('entries', m.totals.entries, s.enrollments.total);
  expect(
    'sent',
    m.totals.sent,
    sum((x) => x.sent),
  );
  expect(
    'failed',
    m.totals.failed,
    sum((x) => x.failed),
  );
  expect(
    'opened',
    m.totals.opened,
    sum((x) => x.opened),
  );
  expect('conversions', m.totals.conversions, s.conversions.count);
  expect(
    'median time to convert (s)',
    m.totals.timeToConvertMedianSeconds,
    s.conversions.medianTimeToConvertMs === null
      ? null
      : s.conversions.medianTimeToConvertMs / 1000,
  );
  for (const step of s.steps) {
    const own = m.steps.filter((x) => x.step === step.index);
    const total = (pick: (c: MetricsCounts) => number) =>
      own.reduce((n, x) => n + pick(x.counts), 0);
    const reasons: Record<string, number> = {};
    for (const x of own) {
      for (const r of x.counts.suppressedByReason) {
        reasons[r.reason] = (reasons[r.reason] ?? 0) + r.count;
      }
    }
    const label = `step ${step.index} ${step.channel}`;
    expect(
      `${label} sent`,
      total((c) => c.sent),
      step.sent,
    );
    expect(
      `${label} failed`,
      total((c) => c.failed),
      step.failed,
    );
    expect(
      `${label} opened`,
      total((c) => c.opened),
      step.opened,
    );
    expect(`${label} suppressed by reason`, sorted(reasons), sorted(step.suppressed));
    expect(
      `${label} conversions credited`,
      total((c) => c.conversions),
      s.conversions.creditedByStep[`${step.index} ${step.channel}`] ?? 0,
    );
  }
  return checks.filter(([isOk]) => !isOk).map(([, failure]) => failure);
}

function sorted(counts: Record<string, number>): Array<[string, number]> {
  return Object.entries(counts).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
