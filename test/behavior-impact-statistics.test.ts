import { compareRates, groupRate } from '../src/engine/impact/impact-statistics';

describe('behaviour impact statistics', () => {
  it('gives the rate ratio, its Katz 95 % interval and the two-proportion z-test p', () => {
    // 240/1000 against 200/1000: z = 2.159, p = 0.0308 (STACK.md's reference pair).
    const result = compareRates(groupRate(1000, 240), groupRate(1000, 200));
    expect(result.lift).toBeCloseTo(1.2, 12);
    const se = Math.sqrt(1 / 240 - 1 / 1000 + 1 / 200 - 1 / 1000);
    expect(result.liftLow).toBeCloseTo(1.2 * Math.exp(-1.959964 * se), 5);
    expect(result.liftHigh).toBeCloseTo(1.2 * Math.exp(1.959964 * se), 5);
    expect(result.liftLow).toBeCloseTo(1.01653, 4);
    expect(result.liftHigh).toBeCloseTo(1.41658, 4);
    expect(result.pValue).toBeCloseTo(0.0308, 4);
  });

  it('is symmetric in p and inverts the lift when the groups swap', () => {
    const a = compareRates(groupRate(300, 45), groupRate(500, 50));
    const b = compareRates(groupRate(500, 50), groupRate(300, 45));
    expect(a.pValue).toBeCloseTo(b.pValue!, 12);
    expect(a.lift! * b.lift!).toBeCloseTo(1, 12);
    expect(a.liftLow! * b.liftHigh!).toBeCloseTo(1, 12);
  });

  it('leaves undefined figures null instead of inventing them', () => {
    expect(groupRate(0, 0).rate).toBeNull();
    expect(compareRates(groupRate(0, 0), groupRate(10, 1))).toEqual({
      lift: null,
      liftLow: null,
      liftHigh: null,
      pValue: null,
    });
    // Nobody without the pattern converted: no ratio, no interval, but a test of equal rates.
    const noneWithout = compareRates(groupRate(10, 4), groupRate(50, 0));
    expect(noneWithout.lift).toBeNull();
    expect(noneWithout.liftLow).toBeNull();
    expect(noneWithout.pValue).toBeLessThan(0.001);
    // Nobody with it converted: the ratio is 0, its log interval undefined.
    const noneWith = compareRates(groupRate(10, 0), groupRate(50, 5));
    expect(noneWith.lift).toBe(0);
    expect(noneWith.liftHigh).toBeNull();
    // Nobody converted at all: no variance, no p.
    expect(compareRates(groupRate(10, 0), groupRate(50, 0)).pValue).toBeNull();
  });
});
