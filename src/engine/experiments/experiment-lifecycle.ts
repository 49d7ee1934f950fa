import { Tx, rows } from '../../platform/database';
import type { Logger } from '../../logger';
import type { StepDefinition, TriggerDefinition } from '../triggers/trigger-definition';
import { effectiveSettings } from './experiment-settings';
import { requiredSamplePerVariant } from './experiment-stats';

/** The variants of the latest version that carried an experiment, as results show them. */
export interface ExperimentVariantSnapshot {
  name: string;
  weight: number;
  isHoldout: boolean;
}

/** Significance level of the whole test; split (Bonferroni) over the comparisons with control. */
export const ALPHA = 0.05;
export const POWER = 0.8;

/**
 * Gives each step with variants of a trigger version being saved its experiment, and returns
 * the definition with the steps' `experimentId` set. Runs in the saving transaction.
 * - Same step index, variants before and after, same experiment name (or both unnamed): the
 *   running test goes on under its id, whatever the weights do; its snapshot of variants,
 *   control and required sample follows the new version.
 * - A new name, or variants where the previous version had none: a new test, new id, fresh
 *   assignments; the previous test of the step (if any) ends.
 * - Variants removed (or the step gone): the step's test ends, without a winner.
 * Customers in flight are untouched: their runs keep the version, and the variant, they have.
 */
export async function attachExperiments(
  tx: Tx,
  s: {
    tenantId: string;
    triggerId: string;
    previous: TriggerDefinition | null;
    next: TriggerDefinition;
    nowMs: number;
    log: Logger;
  },
): Promise<TriggerDefinition> {
  const ended = async (experimentId: string, stepId: number) => {
    await endExperiment(tx, s.tenantId, experimentId, s.nowMs, null);
    s.log.info({ triggerId: s.triggerId, experimentId, stepId }, 'experiment ended');
  };
  const previousSteps = s.previous?.steps ?? [];
  const steps: StepDefinition[] = [];
  for (const [index, step] of s.next.steps.entries()) {
    const before = previousSteps[index];
    const previousId = before?.variants.length ? (before.experimentId ?? null) : null;
    if (step.variants.length === 0) {
      if (previousId) await ended(previousId, index);
      steps.push({ ...step, experimentId: null });
      continue;
    }
    const sameTest =
      previousId !== null && (before!.experiment?.name ?? null) === (step.experiment?.name ?? null);
    if (sameTest) {
      await updateSnapshot(tx, s.tenantId, previousId, step, s.nowMs);
      steps.push({ ...step, experimentId: previousId });
      continue;
    }
    if (previousId) await ended(previousId, index);
    const id = await createExperiment(tx, s.tenantId, s.triggerId, index, step, s.nowMs);
    s.log.info({ triggerId: s.triggerId, experimentId: id, stepId: index }, 'experiment started');
    steps.push({ ...step, experimentId: id });
  }
  for (const [offset, gone] of previousSteps.slice(s.next.steps.length).entries()) {
    if (gone.experimentId) await ended(gone.experimentId, s.next.steps.length + offset);
  }
  return { ...s.next, steps };
}

/**
 * Ends a running experiment, recording `winner` (the promoted variant) when given. From then
 * on every new entrant of a version that still carries it gets the winner. Idempotent: an
 * ended experiment stays as it ended.
 */
export async function endExperiment(
  tx: Tx,
  tenantId: string,
  experimentId: string,
  nowMs: number,
  winner: string | null,
): Promise<void> {
  await rows(
    tx,
    `UPDATE experiments SET status = 'ENDED', winner = $3, ended_at = $4, updated_at = $4
     WHERE tenant_id = $1 AND id = $2 AND status = 'RUNNING'`,
    [tenantId, experimentId, winner, new Date(nowMs)],
  );
}

/**
 * Ends every running experiment of a trigger (it is being archived: no run will enter it
 * again). Returns the ids it ended.
 */
export async function endTriggerExperiments(
  tx: Tx,
  tenantId: string,
  triggerId: string,
  nowMs: number,
): Promise<string[]> {
  const ended = await rows<{ id: string }>(
    tx,
    `UPDATE experiments SET status = 'ENDED', ended_at = $3, updated_at = $3
     WHERE tenant_id = $1 AND trigger_id = $2 AND status = 'RUNNING' RETURNING id`,
    [tenantId, triggerId, new Date(nowMs)],
  );
  return ended.map((e) => e.id);
}

/** The runs per variant a step's test needs, for its current arms (see docs/experiments.md). */
export function requiredSampleOf(step: StepDefinition): number {
  const settings = effectiveSettings(step.experiment);
  const arms = step.variants.filter((v) => v.weight > 0).length;
  const comparisons = Math.max(1, arms - 1);
  return requiredSamplePerVariant(
    settings.baselineRate,
    settings.minimumDetectableEffect,
    ALPHA / comparisons,
    POWER,
  );
}

function snapshotOf(step: StepDefinition) {
  const settings = effectiveSettings(step.experiment);
  const variants: ExperimentVariantSnapshot[] = step.variants.map((v) => ({
    name: v.name,
    weight: v.weight,
    isHoldout: v.isHoldout,
  }));
  return {
    name: settings.name,
    control: settings.control ?? step.variants[0].name,
    variants: JSON.stringify(variants),
    baselineRate: settings.baselineRate,
    mde: settings.minimumDetectableEffect,
    required: requiredSampleOf(step),
  };
}

async function createExperiment(
  tx: Tx,
  tenantId: string,
  triggerId: string,
  stepIndex: number,
  step: StepDefinition,
  nowMs: number,
): Promise<string> {
  const snap = snapshotOf(step);
  const [created] = await rows<{ id: string }>(
    tx,
    `INSERT INTO experiments (tenant_id, trigger_id, step_index, name, status, control, variants,
       baseline_rate, minimum_detectable_effect, required_sample_per_variant, created_at,
       updated_at)
     VALUES ($1, $2, $3, $4, 'RUNNING', $5, $6, $7, $8, $9, $10, $10) RETURNING id`,
    [
      tenantId,
      triggerId,
      stepIndex,
      snap.name,
      snap.control,
      snap.variants,
      snap.baselineRate,
      snap.mde,
      snap.required,
      new Date(nowMs),
    ],
  );
  return created.id;
}

async function updateSnapshot(
  tx: Tx,
  tenantId: string,
  experimentId: string,
  step: StepDefinition,
  nowMs: number,
): Promise<void> {
  const snap = snapshotOf(step);
  await rows(
    tx,
    `UPDATE experiments SET control = $3, variants = $4, baseline_rate = $5,
       minimum_detectable_effect = $6, required_sample_per_variant = $7, updated_at = $8
     WHERE tenant_id = $1 AND id = $2`,
    [
      tenantId,
      experimentId,
      snap.control,
      snap.variants,
      snap.baselineRate,
      snap.mde,
      snap.required,
      new Date(nowMs),
    ],
  );
}
