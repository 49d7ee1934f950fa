import { rows, type Tx } from '../../platform/database';
import type { AlertMetric } from './metric-alert';

/**
 * Statuses of a concluded send: the provider was asked (or the message could not be
 * rendered) and the outcome is known. QUEUED and SENDING are not concluded yet; SUPPRESSED
 * never went out, so it is no send.
 */
const CONCLUDED = `('SENT', 'DELIVERED', 'OPENED', 'CLICKED', 'FAILED', 'DEAD_LETTER')`;

/** Which of the window's sends count toward each metric (SQL over `recent r`). */
const HIT: Record<AlertMetric, string> = {
  OPEN_RATE: `r.opened_at IS NOT NULL OR r.status IN ('OPENED', 'CLICKED')`,
  CLICK_RATE: `r.clicked_at IS NOT NULL OR r.status = 'CLICKED'`,
  DELIVERY_RATE: `r.delivered_at IS NOT NULL OR r.status IN ('DELIVERED', 'OPENED', 'CLICKED')`,
  FAILURE_RATE: `r.status IN ('FAILED', 'DEAD_LETTER')`,
  CONVERSION_RATE: `EXISTS (SELECT 1 FROM conversions c
      WHERE c.tenant_id = r.tenant_id AND c.enrollment_id = r.enrollment_id
        AND c.message_id = r.id)`,
};

/** A rate over a window of sends. */
export interface WindowRate {
  /** Concluded sends in the window: at most the window size. */
  sends: number;
  /** hits / sends; 0 when there are no sends. */
  value: number;
}

/**
 * The rate of `metric` over the last `overLastSends` concluded sends (newest by record
 * order) of `triggerId`, or of every trigger of the tenant when `triggerId` is null,
 * computed from `messages` (and `conversions`) as they stand in `tx`. Reads only; walks the
 * `(tenant_id, trigger_id, seq)` or `(tenant_id, seq)` index backwards.
 */
export async function windowRate(
  tx: Tx,
  tenantId: string,
  triggerId: string | null,
  metric: AlertMetric,
  overLastSends: number,
): Promise<WindowRate> {
  const byTrigger = triggerId === null ? '' : 'AND m.trigger_id = $3';
  const params: unknown[] = [tenantId, overLastSends];
  if (triggerId !== null) params.push(triggerId);
  const [row] = await rows<{ sends: number; hits: number }>(
    tx,
    `WITH recent AS (
       SELECT m.id, m.tenant_id, m.enrollment_id, m.status, m.opened_at, m.clicked_at,
              m.delivered_at
       FROM messages m
       WHERE m.tenant_id = $1 ${byTrigger} AND m.status IN ${CONCLUDED}
       ORDER BY m.seq DESC
       LIMIT $2)
     SELECT count(*)::int AS sends, (count(*) FILTER (WHERE ${HIT[metric]}))::int AS hits
     FROM recent r`,
    params,
  );
  const sends = row?.sends ?? 0;
  return { sends, value: sends === 0 ? 0 : (row?.hits ?? 0) / sends };
}
