import { InputProblem } from '../../errors';

/** Expected control conversion rate when the tenant gives none (see docs/experiments.md). */
export const DEFAULT_BASELINE_RATE = 0.1;
/** Smallest absolute difference in conversion rate the test is sized to find: 2 points. */
export const DEFAULT_MINIMUM_DETECTABLE_EFFECT = 0.02;

/** How a step's variants are run as an experiment. Part of a trigger version's definition. */
export interface StepExperimentSettings {
  /** The test's name; a different name on an edit starts a new test. Null: unnamed. */
  name: string | null;
  /** The variant the others are compared with; null: the first variant. */
  control: string | null;
  baselineRate: number;
  minimumDetectableEffect: number;
}

export interface StepExperimentInput {
  name?: string | null;
  control?: string | null;
  baselineRate?: number | null;
  minimumDetectableEffect?: number | null;
}

/** The variant fields the experiment rules look at. */
interface VariantLike {
  name: string;
  weight: number;
  isHoldout: boolean;
}

/**
 * Validates a step's experiment settings against its variants. Throws `InputProblem` with a
 * path under `path` (`steps.0.experiment.control`). Without settings, a step with variants is
 * still an experiment, with defaults.
 */
export function parseExperimentSettings(
  input: StepExperimentInput | null | undefined,
  variants: readonly VariantLike[],
  path: string,
): StepExperimentSettings | null {
  if (!input) return null;
  if (variants.length === 0) {
    throw new InputProblem(path, 'an experiment needs variants on the step');
  }
  const name = input.name ?? null;
  if (name !== null && !/^[^\s].{0,99}$/s.test(name)) {
    throw new InputProblem(`${path}.name`, 'expected 1 to 100 characters, not starting blank');
  }
  const control = input.control ?? null;
  if (control !== null && !variants.some((v) => v.name === control)) {
    throw new InputProblem(`${path}.control`, 'expected the name of one of the step’s variants');
  }
  const baselineRate = input.baselineRate ?? DEFAULT_BASELINE_RATE;
  if (!(baselineRate > 0 && baselineRate < 1)) {
    throw new InputProblem(`${path}.baselineRate`, 'expected a rate above 0 and below 1');
  }
  const mde = input.minimumDetectableEffect ?? DEFAULT_MINIMUM_DETECTABLE_EFFECT;
  if (!(mde > 0 && baselineRate + mde < 1)) {
    throw new InputProblem(
      `${path}.minimumDetectableEffect`,
      'expected an absolute rate difference above 0 with baselineRate + it below 1',
    );
  }
  return { name, control, baselineRate, minimumDetectableEffect: mde };
}

/** Checks the holdout rules of a step's variants (at most one; it carries nothing to send). */
export function checkHoldouts(
  variants: ReadonlyArray<VariantLike & { delay: string | null; template: unknown }>,
  path: string,
): void {
  let holdouts = 0;
  variants.forEach((v, i) => {
    if (!v.isHoldout) return;
    holdouts += 1;
    if (holdouts > 1) throw new InputProblem(`${path}.${i}.holdout`, 'at most one holdout');
    if (v.delay !== null || v.template !== null) {
      throw new InputProblem(
        `${path}.${i}`,
        'a holdout sends nothing: give it no delay or template',
      );
    }
  });
}

/** The settings in effect for a step with variants: its own, or the defaults. */
export function effectiveSettings(settings: StepExperimentSettings | null): StepExperimentSettings {
  return (
    settings ?? {
      name: null,
      control: null,
      baselineRate: DEFAULT_BASELINE_RATE,
      minimumDetectableEffect: DEFAULT_MINIMUM_DETECTABLE_EFFECT,
    }
  );
}
