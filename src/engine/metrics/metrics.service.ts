import { BadInputError, NotFoundError } from '../../errors';
import { Database, Tx, rows } from '../../platform/database';
import type { TenantContext } from '../../tenancy/tenant-context';
import { isUuid } from '../../validation';
import { CountsAccumulator, MetricCounts } from './metric-counts';
import {
  BucketUnit,
  CountsRow,
  InstantRange,
  PercentileRow,
  readCounts,
  readTimeToConvert,
} from './metrics-store';

export interface StepMetricsView {
  step: number;
  channel: string;
  variant: string | null;
  counts: MetricCounts;
}

export interface TriggerMetricsView {
  triggerId: string;
  /** The range actually counted: the request widened to whole buckets (UTC). */
  from: Date;
  to: Date;
  bucket: BucketUnit;
  totals: MetricCounts;
  buckets: Array<{ start: Date; counts: MetricCounts }>;
  steps: StepMetricsView[];
}

export interface MetricsOverviewView {
  from: Date;
  to: Date;
  totals: MetricCounts;
  triggers: Array<{ triggerId: string; name: string; totals: MetricCounts }>;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
/** Longest range per bucket size, so a response stays a dashboard's worth of rows. */
const MAX_BUCKETS: Record<BucketUnit, number> = { hour: 24 * 93, day: 3 * 366 };

/**
 * Reads the metrics of issue #5 (definitions: docs/metrics.md). Counts come from the
 * PostgreSQL rollup that the engine's own writes maintain (same transaction as each state
 * change), so they equal a recount of messages, enrollments, decisions and conversions.
 * A range `[from, to)` counts each thing by when it happened (evaluation, run start, message
 * send or settle, goal event) and is widened to whole UTC buckets. Every read is one
 * REPEATABLE READ snapshot. Another tenant's trigger is NOT_FOUND.
 */
export class MetricsService {
  constructor(private readonly db: Database) {}

  /** Totals, per-bucket rows (every bucket in the range, empty ones too) and per-step rows. */
  async triggerMetrics(
    ctx: TenantContext,
    triggerId: string,
    from: Date,
    to: Date,
    bucket: BucketUnit,
  ): Promise<TriggerMetricsView> {
    const range = widenedRange(from, to, bucket);
    return this.db.withTenant(
      ctx.tenantId,
      async (tx) => {
        await requireTrigger(tx, ctx.tenantId, triggerId);
        const counted = await readCounts(tx, ctx.tenantId, [triggerId], range, bucket);
        const percentiles = await readTimeToConvert(tx, ctx.tenantId, [triggerId], range, bucket);
        return {
          triggerId,
          from: range.from,
          to: range.to,
          bucket,
          totals: sum(counted).toCounts(find(percentiles, (p) => p.scope === 'trigger')),
          buckets: bucketRows(counted, percentiles, range, bucket),
          steps: stepRows(counted, percentiles),
        };
      },
      { isolation: 'REPEATABLE READ' },
    );
  }

  /** The tenant's totals and each trigger's over `[from, to)` (widened to whole hours). */
  async overview(ctx: TenantContext, from: Date, to: Date): Promise<MetricsOverviewView> {
    const range = widenedRange(from, to, 'hour');
    return this.db.withTenant(
      ctx.tenantId,
      async (tx) => {
        const triggers = await rows<{ id: string; name: string }>(
          tx,
          `SELECT id, name FROM triggers WHERE tenant_id = $1 ORDER BY seq`,
          [ctx.tenantId],
        );
        const counted = await readCounts(tx, ctx.tenantId, null, range, null);
        const percentiles = await readTimeToConvert(tx, ctx.tenantId, null, range, null);
        return {
          from: range.from,
          to: range.to,
          totals: sum(counted).toCounts(find(percentiles, (p) => p.scope === 'all')),
          triggers: triggers.map((t) => ({
            triggerId: t.id,
            name: t.name,
            totals: sum(counted.filter((r) => r.triggerId === t.id)).toCounts(
              find(percentiles, (p) => p.scope === 'trigger' && p.triggerId === t.id),
            ),
          })),
        };
      },
      { isolation: 'REPEATABLE READ' },
    );
  }

  /** A trigger's all-time totals (live metrics). NOT_FOUND for another tenant's trigger. */
  async allTimeTotals(ctx: TenantContext, triggerId: string): Promise<MetricCounts> {
    const all: InstantRange = { from: null, to: null };
    return this.db.withTenant(
      ctx.tenantId,
      async (tx) => {
        await requireTrigger(tx, ctx.tenantId, triggerId);
        const counted = await readCounts(tx, ctx.tenantId, [triggerId], all, null);
        const percentiles = await readTimeToConvert(tx, ctx.tenantId, [triggerId], all, null);
        return sum(counted).toCounts(find(percentiles, (p) => p.scope === 'trigger'));
      },
      { isolation: 'REPEATABLE READ' },
    );
  }

