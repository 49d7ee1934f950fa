import { InputProblem } from '../src/errors';
import { parseFrequencyCaps } from '../src/engine/caps/frequency-cap';

/**
 * C11 settings: caps count marketing only, per channel or across channels; max 0 is an explicit
 * "block everything", negative values are refused at save.
 */

function problemOf(input: unknown[]): { path: string; problem: string } {
  try {
    parseFrequencyCaps(input);
  } catch (err) {
    if (err instanceof InputProblem) return { path: err.path, problem: err.problem };
    throw err;
  }
  throw new Error('expected an InputProblem');
}

describe('frequency caps', () => {
  it('parses a cross-channel cap and a per-channel cap', () => {
    expect(
      parseFrequencyCaps([
        { purpose: 'MARKETING', channel: null, max: 3, within: 'P7D' },
        { channel: 'SMS', max: 1, within: 'PT24H' },
      ]),
    ).toEqual([
      { purpose: 'MARKETING', channel: null, max: 3, within: 'P7D', withinMs: 7 * 86_400_000 },
      { purpose: 'MARKETING', channel: 'SMS', max: 1, within: 'PT24H', withinMs: 86_400_000 },
    ]);
  });

  it('an empty list means no caps', () => {
    expect(parseFrequencyCaps([])).toEqual([]);
  });

  it('max 0 is accepted: it blocks every marketing send on that scope', () => {
    expect(parseFrequencyCaps([{ channel: 'EMAIL', max: 0, within: 'P1D' }])[0].max).toBe(0);
  });

  it.each<[unknown, string]>([
    [-1, 'negative'],
    [1.5, 'fractional'],
    ['3', 'a string'],
    [undefined, 'missing'],
    [10_001, 'too large'],
  ])('max %p (%s) is refused at frequencyCaps.0.max', (max) => {
    const found = problemOf([{ channel: null, max, within: 'P7D' }]);
    expect(found.path).toBe('frequencyCaps.0.max');
    expect(found.problem).toMatch(/integer from 0/);
  });

  it('TRANSACTIONAL is refused: transactional messages are never capped', () => {
    expect(problemOf([{ purpose: 'TRANSACTIONAL', max: 3, within: 'P7D' }])).toEqual({
      path: 'frequencyCaps.0.purpose',
      problem: 'transactional messages are never capped',
    });
    expect(problemOf([{ purpose: 'PROMO', max: 3, within: 'P7D' }]).path).toBe(
      'frequencyCaps.0.purpose',
    );
  });

  it('an unknown channel is refused at its channel', () => {
    expect(problemOf([{ channel: 'FAX', max: 3, within: 'P7D' }]).path).toBe(
      'frequencyCaps.0.channel',
    );
  });

  it.each([['PT0S'], ['P0D'], ['P367D'], ['P1M'], ['soon'], [7]])(
    'within %p is refused at frequencyCaps.1.within',
    (within) => {
      const found = problemOf([
        { max: 3, within: 'P7D' },
        { channel: 'PUSH', max: 3, within },
      ]);
      expect(found.path).toBe('frequencyCaps.1.within');
    },
  );

  it('P366D is the longest window', () => {
    expect(parseFrequencyCaps([{ max: 3, within: 'P366D' }])[0].withinMs).toBe(366 * 86_400_000);
  });

  it('two caps on the same purpose and channel are refused at the second', () => {
    const sameChannel = problemOf([
      { channel: 'SMS', max: 1, within: 'P1D' },
      { channel: 'EMAIL', max: 1, within: 'P1D' },
      { channel: 'SMS', max: 5, within: 'P7D' },
    ]);
    expect(sameChannel.path).toBe('frequencyCaps.2.channel');
    expect(sameChannel.problem).toMatch(/frequencyCaps\.0/);
    expect(
      problemOf([
        { max: 3, within: 'P7D' },
        { channel: null, max: 5, within: 'P30D' },
      ]).path,
    ).toBe('frequencyCaps.1.channel');
  });

  it('at most 10 caps', () => {
    const eleven = Array.from({ length: 11 }, () => ({ max: 1, within: 'P1D' }));
    expect(problemOf(eleven).path).toBe('frequencyCaps');
  });

  it('an item that is not an object is refused at its index', () => {
    expect(problemOf([null]).path).toBe('frequencyCaps.0');
    expect(problemOf(['P7D']).path).toBe('frequencyCaps.0');
  });
});
