import { Tx, rows } from '../../platform/database';

/** What the engine did with an entry event or a run. */
export type DecisionOutcome =
  | 'ENTERED'
  | 'RESET'
  | 'HELD'
  | 'NOT_MATCHED'
  | 'BLOCKED'
  | 'CANCELLED'
  | 'FIRED'
  | 'DEFERRED'
  | 'SKIPPED'
  | 'SUPPRESSED'
  | 'CONVERTED';

/**
 * Stable, machine-readable reasons. `detail` carries the specifics (the failing node, the
 * cancelling event, the time a step was deferred to).
 */
export type DecisionReason =
  | 'CONDITION_MET'
  | 'CONDITION_FALSE'
  | 'WAITING_FOR_ATTRIBUTES'
  | 'ATTRIBUTE_WAIT_EXPIRED'
  | 'SAME_KEY_REENTRY'
  | 'SAME_KEY_OPEN'
  | 'REENTRY_NOT_ALLOWED'
  | 'ACTIVE_LIMIT'
  | 'COOLDOWN'
  | 'ABSENCE_VIOLATED'
  | 'MERGED_DUPLICATE'
  | 'DEADLINE_PASSED'
  | 'SEND_WINDOW'
  | 'QUIET_HOURS'
  | 'FREQUENCY_CAP'
  | 'STEP_CONDITION'
  | 'HOLDOUT'
  | 'NO_CONSENT'
  | 'INVALID_ADDRESS'
  | 'TEMPLATE_VARIABLE_MISSING'
  | 'GOAL_REACHED';

export interface Decision {
  customerId: string;
  triggerId: string;
  triggerVersion: number;
  enrollmentId?: string | null;
  eventId?: string | null;
  atMs: number;
  outcome: DecisionOutcome;
  reason: DecisionReason;
  detail?: Record<string, unknown>;
}

/** Records a decision in the caller's transaction: it exists exactly when its effect does. */
export async function recordDecision(tx: Tx, tenantId: string, d: Decision): Promise<void> {
  await rows(
    tx,
    `INSERT INTO decisions (tenant_id, customer_id, trigger_id, trigger_version, enrollment_id,
       event_id, at, outcome, reason, detail)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
    [
      tenantId,
      d.customerId,
      d.triggerId,
      d.triggerVersion,
      d.enrollmentId ?? null,
      d.eventId || null,
      new Date(d.atMs),
      d.outcome,
      d.reason,
      JSON.stringify(d.detail ?? {}),
    ],
  );
}