  /** Throws NOT_FOUND unless the trigger is the tenant's (checked before a subscription). */
  async requireTrigger(ctx: TenantContext, triggerId: string): Promise<void> {
    await this.db.withTenant(ctx.tenantId, (tx) => requireTrigger(tx, ctx.tenantId, triggerId));
  }
}

async function requireTrigger(tx: Tx, tenantId: string, triggerId: string): Promise<void> {
  const found = isUuid(triggerId)
    ? await rows(tx, 'SELECT 1 FROM triggers WHERE tenant_id = $1 AND id = $2', [
        tenantId,
        triggerId,
      ])
    : [];
  if (found.length === 0) throw new NotFoundError('trigger', 'triggerId');
}

/** `[from, to)` widened outwards to whole UTC buckets; BAD_USER_INPUT when empty or huge. */
export function widenedRange(from: Date, to: Date, unit: BucketUnit): { from: Date; to: Date } {
  if (Number.isNaN(from.getTime())) throw new BadInputError('from', 'must be a date-time');
  if (Number.isNaN(to.getTime())) throw new BadInputError('to', 'must be a date-time');
  if (to.getTime() <= from.getTime()) throw new BadInputError('to', 'must be after from');
  const size = unit === 'hour' ? HOUR_MS : DAY_MS;
  const start = Math.floor(from.getTime() / size) * size;
  const end = Math.ceil(to.getTime() / size) * size;
  if ((end - start) / size > MAX_BUCKETS[unit]) {
    const most = unit === 'hour' ? `${MAX_BUCKETS.hour / 24} days` : `${MAX_BUCKETS.day} days`;
    throw new BadInputError(
      'to',
      `range too long for ${unit.toUpperCase()} buckets: at most ${most}`,
    );
  }
  return { from: new Date(start), to: new Date(end) };
}

function sum(counted: readonly CountsRow[]): CountsAccumulator {
  const acc = new CountsAccumulator();
  for (const row of counted) acc.add(row, row.reason);
  return acc;
}

function find(
  percentiles: readonly PercentileRow[],
  match: (p: PercentileRow) => boolean,
): PercentileRow | null {
  return percentiles.find(match) ?? null;
}

function bucketRows(
  counted: readonly CountsRow[],
  percentiles: readonly PercentileRow[],
  range: { from: Date; to: Date },
  unit: BucketUnit,
): Array<{ start: Date; counts: MetricCounts }> {
  const size = unit === 'hour' ? HOUR_MS : DAY_MS;
  const byStart = new Map<number, CountsAccumulator>();
  for (const row of counted) {
    const startMs = row.bucket!.getTime();
    const acc = byStart.get(startMs) ?? new CountsAccumulator();
    acc.add(row, row.reason);
    byStart.set(startMs, acc);
  }
  const result: Array<{ start: Date; counts: MetricCounts }> = [];
  for (let startMs = range.from.getTime(); startMs < range.to.getTime(); startMs += size) {
    const ttc = find(percentiles, (p) => p.scope === 'bucket' && p.bucket?.getTime() === startMs);
    const acc = byStart.get(startMs) ?? new CountsAccumulator();
    result.push({ start: new Date(startMs), counts: acc.toCounts(ttc) });
  }
  return result;
}

/** One row per step, channel and variant that counted anything, in step order. */
function stepRows(
  counted: readonly CountsRow[],
  percentiles: readonly PercentileRow[],
): StepMetricsView[] {
  const bySlice = new Map<string, { row: CountsRow; acc: CountsAccumulator }>();
  for (const row of counted) {
    if (row.stepIndex < 0) continue;
    const key = JSON.stringify([row.stepIndex, row.channel, row.variant]);
    const slice = bySlice.get(key) ?? { row, acc: new CountsAccumulator() };
    slice.acc.add(row, row.reason);
    bySlice.set(key, slice);
  }
  return [...bySlice.values()]
    .sort(
      (a, b) =>
        a.row.stepIndex - b.row.stepIndex ||
        compareText(a.row.variant, b.row.variant) ||
        compareText(a.row.channel, b.row.channel),
    )
    .map(({ row, acc }) => ({
      step: row.stepIndex,
      channel: row.channel,
      variant: row.variant || null,
      counts: acc.toCounts(
        find(
          percentiles,
          (p) =>
            p.scope === 'step' &&
            p.stepIndex === row.stepIndex &&
            p.channel === row.channel &&
            p.variant === row.variant,
        ),
      ),
    }));
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
