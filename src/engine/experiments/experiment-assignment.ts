import { createHash } from 'node:crypto';
import { Tx, rows } from '../../platform/database';
import type { StepDefinition, StepVariant } from '../triggers/trigger-definition';
import { assignVariant as legacyAssignVariant } from '../sequences/variants';

/** The run whose step needs its variant. */
export interface RunAtStep {
  tenantId: string;
  enrollmentId: string;
  customerId: string;
  stepIndex: number;
  step: StepDefinition;
  nowMs: number;
}

/**
 * Where a customer falls in an experiment: a number in [0, 1) from SHA-256 of
 * (tenant, experiment id, customer id). The same three always give the same number, so the
 * assignment can be recomputed and checked; a new test (new id) draws afresh.
 */
export function bucketOf(tenantId: string, experimentId: string, customerId: string): number {
  const digest = createHash('sha256').update(`${tenantId}:${experimentId}:${customerId}`).digest();
  // 48 bits are plenty for weights that sum to at most 100,000 and stay exact in a double.
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/**
 * The variant that `bucket` falls in under `variants`' weights (a 0-weight variant gets
 * nobody), or null when all weights are 0.
 */
export function pickVariant(bucket: number, variants: readonly StepVariant[]): StepVariant | null {
  const total = variants.reduce((sum, v) => sum + v.weight, 0);
  if (total === 0) return null;
  let ticket = bucket * total;
  for (const variant of variants) {
    if (ticket < variant.weight) return variant;
    ticket -= variant.weight;
  }
  return [...variants].reverse().find((v) => v.weight > 0) ?? null;
}

/**
 * The variant a run gets for a step, decided once and stored (`experiment_entries`), so the
 * step's schedule and its send agree, on any worker, and a run in flight never moves. The
 * first time, in order:
 * 1. the experiment ended with a promoted winner → the winner, for every new entrant;
 * 2. the customer was assigned before in this experiment → the same variant (sticky across
 *    re-entry and across weight edits), as long as this version still has it;
 * 3. otherwise a weighted pick from the customer's bucket, stored for next time.
 * Call inside the caller's transaction with the customer's row locked (entry and step
 * processing do), so two runs of one customer cannot both draw. Idempotent.
 */
export async function variantForRun(tx: Tx, run: RunAtStep): Promise<StepVariant | null> {
  const { step } = run;
  if (step.variants.length === 0) return null;
  // Versions saved before experiments existed carry no id: they keep the per-run pick.
  if (!step.experimentId)
    return legacyAssignVariant(run.enrollmentId, run.stepIndex, step.variants);
  const named = (name: string | null | undefined) =>
    step.variants.find((v) => v.name === name) ?? null;

  const [entered] = await rows<{ variant: string }>(
    tx,
    `SELECT variant FROM experiment_entries
     WHERE tenant_id = $1 AND enrollment_id = $2 AND step_index = $3`,
    [run.tenantId, run.enrollmentId, run.stepIndex],
  );
  if (entered) return named(entered.variant);

  const variant = await chooseVariant(tx, run, step.experimentId);
  if (!variant) return null;
  await rows(
    tx,
    `INSERT INTO experiment_entries (tenant_id, enrollment_id, step_index, experiment_id,
       customer_id, variant, is_holdout, entered_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
    [
      run.tenantId,
      run.enrollmentId,
      run.stepIndex,
      step.experimentId,
      run.customerId,
      variant.name,
      variant.isHoldout,
      new Date(run.nowMs),
    ],
  );
  return variant;
}

async function chooseVariant(
  tx: Tx,
  run: RunAtStep,
  experimentId: string,
): Promise<StepVariant | null> {
  const variants = run.step.variants;
  const named = (name: string | null | undefined) => variants.find((v) => v.name === name) ?? null;

  const [experiment] = await rows<{ winner: string | null }>(
    tx,
    'SELECT winner FROM experiments WHERE tenant_id = $1 AND id = $2',
    [run.tenantId, experimentId],
  );
  const winner = named(experiment?.winner);
  if (winner) return winner;

  const [assigned] = await rows<{ variant: string }>(
    tx,
    `SELECT variant FROM experiment_assignments
     WHERE tenant_id = $1 AND experiment_id = $2 AND customer_id = $3`,
    [run.tenantId, experimentId, run.customerId],
  );
  const kept = named(assigned?.variant);
  if (kept) return kept;

  const picked = pickVariant(bucketOf(run.tenantId, experimentId, run.customerId), variants);
  if (!picked) return null;
  // A customer whose variant was removed from the test is drawn again (the only move).
  await rows(
    tx,
    `INSERT INTO experiment_assignments (tenant_id, experiment_id, customer_id, variant,
       assigned_at)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (tenant_id, experiment_id, customer_id)
       DO UPDATE SET variant = EXCLUDED.variant, assigned_at = EXCLUDED.assigned_at`,
    [run.tenantId, experimentId, run.customerId, picked.name, new Date(run.nowMs)],
  );
  return picked;
}
