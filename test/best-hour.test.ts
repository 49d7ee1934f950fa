import {
  chooseBestHour,
  emptyHistogram,
  localHour,
  smoothedScores,
} from '../src/engine/engagement/best-hour';
import { parseSendTime } from '../src/engine/time/send-time';
import { InputProblem } from '../src/errors';

const H = 3_600_000;
const histogram = (counts: Record<number, number>) => {
  const h = emptyHistogram();
  for (const [hour, n] of Object.entries(counts)) h[Number(hour)] = n;
  return h;
};
const at = (iso: string) => Date.parse(iso);

describe('BEST_HOUR: choosing the send time', () => {
  it('waits for the start of the hour the customer opens in, in their zone', () => {
    const choice = chooseBestHour({
      dueMs: at('2027-01-04T09:30:00Z'),
      withinMs: 24 * H,
      zone: 'Europe/Berlin',
      customer: histogram({ 19: 5 }),
      tenant: histogram({ 19: 5, 12: 40 }),
    });
    // 19:00 Berlin in winter is 18:00Z.
    expect(new Date(choice!.atMs).toISOString()).toBe('2027-01-04T18:00:00.000Z');
    expect(choice).toMatchObject({ hour: 19, customerEngagements: 5, tenantEngagements: 45 });
  });

  it("smooths toward the tenant: one open does not beat the tenant's peak, five do", () => {
    const tenant = histogram({ 12: 90, 19: 10 });
    const one = smoothedScores(histogram({ 19: 1 }), tenant);
    expect(one[12]).toBeCloseTo(3.6, 12); // 4 pseudo-counts × 0.9
    expect(one[19]).toBeCloseTo(1.4, 12); // 1 + 4 × 0.1
    const five = smoothedScores(histogram({ 19: 5 }), tenant);
    expect(five[19]).toBeGreaterThan(five[12]);
  });

  it("gives a customer without history the tenant's peak, and shifts nothing without data", () => {
    const base = { dueMs: at('2027-01-04T09:30:00Z'), withinMs: 24 * H, zone: 'UTC' };
    const newcomer = chooseBestHour({
      ...base,
      customer: emptyHistogram(),
      tenant: histogram({ 14: 3, 8: 1 }),
    });
    expect(newcomer!.hour).toBe(14);
    expect(newcomer!.atMs).toBe(at('2027-01-04T14:00:00Z'));
    expect(chooseBestHour({ ...base, customer: emptyHistogram(), tenant: emptyHistogram() })).toBe(
      null,
    );
  });

  it('keeps the due time when it already lies in the best hour', () => {
    const choice = chooseBestHour({
      dueMs: at('2027-01-04T19:40:00Z'),
      withinMs: 24 * H,
      zone: 'UTC',
      customer: histogram({ 19: 3 }),
      tenant: histogram({ 19: 3 }),
    });
    expect(choice!.atMs).toBe(at('2027-01-04T19:40:00Z'));
  });

  it('only considers hours reachable within the bound, preferring the earlier on a tie', () => {
    const choice = chooseBestHour({
      dueMs: at('2027-01-04T09:30:00Z'),
      withinMs: 3 * H,
      zone: 'UTC',
      customer: histogram({ 19: 9, 11: 2, 12: 2 }),
      tenant: histogram({ 19: 9, 11: 2, 12: 2 }),
    });
    expect(choice!.atMs).toBe(at('2027-01-04T11:00:00Z'));
  });

  it('reads hours across a DST change: 19:00 Berlin is 18:00Z in March before, 17:00Z after', () => {
    const customer = histogram({ 19: 4 });
    const before = chooseBestHour({
      dueMs: at('2027-03-27T10:00:00Z'),
      withinMs: 24 * H,
      zone: 'Europe/Berlin',
      customer,
      tenant: customer,
    });
    const after = chooseBestHour({
      dueMs: at('2027-03-28T10:00:00Z'),
      withinMs: 24 * H,
      zone: 'Europe/Berlin',
      customer,
      tenant: customer,
    });
    expect(new Date(before!.atMs).toISOString()).toBe('2027-03-27T18:00:00.000Z');
    expect(new Date(after!.atMs).toISOString()).toBe('2027-03-28T17:00:00.000Z');
    // An open at 18:30Z is 19:xx local in winter and 20:xx in summer.
    expect(localHour('Europe/Berlin', at('2027-03-27T18:30:00Z'))).toBe(19);
    expect(localHour('Europe/Berlin', at('2027-03-28T18:30:00Z'))).toBe(20);
  });

  it('moves an hour that the spring-forward gap skips to the end of the gap', () => {
    const choice = chooseBestHour({
      dueMs: at('2027-03-28T00:10:00Z'), // 01:10 CET
      withinMs: 6 * H,
      zone: 'Europe/Berlin',
      customer: histogram({ 2: 5 }),
      tenant: histogram({ 2: 5 }),
    });
    // 02:00 does not exist that night; 03:00 CEST (01:00Z) is when the clock passes it.
    expect(new Date(choice!.atMs).toISOString()).toBe('2027-03-28T01:00:00.000Z');
  });
});

describe('sendTime validation', () => {
  it('defaults within to PT24H and bounds it to PT1H..P7D', () => {
    expect(parseSendTime({ mode: 'BEST_HOUR' })).toEqual({
      mode: 'BEST_HOUR',
      within: 'PT24H',
      withinMs: 24 * H,
    });
    const problemAt = (input: { mode: string; within?: string }) => {
      try {
        parseSendTime(input);
      } catch (err) {
        return (err as InputProblem).path;
      }
      return null;
    };
    expect(problemAt({ mode: 'BEST_HOUR', within: 'PT30M' })).toBe('within');
    expect(problemAt({ mode: 'BEST_HOUR', within: 'P8D' })).toBe('within');
    expect(problemAt({ mode: 'SOON' })).toBe('mode');
  });
});
