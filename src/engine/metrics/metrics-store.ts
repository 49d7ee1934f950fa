import { Tx, rows } from '../../platform/database';
import type { CounterSet, TimeToConvert } from './metric-counts';

/** Rollup granularity of a read: the stored hours, or UTC days. */
export type BucketUnit = 'hour' | 'day';

/** One aggregated slice of the rollup (rollup rows plus not yet compacted deltas). */
export interface CountsRow extends CounterSet {
  triggerId: string;
  /** Start of the bucket; null when the read is not bucketed. */
  bucket: Date | null;
  /** -1: counted for the run (eligible, entries, uncredited conversions). */
  stepIndex: number;
  /** '' when `stepIndex` is -1. */
  channel: string;
  /** '' when the message had no variant. */
  variant: string;
  /** The suppression reason of suppressed messages, '' otherwise. */
  reason: string;
}

/** Which slice of the conversions a percentile row describes. */
export type PercentileScope = 'all' | 'trigger' | 'bucket' | 'step';

export interface PercentileRow extends TimeToConvert {
  scope: PercentileScope;
  triggerId: string | null;
  bucket: Date | null;
  stepIndex: number | null;
  channel: string | null;
  variant: string | null;
}

/** A half-open instant range; `null` ends are unbounded. */
export interface InstantRange {
  from: Date | null;
  to: Date | null;
}

const COUNTER_COLUMNS = `eligible, entries, sent, delivered, opened, clicked, failed, suppressed,
  conversions, value`;

interface RawCountsRow {
  trigger_id: string;
  bucket: Date | null;
  step_index: number;
  channel: string;
  variant: string;
  reason: string;
  eligible: number;
  entries: number;
  sent: number;
  delivered: number;
  opened: number;
  clicked: number;
  failed: number;
  suppressed: number;
  conversions: number;
  value: number;
}

/**
 * Sums the rollup and the pending deltas in one statement (one snapshot, so a concurrent
 * compaction is seen either wholly before or wholly after), grouped by trigger, bucket (when
 * `unit` is given), step, channel, variant and suppression reason. `triggerIds` null: every
 * trigger of the tenant. Runs in the caller's tenant transaction.
 */
export async function readCounts(
  tx: Tx,
  tenantId: string,
  triggerIds: readonly string[] | null,
  range: InstantRange,
  unit: BucketUnit | null,
): Promise<CountsRow[]> {
  const where = `tenant_id = $1 AND ($2::uuid[] IS NULL OR trigger_id = ANY($2::uuid[]))
      AND ($3::timestamptz IS NULL OR bucket_start >= $3)
      AND ($4::timestamptz IS NULL OR bucket_start < $4)`;
  const found = await rows<RawCountsRow>(
    tx,
    `SELECT trigger_id,
       CASE WHEN $5::text IS NULL THEN NULL ELSE date_trunc($5::text, bucket_start, 'UTC') END
         AS bucket,
       step_index, channel, variant, reason,
       sum(eligible)::float8 AS eligible, sum(entries)::float8 AS entries,
       sum(sent)::float8 AS sent, sum(delivered)::float8 AS delivered,
       sum(opened)::float8 AS opened, sum(clicked)::float8 AS clicked,
       sum(failed)::float8 AS failed, sum(suppressed)::float8 AS suppressed,
       sum(conversions)::float8 AS conversions, sum(value)::float8 AS value
     FROM (
       SELECT trigger_id, bucket_start, step_index, channel, variant, reason, ${COUNTER_COLUMNS}
       FROM metric_counts WHERE ${where}
       UNION ALL
       SELECT trigger_id, bucket_start, step_index, channel, variant, reason, ${COUNTER_COLUMNS}
       FROM metric_deltas WHERE ${where}
     ) counted
     GROUP BY 1, 2, 3, 4, 5, 6`,
    [tenantId, triggerIds && [...triggerIds], range.from, range.to, unit],
  );
  return found.map((r) => ({
    triggerId: r.trigger_id,
    bucket: r.bucket,
    stepIndex: r.step_index,
    channel: r.channel,
    variant: r.variant,
    reason: r.reason,
    eligible: r.eligible,
    entries: r.entries,
    sent: r.sent,
    delivered: r.delivered,
    opened: r.opened,
    clicked: r.clicked,
    failed: r.failed,
    suppressed: r.suppressed,
    conversions: r.conversions,
    attributedValue: r.value,
  }));
}

