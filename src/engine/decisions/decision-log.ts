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
  | 'BEST_HOUR'
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

/** Decisions recorded inside `batchDecisions`, per transaction, not yet written. */
const pending = new WeakMap<Tx, { tenantId: string; decisions: Decision[] }>();

/**
 * Records a decision in the caller's transaction: it exists exactly when its effect does.
 * Inside `batchDecisions` for the same transaction the row is written with the others of the
 * batch, still before that transaction commits.
 */
export async function recordDecision(tx: Tx, tenantId: string, d: Decision): Promise<void> {
  const batch = pending.get(tx);
  if (batch && batch.tenantId === tenantId) {
    batch.decisions.push(d);
    return;
  }
  await insertDecisions(tx, tenantId, [d]);
}

/**
 * Runs `work` with the transaction's decisions collected and then written in one statement,
 * in the order they were recorded, before it returns: one round trip for a whole ingest call
 * instead of one per trigger and event. If `work` throws nothing is written (the caller's
 * transaction rolls back). Nothing inside may read the decisions it recorded, or delete a
 * customer, trigger or enrollment a recorded decision names (the merge of customers happens
 * before ingestion reacts, and holds are deleted only with decisions that do not name them).
 */
export async function batchDecisions<T>(
  tx: Tx,
  tenantId: string,
  work: () => Promise<T>,
): Promise<T> {
  if (pending.has(tx)) return work();
  const batch = { tenantId, decisions: [] as Decision[] };
  pending.set(tx, batch);
  try {
    const value = await work();
    await insertDecisions(tx, tenantId, batch.decisions);
    return value;
  } finally {
    pending.delete(tx);
  }
}

async function insertDecisions(tx: Tx, tenantId: string, ds: Decision[]): Promise<void> {
  if (ds.length === 0) return;
  if (ds.length === 1) {
    const [d] = ds;
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
    return;
  }
  // Ids follow the recorded order (ORDER BY the ordinality), as with one INSERT each.
  await rows(
    tx,
    `INSERT INTO decisions (tenant_id, customer_id, trigger_id, trigger_version, enrollment_id,
       event_id, at, outcome, reason, detail)
     SELECT $1, customer_id, trigger_id, trigger_version, enrollment_id, event_id, at, outcome,
       reason, detail
     FROM unnest($2::uuid[], $3::uuid[], $4::int[], $5::uuid[], $6::bigint[], $7::timestamptz[],
       $8::text[], $9::text[], $10::jsonb[]) WITH ORDINALITY
       AS x(customer_id, trigger_id, trigger_version, enrollment_id, event_id, at, outcome,
         reason, detail, n)
     ORDER BY n`,
    [
      tenantId,
      ds.map((d) => d.customerId),
      ds.map((d) => d.triggerId),
      ds.map((d) => d.triggerVersion),
      ds.map((d) => d.enrollmentId ?? null),
      ds.map((d) => d.eventId || null),
      ds.map((d) => new Date(d.atMs)),
      ds.map((d) => d.outcome),
      ds.map((d) => d.reason),
      ds.map((d) => JSON.stringify(d.detail ?? {})),
    ],
  );
}
