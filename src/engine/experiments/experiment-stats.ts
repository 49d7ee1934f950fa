import { jStat } from 'jstat';

// simple-statistics' type declarations are ESM-only, which a CommonJS module may not import
// (TS1479); its CommonJS build is what `require` loads.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { median, wilcoxonRankSum } = require('simple-statistics') as {
  median(values: number[]): number;
  wilcoxonRankSum(x: number[], y: number[]): number;
};

/** Conversions out of trials (runs that entered a variant). */
export interface Proportion {
  conversions: number;
  trials: number;
}

/** How a variant compares with the control. All rates are fractions (0.04 = 4 points). */
export interface Comparison {
  /** Variant rate minus control rate. */
  uplift: number;
  /** `uplift` divided by the control rate; null when the control rate is 0. */
  relativeUplift: number | null;
  /** 95 % Wald interval of the difference (unpooled standard error). */
  upliftLow: number;
  upliftHigh: number;
  /** Pooled two-proportion z statistic; 0 when both rates are 0 or 1. */
  z: number;
  /** Two-sided p-value of `z`. */
  pValue: number;
  /** P(variant rate > control rate) under uniform-prior Beta posteriors (exact). */
  probabilityToBeatControl: number;
}

const Z_95 = jStat.normal.inv(0.975, 0, 1);

/** conversions / trials, or null without trials. */
export function rateOf(p: Proportion): number | null {
  return p.trials === 0 ? null : p.conversions / p.trials;
}

/**
 * Compares a variant with the control: the pooled two-proportion z-test (two-sided), the
 * 95 % interval of the difference, and the Bayesian probability to beat control. Null when
 * either side has no trials. Pure; textbook check: 200/1000 vs 240/1000 gives z ≈ 2.159,
 * p ≈ 0.0308, P ≈ 0.985 (test/experiment-stats.test.ts).
 */
export function compareToControl(variant: Proportion, control: Proportion): Comparison | null {
  if (variant.trials === 0 || control.trials === 0) return null;
  const pv = variant.conversions / variant.trials;
  const pc = control.conversions / control.trials;
  const uplift = pv - pc;

  const pooled = (variant.conversions + control.conversions) / (variant.trials + control.trials);
  const pooledSe = Math.sqrt(pooled * (1 - pooled) * (1 / variant.trials + 1 / control.trials));
  const z = pooledSe === 0 ? 0 : uplift / pooledSe;
  const pValue = pooledSe === 0 ? 1 : 2 * (1 - jStat.normal.cdf(Math.abs(z), 0, 1));

  const se = Math.sqrt((pv * (1 - pv)) / variant.trials + (pc * (1 - pc)) / control.trials);
  return {
    uplift,
    relativeUplift: pc === 0 ? null : uplift / pc,
    upliftLow: uplift - Z_95 * se,
    upliftHigh: uplift + Z_95 * se,
    z,
    pValue: Math.min(1, Math.max(0, pValue)),
    probabilityToBeatControl: probabilityToBeat(variant, control),
  };
}

/**
 * P(B > A) for A ~ Beta(1 + a.conversions, 1 + a misses) and B likewise: the exact sum
 * (Evan Miller, "Formulas for Bayesian A/B testing"), computed in log space with jStat's log
 * beta function. Deterministic (no sampling). O(b.conversions) terms.
 */
export function probabilityToBeat(b: Proportion, a: Proportion): number {
  const alphaA = 1 + a.conversions;
  const betaA = 1 + a.trials - a.conversions;
  const alphaB = 1 + b.conversions;
  const betaB = 1 + b.trials - b.conversions;
  const base = jStat.betaln(alphaA, betaA);
  let total = 0;
  for (let i = 0; i < alphaB; i++) {
    total += Math.exp(
      jStat.betaln(alphaA + i, betaA + betaB) -
        Math.log(betaB + i) -
        jStat.betaln(1 + i, betaB) -
        base,
    );
  }
  return Math.min(1, Math.max(0, total));
}

/**
 * Runs each arm needs for a two-sided test at `alpha` with `power` to detect an absolute
 * difference `mde` from a control rate `baseline` (the classical normal-approximation formula
 * with the pooled variance under the null, no continuity correction):
 *
 *   n = (z(1-α/2)·√(2·p̄·(1-p̄)) + z(power)·√(p1(1-p1) + p2(1-p2)))² / mde², p2 = p1 + mde
 *
 * Rounded up. Example: baseline 0.10, mde 0.02, α 0.05, power 0.8 → 3,841 per arm.
 */
export function requiredSamplePerVariant(
  baseline: number,
  mde: number,
  alpha = 0.05,
  power = 0.8,
): number {
  const p1 = baseline;
  const p2 = baseline + mde;
  const mean = (p1 + p2) / 2;
  const zAlpha = jStat.normal.inv(1 - alpha / 2, 0, 1);
  const zPower = jStat.normal.inv(power, 0, 1);
  const root =
    zAlpha * Math.sqrt(2 * mean * (1 - mean)) + zPower * Math.sqrt(p1 * (1 - p1) + p2 * (1 - p2));
  return Math.ceil((root * root) / (mde * mde));
}

/** The median of some numbers, or null for none. */
export function medianOrNull(values: readonly number[]): number | null {
  return values.length === 0 ? null : median([...values]);
}

/**
 * Two-sided p-value of the Mann–Whitney U test that two samples (times to convert, in any
 * unit) come from the same distribution: the rank sum from simple-statistics, the normal
 * approximation with the tie correction and a continuity correction of 0.5. Null when either
 * sample is empty. Check: [1, 2, 3] against [4, 5, 6] gives U = 0, z = −1.746, p = 0.0809.
 */
export function rankSumPValue(x: readonly number[], y: readonly number[]): number | null {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) return null;
  const n = n1 + n2;
  const u = wilcoxonRankSum([...x], [...y]) - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const ties = new Map<number, number>();
  for (const v of [...x, ...y]) ties.set(v, (ties.get(v) ?? 0) + 1);
  let tieSum = 0;
  for (const t of ties.values()) tieSum += t * t * t - t;
  const variance = ((n1 * n2) / 12) * (n + 1 - tieSum / (n * (n - 1)));
  if (variance <= 0) return 1;
  const z = Math.max(0, Math.abs(u - mean) - 0.5) / Math.sqrt(variance);
  return Math.min(1, 2 * (1 - jStat.normal.cdf(z, 0, 1)));
}
