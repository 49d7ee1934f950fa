import { Tx, rows } from '../../platform/database';
import { ALPHA, ExperimentVariantSnapshot } from './experiment-lifecycle';
import {
  Comparison,
  Proportion,
  compareToControl,
  medianOrNull,
  rankSumPValue,
  rateOf,
} from './experiment-stats';

/** Message states that mean the step's message went out. */
const WENT_OUT = ['SENT', 'DELIVERED', 'OPENED', 'CLICKED'];

export type ExperimentStatus = 'RUNNING' | 'WINNER_DECLARED' | 'ENDED' | 'NONE';

export interface VariantResultView {
  name: string;
  weight: number;
  isHoldout: boolean;
  entries: number;
  sent: number;
  conversions: number;
  conversionRate: number | null;
  uplift: number | null;
  upliftLow: number | null;
  upliftHigh: number | null;
  relativeUplift: number | null;
  pValue: number | null;
  probabilityToBeatControl: number | null;
  medianTimeToConvertSeconds: number | null;
  /** Mann–Whitney p-value of this variant's times to convert against the control's. */
  timeToConvertPValue: number | null;
}

export interface ExperimentResultsView {
  triggerId: string;
  step: number;
  experimentId: string | null;
  name: string | null;
  status: ExperimentStatus;
  control: string | null;
  winner: string | null;
  requiredSamplePerVariant: number | null;
  variants: VariantResultView[];
}

interface ExperimentRow {
  id: string;
  name: string | null;
  status: 'RUNNING' | 'ENDED';
  control: string | null;
  winner: string | null;
  variants: ExperimentVariantSnapshot[];
  required_sample_per_variant: number;
}

interface CountRow {
  variant: string;
  is_holdout: boolean;
  entries: number;
  sent: number;
  conversions: number;
  seconds: number[] | null;
}

/**
 * The results of the latest experiment on a trigger step, counted from the raw tables: a
 * variant's entries are its runs (`experiment_entries`), its sends the runs whose step message
 * went out (`messages`), its conversions the runs with a conversion record (`conversions`),
 * each run in exactly one variant. Statistics compare every variant with the control.
 *
 * The winner rule (fixed horizon, docs/experiments.md): a winner is declared only once every
 * arm has `requiredSamplePerVariant` runs whose goal window has closed, and it is decided on
 * exactly those first runs per arm (so looking earlier, or more often, changes nothing).
 * `goalWithinMs` null (no goal): no conversions, never a winner.
 */
export async function experimentResults(
  tx: Tx,
  s: {
    tenantId: string;
    triggerId: string;
    step: number;
    goalWithinMs: number | null;
    nowMs: number;
  },
): Promise<ExperimentResultsView> {
  const [experiment] = await rows<ExperimentRow>(
    tx,
    `SELECT id, name, status, control, winner, variants, required_sample_per_variant
     FROM experiments WHERE tenant_id = $1 AND trigger_id = $2 AND step_index = $3
     ORDER BY created_at DESC, id DESC LIMIT 1`,
    [s.tenantId, s.triggerId, s.step],
  );
  if (!experiment) {
    return {
      triggerId: s.triggerId,
      step: s.step,
      experimentId: null,
      name: null,
      status: 'NONE',
      control: null,
      winner: null,
      requiredSamplePerVariant: null,
      variants: [],
    };
  }

  const counts = await rows<CountRow>(
    tx,
    `SELECT x.variant, bool_or(x.is_holdout) AS is_holdout, count(*)::int AS entries,
       count(m.id) FILTER (WHERE m.status = ANY($3::text[]))::int AS sent,
       count(c.enrollment_id)::int AS conversions,
       array_agg(extract(epoch FROM c.converted_at - c.started_at)::float8)
         FILTER (WHERE c.enrollment_id IS NOT NULL) AS seconds
     FROM experiment_entries x
     LEFT JOIN messages m ON m.tenant_id = x.tenant_id AND m.enrollment_id = x.enrollment_id
       AND m.step_index = x.step_index
     LEFT JOIN conversions c ON c.tenant_id = x.tenant_id AND c.enrollment_id = x.enrollment_id
     WHERE x.tenant_id = $1 AND x.experiment_id = $2
     GROUP BY x.variant`,
    [s.tenantId, experiment.id, WENT_OUT],
  );
  const byName = new Map(counts.map((c) => [c.variant, c]));
  const arms: ExperimentVariantSnapshot[] = [...experiment.variants];
  for (const c of counts) {
    // A variant removed by a later edit still has its runs; it shows with weight 0.
    if (!arms.some((a) => a.name === c.variant)) {
      arms.push({ name: c.variant, weight: 0, isHoldout: c.is_holdout });
    }
  }
  const control = experiment.control ?? arms[0]?.name ?? null;
  const proportionOf = (name: string | null): Proportion => {
    const c = name === null ? undefined : byName.get(name);
    return { conversions: c?.conversions ?? 0, trials: c?.entries ?? 0 };
  };
  const controlCounts = proportionOf(control);
  const controlSeconds = (control !== null && byName.get(control)?.seconds) || [];

  const variants = arms.map((arm): VariantResultView => {
    const c = byName.get(arm.name);
    const own = proportionOf(arm.name);
    const vs: Comparison | null =
      arm.name === control ? null : compareToControl(own, controlCounts);
    return {
      name: arm.name,
      weight: arm.weight,
      isHoldout: arm.isHoldout,
      entries: own.trials,
      sent: c?.sent ?? 0,
      conversions: own.conversions,
      conversionRate: rateOf(own),
      uplift: vs?.uplift ?? null,
      upliftLow: vs?.upliftLow ?? null,
      upliftHigh: vs?.upliftHigh ?? null,
      relativeUplift: vs?.relativeUplift ?? null,
      pValue: vs?.pValue ?? null,
      probabilityToBeatControl: vs?.probabilityToBeatControl ?? null,
      medianTimeToConvertSeconds: medianOrNull(c?.seconds ?? []),
      timeToConvertPValue:
        arm.name === control ? null : rankSumPValue(c?.seconds ?? [], controlSeconds),
    };
  });

  let status: ExperimentStatus = experiment.status;
  let winner = experiment.winner;
  if (experiment.status === 'RUNNING' && s.goalWithinMs !== null && control !== null) {
    const decided = await decideOnHorizon(tx, s, experiment, arms, control);
    if (decided) {
      status = 'WINNER_DECLARED';
      winner = decided;
    }
  }
  return {
    triggerId: s.triggerId,
    step: s.step,
    experimentId: experiment.id,
    name: experiment.name,
    status,
    control,
    winner,
    requiredSamplePerVariant: experiment.required_sample_per_variant,
    variants,
  };
}

