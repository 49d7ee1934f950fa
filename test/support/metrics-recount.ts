import type { Database } from '../../src/platform/database';
import { rows } from '../../src/platform/database';

/** A trigger's metrics recounted from the raw tables, as docs/metrics.md defines them. */
export interface Recount {
  eligible: number;
  entries: number;
  sent: number;
  delivered: number;
  opened: number;
  clicked: number;
  failed: number;
  suppressed: number;
  suppressedByReason: Array<{ reason: string; count: number }>;
  conversions: number;
  attributedValue: number;
  timeToConvertMedianSeconds: number | null;
  timeToConvertP90Seconds: number | null;
  /** Per step, channel and variant (variant null when none): message counters, conversions. */
  steps: Array<{
    step: number;
    channel: string;
    variant: string | null;
    sent: number;
    opened: number;
    failed: number;
    suppressed: number;
    conversions: number;
  }>;
}

/**
 * Recounts everything from messages, enrollments, decisions and conversions, independently of
 * the rollup (plain SQL over the rows, nothing from src/engine/metrics). `from`/`to` bound
 * each thing by when it happened; null: all time.
 */
export async function recountFromRawTables(
  db: Database,
  tenantId: string,
  triggerId: string,
  from: Date | null = null,
  to: Date | null = null,
): Promise<Recount> {
  return db.withTenant(tenantId, async (tx) => {
    const inRange = (column: string) =>
      `($3::timestamptz IS NULL OR ${column} >= $3) AND ($4::timestamptz IS NULL OR ${column} < $4)`;
    const params = [tenantId, triggerId, from, to];
    const [m] = await rows<Record<string, number>>(
      tx,
      `SELECT
         count(*) FILTER (WHERE status IN ('SENT','DELIVERED','OPENED','CLICKED'))::int AS sent,
         count(*) FILTER (WHERE status IN ('SENT','DELIVERED','OPENED','CLICKED')
                            AND delivered_at IS NOT NULL)::int AS delivered,
         count(*) FILTER (WHERE status IN ('SENT','DELIVERED','OPENED','CLICKED')
                            AND opened_at IS NOT NULL)::int AS opened,
         count(*) FILTER (WHERE status IN ('SENT','DELIVERED','OPENED','CLICKED')
                            AND clicked_at IS NOT NULL)::int AS clicked,
         count(*) FILTER (WHERE status IN ('FAILED','DEAD_LETTER'))::int AS failed,
         count(*) FILTER (WHERE status = 'SUPPRESSED')::int AS suppressed
       FROM messages WHERE tenant_id = $1 AND trigger_id = $2
         AND ${inRange('COALESCE(sent_at, created_at)')}`,
      params,
    );
    const reasons = await rows<{ reason: string; count: number }>(
      tx,
      `SELECT split_part(suppression_reason, ':', 1) AS reason, count(*)::int AS count
       FROM messages WHERE tenant_id = $1 AND trigger_id = $2 AND status = 'SUPPRESSED'
         AND ${inRange('COALESCE(sent_at, created_at)')}
       GROUP BY 1 ORDER BY 2 DESC, 1`,
      params,
    );
    const [e] = await rows<{ entries: number }>(
      tx,
      `SELECT count(*)::int AS entries FROM enrollments
       WHERE tenant_id = $1 AND trigger_id = $2 AND activated_at IS NOT NULL
         AND ${inRange('activated_at')}`,
      params,
    );
    const [el] = await rows<{ eligible: number }>(
      tx,
      `SELECT count(*)::int AS eligible FROM (
         SELECT event_id, min(at) AS at FROM decisions
         WHERE tenant_id = $1 AND trigger_id = $2 AND event_id IS NOT NULL
           AND outcome IN ('ENTERED', 'RESET', 'HELD', 'NOT_MATCHED', 'BLOCKED')
         GROUP BY event_id) evaluated
       WHERE ${inRange('at')}`,
      params,
    );
    const [c] = await rows<{
      conversions: number;
      value: number;
      median: number | null;
      p90: number | null;
    }>(
      tx,
      `SELECT count(*)::int AS conversions,
         COALESCE(sum(CASE WHEN jsonb_typeof(ev.properties -> 'value') = 'number'
                           THEN (ev.properties ->> 'value')::float8 END), 0)::float8 AS value,
         percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM c.converted_at - c.started_at)) AS median,
         percentile_cont(0.9) WITHIN GROUP (
           ORDER BY extract(epoch FROM c.converted_at - c.started_at)) AS p90
       FROM conversions c JOIN events ev ON ev.tenant_id = c.tenant_id AND ev.id = c.event_id
       WHERE c.tenant_id = $1 AND c.trigger_id = $2 AND ${inRange('c.converted_at')}`,
      params,
    );
    const steps = await rows<Recount['steps'][number]>(
      tx,
      `SELECT step, channel, variant, sum(sent)::int AS sent, sum(opened)::int AS opened,
         sum(failed)::int AS failed, sum(suppressed)::int AS suppressed,
         sum(conversions)::int AS conversions
       FROM (
         SELECT step_index AS step, channel, variant,
           (status IN ('SENT','DELIVERED','OPENED','CLICKED'))::int AS sent,
           (status IN ('SENT','DELIVERED','OPENED','CLICKED') AND opened_at IS NOT NULL)::int
             AS opened,
           (status IN ('FAILED','DEAD_LETTER'))::int AS failed,
           (status = 'SUPPRESSED')::int AS suppressed, 0 AS conversions
         FROM messages WHERE tenant_id = $1 AND trigger_id = $2
           AND ${inRange('COALESCE(sent_at, created_at)')}
         UNION ALL
         SELECT m.step_index, m.channel, c.variant, 0, 0, 0, 0, 1
         FROM conversions c JOIN messages m ON m.tenant_id = c.tenant_id AND m.id = c.message_id
         WHERE c.tenant_id = $1 AND c.trigger_id = $2 AND ${inRange('c.converted_at')}
       ) s
       GROUP BY 1, 2, 3 ORDER BY 1, 3 NULLS FIRST, 2`,
      params,
    );
    return {
      eligible: el.eligible,
      entries: e.entries,
      sent: m.sent,
      delivered: m.delivered,
      opened: m.opened,
      clicked: m.clicked,
      failed: m.failed,
      suppressed: m.suppressed,
      suppressedByReason: reasons,
      conversions: c.conversions,
      attributedValue: c.value,
      timeToConvertMedianSeconds: c.median,
      timeToConvertP90Seconds: c.p90,
      steps,
    };
  });
}

/** The GraphQL selection of every MetricCounts field. */
export const COUNTS_FIELDS = `eligible entries activationRate sent delivered opened clicked failed
  suppressed suppressedByReason { reason count } conversions conversionRate
  timeToConvertMedianSeconds timeToConvertP90Seconds attributedValue`;

/** The recount's totals in the shape of `MetricCounts` (rates derived the documented way). */
export function expectedTotals(r: Recount): Record<string, unknown> {
  return {
    eligible: r.eligible,
    entries: r.entries,
    activationRate: r.eligible === 0 ? null : r.entries / r.eligible,
    sent: r.sent,
    delivered: r.delivered,
    opened: r.opened,
    clicked: r.clicked,
    failed: r.failed,
    suppressed: r.suppressed,
    suppressedByReason: r.suppressedByReason,
    conversions: r.conversions,
    conversionRate: r.entries === 0 ? null : r.conversions / r.entries,
    timeToConvertMedianSeconds: r.timeToConvertMedianSeconds,
    timeToConvertP90Seconds: r.timeToConvertP90Seconds,
    attributedValue: r.attributedValue,
  };
}
