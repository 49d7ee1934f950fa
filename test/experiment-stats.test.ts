import {
  compareToControl,
  medianOrNull,
  probabilityToBeat,
  rankSumPValue,
  rateOf,
  requiredSamplePerVariant,
} from '../src/engine/experiments/experiment-stats';
import { bucketOf, pickVariant } from '../src/engine/experiments/experiment-assignment';
import type { StepVariant } from '../src/engine/triggers/trigger-definition';

describe('experiment statistics against textbook values', () => {
  it('200/1000 vs 240/1000: z = 2.159, two-sided p = 0.0308, uplift 0.04 with 95 % CI [0.0037, 0.0763]', () => {
    // By hand: pooled p = 0.22, SE = √(0.22·0.78·2/1000) = 0.018526, z = 0.04 / SE = 2.1592;
    // unpooled SE = √(0.2·0.8/1000 + 0.24·0.76/1000) = 0.018504, 1.95996·SE = 0.036268.
    const vs = compareToControl(
      { conversions: 240, trials: 1000 },
      { conversions: 200, trials: 1000 },
    )!;
    expect(vs.z).toBeCloseTo(2.1592, 4);
    expect(vs.pValue).toBeCloseTo(0.0308, 4);
    expect(vs.uplift).toBeCloseTo(0.04, 10);
    expect(vs.relativeUplift).toBeCloseTo(0.2, 10);
    expect(vs.upliftLow).toBeCloseTo(0.003733, 5);
    expect(vs.upliftHigh).toBeCloseTo(0.076267, 5);
    expect(vs.probabilityToBeatControl).toBeCloseTo(0.985, 3);
  });

  it('the comparison is symmetric: the control against the variant mirrors z, p and P', () => {
    const ab = compareToControl(
      { conversions: 240, trials: 1000 },
      { conversions: 200, trials: 1000 },
    )!;
    const ba = compareToControl(
      { conversions: 200, trials: 1000 },
      { conversions: 240, trials: 1000 },
    )!;
    expect(ba.z).toBeCloseTo(-ab.z, 10);
    expect(ba.pValue).toBeCloseTo(ab.pValue, 10);
    expect(ba.probabilityToBeatControl).toBeCloseTo(1 - ab.probabilityToBeatControl, 6);
  });

  it('equal rates: z = 0, p = 1, P(beat) = 0.5; no difference at all when both are 0', () => {
    const same = compareToControl(
      { conversions: 50, trials: 500 },
      { conversions: 50, trials: 500 },
    )!;
    expect(same.z).toBeCloseTo(0, 10);
    expect(same.pValue).toBeCloseTo(1, 10);
    expect(same.probabilityToBeatControl).toBeCloseTo(0.5, 6);
    const none = compareToControl({ conversions: 0, trials: 10 }, { conversions: 0, trials: 10 })!;
    expect(none.pValue).toBe(1);
    expect(none.relativeUplift).toBeNull();
    expect(
      compareToControl({ conversions: 0, trials: 0 }, { conversions: 1, trials: 5 }),
    ).toBeNull();
  });

  it('P(B > A) is exact for small counts: 1/1 vs 0/1 (uniform priors) is 5/6', () => {
    // A ~ Beta(1, 2), B ~ Beta(2, 1): P(B > A) = ∫ 2b·P(A < b) db = ∫ 2b(2b − b²) db
    // = 4/3 − 1/2 = 5/6.
    expect(
      probabilityToBeat({ conversions: 1, trials: 1 }, { conversions: 0, trials: 1 }),
    ).toBeCloseTo(5 / 6, 10);
    expect(
      probabilityToBeat({ conversions: 0, trials: 0 }, { conversions: 0, trials: 0 }),
    ).toBeCloseTo(0.5, 10);
  });

  it('required sample per arm: 10 % → 12 % needs 3,841 and 20 % → 25 % needs 1,094 (α 0.05, power 0.8)', () => {
    // n = (1.95996·√(2·0.11·0.89) + 0.84162·√(0.09 + 0.1056))² / 0.02² = 3840.9 → 3,841.
    expect(requiredSamplePerVariant(0.1, 0.02)).toBe(3841);
    expect(requiredSamplePerVariant(0.2, 0.05)).toBe(1094);
    // A stricter α (Bonferroni over two comparisons) needs more.
    expect(requiredSamplePerVariant(0.1, 0.02, 0.025)).toBeGreaterThan(3841);
  });

  it('time to convert: Mann–Whitney [1, 2, 3] vs [4, 5, 6] gives p = 0.0809 (U = 0, continuity-corrected)', () => {
    // mean U = 4.5, var = 3·3/12·7 = 5.25, z = (4.5 − 0.5)/√5.25 = 1.7457, p = 2(1 − Φ(z)).
    expect(rankSumPValue([1, 2, 3], [4, 5, 6])).toBeCloseTo(0.0809, 4);
    expect(rankSumPValue([4, 5, 6], [1, 2, 3])).toBeCloseTo(0.0809, 4);
    expect(rankSumPValue([5, 5, 5], [5, 5])).toBe(1);
    expect(rankSumPValue([], [1])).toBeNull();
  });

  it('rates and medians of nothing are null', () => {
    expect(rateOf({ conversions: 0, trials: 0 })).toBeNull();
    expect(rateOf({ conversions: 1, trials: 4 })).toBe(0.25);
    expect(medianOrNull([])).toBeNull();
    expect(medianOrNull([3, 1, 2, 10])).toBe(2.5);
  });
});

describe('assignment buckets', () => {
  const variant = (name: string, weight: number): StepVariant => ({
    name,
    weight,
    delay: null,
    delayMs: null,
    template: null,
    isHoldout: false,
  });

  it('the same (tenant, experiment, customer) always gives the same bucket; another experiment draws afresh', () => {
    expect(bucketOf('t1', 'x1', 'c1')).toBe(bucketOf('t1', 'x1', 'c1'));
    const ids = Array.from({ length: 1000 }, (_, i) => `c${i}`);
    const split = [variant('A', 50), variant('B', 50)];
    const first = ids.map((c) => pickVariant(bucketOf('t1', 'x1', c), split)!.name);
    const second = ids.map((c) => pickVariant(bucketOf('t1', 'x2', c), split)!.name);
    const same = first.filter((v, i) => v === second[i]).length;
    expect(same).toBeGreaterThan(400);
    expect(same).toBeLessThan(600);
  });

  it('weights split 1,000 customers 50/50 within ±47, and a 0 % variant gets nobody', () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `cust-${18000 + i}`);
    const counts = (vs: StepVariant[]) => {
      const out: Record<string, number> = {};
      for (const c of ids) {
        const v = pickVariant(bucketOf('tenant', 'experiment', c), vs)!.name;
        out[v] = (out[v] ?? 0) + 1;
      }
      return out;
    };
    const even = counts([variant('A', 50), variant('B', 50)]);
    expect(Math.abs(even.A - 500)).toBeLessThanOrEqual(47);
    expect(even.A + even.B).toBe(1000);
    const zero = counts([variant('A', 0), variant('B', 50), variant('C', 50)]);
    expect(zero.A).toBeUndefined();
    expect(pickVariant(0.5, [variant('A', 0)])).toBeNull();
  });
});