/**
 * The fixed-horizon decision: null until every active arm (weight > 0, and the control) has
 * `required` runs whose goal window closed; then each arm is compared with the control on its
 * first `required` runs, at α split evenly over the comparisons (Bonferroni). The winner is
 * the best arm significantly above control, or the control when every other arm is
 * significantly below it; a holdout never wins. Otherwise null (no difference found).
 */
async function decideOnHorizon(
  tx: Tx,
  s: { tenantId: string; goalWithinMs: number | null; nowMs: number },
  experiment: ExperimentRow,
  arms: readonly ExperimentVariantSnapshot[],
  control: string,
): Promise<string | null> {
  const required = experiment.required_sample_per_variant;
  const active = arms.filter((a) => a.weight > 0 || a.name === control);
  const cohort = await rows<{ variant: string; trials: number; conversions: number }>(
    tx,
    `WITH ranked AS (
       SELECT x.variant, x.enrollment_id,
         row_number() OVER (PARTITION BY x.variant ORDER BY x.entered_at, x.enrollment_id) AS rn
       FROM experiment_entries x
       WHERE x.tenant_id = $1 AND x.experiment_id = $2 AND x.entered_at <= $3)
     SELECT r.variant, count(*)::int AS trials, count(c.enrollment_id)::int AS conversions
     FROM ranked r
     LEFT JOIN conversions c ON c.tenant_id = $1 AND c.enrollment_id = r.enrollment_id
     WHERE r.rn <= $4
     GROUP BY r.variant`,
    [s.tenantId, experiment.id, new Date(s.nowMs - (s.goalWithinMs ?? 0)), required],
  );
  const of = (name: string): Proportion => {
    const c = cohort.find((r) => r.variant === name);
    return { conversions: c?.conversions ?? 0, trials: c?.trials ?? 0 };
  };
  if (active.some((a) => of(a.name).trials < required)) return null;

  const others = active.filter((a) => a.name !== control);
  if (others.length === 0) return null;
  const alpha = ALPHA / others.length;
  const compared = others.map((a) => ({ arm: a, vs: compareToControl(of(a.name), of(control))! }));
  const better = compared
    .filter((c) => !c.arm.isHoldout && c.vs.uplift > 0 && c.vs.pValue < alpha)
    .sort((x, y) => y.vs.uplift - x.vs.uplift);
  if (better.length > 0) return better[0].arm.name;
  const controlIsHoldout = arms.find((a) => a.name === control)?.isHoldout ?? false;
  const allWorse = compared.every((c) => c.vs.uplift < 0 && c.vs.pValue < alpha);
  return allWorse && !controlIsHoldout ? control : null;
}
