import { Tx, rows } from '../../platform/database';
import type { Effects } from '../sequences/effects';

/** Deadline timers use this step index; step timers use the step's position. */
export const DEADLINE_STEP = -1;

/**
 * DEADLINE: an absence window ends; STEP: a step is due; HOLD: a wait for customer data ends;
 * DELIVERY: a recorded message's next delivery attempt, or the check that it was not lost.
 */
export type TimerKind = 'DEADLINE' | 'STEP' | 'HOLD' | 'DELIVERY';

export interface TimerRow {
  id: string;
  tenant_id: string;
  kind: TimerKind;
  enrollment_id: string;
  step_index: number;
  due_at: Date;
  state: 'PENDING' | 'DONE' | 'CANCELLED' | 'FAILED';
}

/**
 * Writes a pending timer in the caller's transaction (PostgreSQL is the truth) and records
 * it for the index once committed. Idempotent per (enrollment, kind, step): a second call
 * moves the due time of the pending timer instead of adding one. With `rearm`, a timer that
 * already fired is made pending again (a DELIVERY timer serves every attempt of its message).
 */
export async function putTimer(
  tx: Tx,
  effects: Effects,
  t: {
    tenantId: string;
    kind: TimerKind;
    enrollmentId: string;
    stepIndex: number;
    dueAtMs: number;
    nowMs: number;
    rearm?: boolean;
  },
): Promise<void> {
  const [row] = await rows<{ id: string }>(
    tx,
    `INSERT INTO timers (tenant_id, kind, enrollment_id, step_index, due_at, state, created_at)
     VALUES ($1, $2, $3, $4, $5, 'PENDING', $6)
     ON CONFLICT (tenant_id, enrollment_id, kind, step_index)
       DO UPDATE SET due_at = EXCLUDED.due_at, state = 'PENDING', attempts = 0, last_error = NULL
       WHERE timers.state = 'PENDING' OR $7
     RETURNING id`,
    [
      t.tenantId,
      t.kind,
      t.enrollmentId,
      t.stepIndex,
      new Date(t.dueAtMs),
      new Date(t.nowMs),
      t.rearm ?? false,
    ],
  );
  if (row)
    effects.timersToSchedule.push({ timerId: row.id, tenantId: t.tenantId, dueAtMs: t.dueAtMs });
}

/**
 * Cancels the enrollment's pending step, deadline and hold timers and drops them from the
 * index once committed. DELIVERY timers stay: a message whose provider call was under way
 * when the run ended still needs its watchdog to settle it (it suppresses or fails it; it
 * never sends for an ended run), and a watchdog with nothing to do settles itself.
 */
export async function cancelTimers(
  tx: Tx,
  effects: Effects,
  tenantId: string,
  enrollmentId: string,
): Promise<void> {
  const cancelled = await rows<{ id: string }>(
    tx,
    `UPDATE timers SET state = 'CANCELLED' WHERE tenant_id = $1 AND enrollment_id = $2 AND
       state = 'PENDING' AND kind <> 'DELIVERY'
     RETURNING id`,
    [tenantId, enrollmentId],
  );
  for (const { id } of cancelled) effects.timersToUnschedule.push({ timerId: id, tenantId });
}
