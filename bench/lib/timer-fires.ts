import type { Client } from 'pg';
import { quantile } from './workload';
import type { SeededTimers, TimerTenant } from './timer-seed';

/**
 * Reads back what became of seeded STEP timers, from PostgreSQL alone: how many fired, how
 * late (`timers.fired_at − due_at`: `fired_at` is the engine's clock read when the fire
 * starts, with the timer row locked, inside the transaction that records the message), and
 * how late the webhook went out (`messages.sent_at − due_at`, stamped when delivery settles).
 */

export interface LatenessSummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface FireCheck {
  /** Seeded timers now DONE (fired), still PENDING, or anything else (FAILED, ...). */
  done: number;
  pending: number;
  other: number;
  /** Messages recorded for the seeded runs (unique per run and step: a second is impossible). */
  messages: number;
  /** Of those, how many were delivered (SENT) so far. */
  sent: number;
}

export function summarise(values: ArrayLike<number>): LatenessSummary {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]);
  return {
    count: values.length,
    p50: quantile(values, 0.5),
    p90: quantile(values, 0.9),
    p99: quantile(values, 0.99),
    max: values.length ? max : NaN,
  };
}

export async function checkFires(
  db: Client,
  tenant: TimerTenant,
  seeded: SeededTimers,
): Promise<FireCheck> {
  const { rows } = await db.query<Record<keyof FireCheck, number>>(
    `SELECT count(*) FILTER (WHERE t.state = 'DONE')::int AS done,
            count(*) FILTER (WHERE t.state = 'PENDING')::int AS pending,
            count(*) FILTER (WHERE t.state NOT IN ('DONE', 'PENDING'))::int AS other,
            count(m.id)::int AS messages,
            count(m.id) FILTER (WHERE m.status = 'SENT')::int AS sent
     FROM timers t
     LEFT JOIN messages m ON m.tenant_id = t.tenant_id AND m.enrollment_id = t.enrollment_id
       AND m.step_index = t.step_index
     WHERE t.tenant_id = $1 AND t.kind = 'STEP' AND t.id BETWEEN $2 AND $3`,
    [tenant.tenantId, seeded.firstId, seeded.lastId],
  );
  return rows[0];
}

/**
 * Polls until every seeded timer fired and (with `untilSent`) its message was delivered, or
 * `timeoutMs` passes; returns the last check and when the last fire happened (epoch ms).
 */
export async function waitForFires(
  db: Client,
  tenant: TimerTenant,
  seeded: SeededTimers,
  options: { timeoutMs: number; untilSent: boolean; pollMs?: number },
): Promise<{ check: FireCheck; timedOut: boolean }> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const check = await checkFires(db, tenant, seeded);
    const finished =
      check.pending === 0 && (!options.untilSent || check.sent + check.other >= seeded.count);
    if (finished) return { check, timedOut: false };
    if (Date.now() > deadline) return { check, timedOut: true };
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 250));
  }
}

export interface FireTimes {
  /** fired_at − due_at per fired timer, ms, and their summary. */
  latenessValues: Float64Array;
  lateness: LatenessSummary;
  /** sent_at − due_at per delivered message, ms. */
  deliveredLateness: LatenessSummary;
  /** First and last fired_at, epoch ms. */
  firstFiredMs: number;
  lastFiredMs: number;
}

export async function fireTimes(
  db: Client,
  tenant: TimerTenant,
  seeded: SeededTimers,
): Promise<FireTimes> {
  const result = await db.query({
    text: `SELECT extract(epoch FROM t.fired_at - t.due_at)::float8 * 1000,
                  extract(epoch FROM m.sent_at - t.due_at)::float8 * 1000,
                  extract(epoch FROM t.fired_at)::float8 * 1000
           FROM timers t
           LEFT JOIN messages m ON m.tenant_id = t.tenant_id
             AND m.enrollment_id = t.enrollment_id AND m.step_index = t.step_index
           WHERE t.tenant_id = $1 AND t.kind = 'STEP' AND t.id BETWEEN $2 AND $3
             AND t.fired_at IS NOT NULL`,
    values: [tenant.tenantId, seeded.firstId, seeded.lastId],
    rowMode: 'array',
  });
  const rows = result.rows as Array<[number, number | null, number]>;
  const fired = new Float64Array(rows.length);
  const delivered: number[] = [];
  let firstFiredMs = Infinity;
  let lastFiredMs = -Infinity;
  rows.forEach(([late, sentLate, firedMs], i) => {
    fired[i] = late;
    if (sentLate !== null) delivered.push(sentLate);
    firstFiredMs = Math.min(firstFiredMs, firedMs);
    lastFiredMs = Math.max(lastFiredMs, firedMs);
  });
  return {
    latenessValues: fired,
    lateness: summarise(fired),
    deliveredLateness: summarise(delivered),
    firstFiredMs,
    lastFiredMs,
  };
}