interface RawPercentileRow {
  scope_bits: number;
  trigger_id: string | null;
  bucket: Date | null;
  step_index: number | null;
  channel: string | null;
  variant: string | null;
  median: number | null;
  p90: number | null;
}

/**
 * Median and 90th percentile of the time from a run's start to its goal event, in seconds,
 * over the conversions whose goal event happened in `range` — for everything, per trigger,
 * per bucket of each trigger and per credited step, channel and variant.
 */
export async function readTimeToConvert(
  tx: Tx,
  tenantId: string,
  triggerIds: readonly string[] | null,
  range: InstantRange,
  unit: BucketUnit | null,
): Promise<PercentileRow[]> {
  const found = await rows<RawPercentileRow>(
    tx,
    `SELECT GROUPING(c.trigger_id, bucket, step_index) AS scope_bits, c.trigger_id, bucket,
       step_index, channel, variant,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS median,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY seconds) AS p90
     FROM (
       SELECT c.trigger_id,
         CASE WHEN $5::text IS NULL THEN NULL ELSE date_trunc($5::text, c.converted_at, 'UTC') END
           AS bucket,
         COALESCE(m.step_index, -1) AS step_index, COALESCE(m.channel, '') AS channel,
         COALESCE(c.variant, '') AS variant,
         extract(epoch FROM c.converted_at - c.started_at)::float8 AS seconds
       FROM conversions c
       LEFT JOIN messages m ON m.tenant_id = c.tenant_id AND m.id = c.message_id
       WHERE c.tenant_id = $1 AND ($2::uuid[] IS NULL OR c.trigger_id = ANY($2::uuid[]))
         AND ($3::timestamptz IS NULL OR c.converted_at >= $3)
         AND ($4::timestamptz IS NULL OR c.converted_at < $4)
     ) c
     GROUP BY GROUPING SETS ((), (c.trigger_id), (c.trigger_id, bucket),
       (c.trigger_id, step_index, channel, variant))`,
    [tenantId, triggerIds && [...triggerIds], range.from, range.to, unit],
  );
  // GROUPING bits (trigger, bucket, step): 1 = rolled up.
  const scopes: Record<number, PercentileScope> = {
    7: 'all',
    3: 'trigger',
    1: 'bucket',
    2: 'step',
  };
  return found.map((r) => ({
    scope: scopes[r.scope_bits],
    triggerId: r.trigger_id,
    bucket: r.bucket,
    stepIndex: r.step_index,
    channel: r.channel,
    variant: r.variant,
    medianSeconds: r.median,
    p90Seconds: r.p90,
  }));
}

/** Fewest deltas worth a compaction pass; most folded in one transaction. */
const COMPACT_BATCH = 20_000;

/**
 * Folds the oldest pending deltas into the hourly rollup, in one statement: the deltas
 * disappear exactly when their sums land, so a reader never sees them twice or not at all.
 * Runs across tenants (as the service) under an advisory lock, so concurrent compactors on
 * several instances take turns instead of deadlocking on rollup rows. Returns the number of
 * deltas folded (0 when another instance holds the lock).
 */
export async function compactMetricDeltas(tx: Tx): Promise<number> {
  const [lock] = await rows<{ locked: boolean }>(
    tx,
    'SELECT pg_try_advisory_xact_lock(4242005) AS locked',
  );
  if (!lock.locked) return 0;
  const key = `tenant_id, trigger_id, bucket_start, trigger_version, step_index, channel, variant,
    reason`;
  const sums = COUNTER_COLUMNS.split(',')
    .map((c) => c.trim())
    .map((c) => `${c} = metric_counts.${c} + EXCLUDED.${c}`)
    .join(', ');
  const [moved] = await rows<{ n: number }>(
    tx,
    `WITH moved AS (
       DELETE FROM metric_deltas
       WHERE id IN (SELECT id FROM metric_deltas ORDER BY id LIMIT $1)
       RETURNING *
     ), folded AS (
       INSERT INTO metric_counts (${key}, ${COUNTER_COLUMNS})
       SELECT ${key}, sum(eligible), sum(entries), sum(sent), sum(delivered), sum(opened),
         sum(clicked), sum(failed), sum(suppressed), sum(conversions), sum(value)
       FROM moved GROUP BY ${key}
       ON CONFLICT (${key}) DO UPDATE SET ${sums}
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM moved)::int AS n, (SELECT count(*) FROM folded) AS rollups`,
    [COMPACT_BATCH],
  );
  return moved.n;
}
