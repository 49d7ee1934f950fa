/*
 * simple-statistics ships a CommonJS build (its `require` export) but only ESM-flavoured type
 * declarations, which TypeScript refuses to import from a CommonJS module (TS1479).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { errorFunction } = require('simple-statistics') as { errorFunction(x: number): number };

/** A group's conversion: `converted` of `customers`, and the rate (null for an empty group). */
export interface GroupRate {
  customers: number;
  converted: number;
  rate: number | null;
}

/** The comparison of the group with the pattern against the group without it. */
export interface RateComparison {
  /** Rate ratio with / without; null when the rate without is 0 or a group is empty. */
  lift: number | null;
  /** 95 % interval of the ratio (Katz log method); null when either group converted none. */
  liftLow: number | null;
  liftHigh: number | null;
  /** Two-sided p of the pooled two-proportion z-test; null when it is undefined. */
  pValue: number | null;
}

/**
 * The 0.975 quantile of the standard normal distribution. Written out: simple-statistics'
 * `probit` is an approximation good to about three digits (1.9572), not enough here.
 */
const Z_975 = 1.959963984540054;

export function groupRate(customers: number, converted: number): GroupRate {
  return { customers, converted, rate: customers > 0 ? converted / customers : null };
}

/**
 * Compares two groups' conversion rates. The lift is the rate ratio; its interval is
 * exp(ln RR ± 1.96·SE) with SE = √(1/a − 1/n₁ + 1/c − 1/n₂) (Katz et al., 1978), which needs
 * a converted customer in each group. The p-value tests equal rates with the pooled normal
 * approximation (z = (p₁ − p₂) / √(p̂(1 − p̂)(1/n₁ + 1/n₂))), via simple-statistics' error
 * function (absolute error ≈ 1e-7, so tiny p-values are approximate). Pure.
 */
export function compareRates(withPattern: GroupRate, withoutPattern: GroupRate): RateComparison {
  const { customers: n1, converted: a } = withPattern;
  const { customers: n2, converted: c } = withoutPattern;
  if (n1 === 0 || n2 === 0) return { lift: null, liftLow: null, liftHigh: null, pValue: null };

  const r1 = a / n1;
  const r2 = c / n2;
  const lift = r2 > 0 ? r1 / r2 : null;

  let liftLow: number | null = null;
  let liftHigh: number | null = null;
  if (a > 0 && c > 0) {
    const se = Math.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n2);
    liftLow = Math.exp(Math.log(r1 / r2) - Z_975 * se);
    liftHigh = Math.exp(Math.log(r1 / r2) + Z_975 * se);
  }

  const pooled = (a + c) / (n1 + n2);
  const variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2);
  let pValue: number | null = null;
  if (variance > 0) {
    const z = (r1 - r2) / Math.sqrt(variance);
    pValue = Math.min(1, Math.max(0, 1 - errorFunction(Math.abs(z) / Math.SQRT2)));
  }
  return { lift, liftLow, liftHigh, pValue };
}
