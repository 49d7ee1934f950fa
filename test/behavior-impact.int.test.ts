import { DEFAULT_REPLAY_FILE } from '../scripts/replay';
import { readRetailRocketEvents, toTrackInput } from '../scripts/lib/retailrocket-events';
import { startTestNudge, type TestNudge } from './support/harness';
import {
  createApiKey,
  createTenantWithKey,
  expectGraphQLError,
  uniq,
} from './support/graphql-helpers';

/**
 * behaviorImpact over stored history (docs/behavior-impact.md): the groups and counts on a
 * hand-made fixture whose answer is worked out below, the same figures from an independent
 * recount in plain TypeScript, the real RetailRocket sample against that recount, tenant
 * isolation, and coded errors for bad input.
 */

const QUERY = `query($input: BehaviorImpactInput!) { behaviorImpact(input: $input) {
  withPattern { customers converted rate } withoutPattern { customers converted rate }
  lift liftLow liftHigh pValue incomplete from to } }`;

interface Row {
  customer: string;
  event: string;
  at: string;
  properties?: Record<string, unknown>;
}

interface Part {
  event: string;
  within: string;
  atLeast?: number;
  where?: { field: string; op: 'eq' | 'gt'; value: string | number };
}

interface Question {
  pattern: { all: Part[] };
  outcome: { event: string; where?: Part['where'] };
  window: string;
  from: string;
  to: string;
}

const DAY_MS = 86_400_000;
const durationMs = (iso: string): number => {
  const m = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?)?$/.exec(iso);
  if (!m) throw new Error(`test recount reads only PnD / PTnH durations, not ${iso}`);
  return Number(m[1] ?? 0) * DAY_MS + Number(m[2] ?? 0) * 3_600_000;
};

const holds = (where: Part['where'], properties: Record<string, unknown>): boolean => {
  if (!where) return true;
  const value = properties[where.field.replace('event.properties.', '')];
  if (where.op === 'eq') return value === where.value;
  return typeof value === 'number' && value > (where.value as number);
};

/**
 * The definition written out once more, naively and apart from the SQL: per customer, try
 * the instant of every event in range named in the pattern as the anchor, counting each part
 * over (t − within, t] by scanning all of the customer's events.
 */
function recount(events: Row[], q: Question, nowMs: number) {
  const fromMs = Date.parse(q.from);
  const toMs = Date.parse(q.to);
  const windowMs = durationMs(q.window);
  const byCustomer = new Map<string, Array<Row & { ms: number }>>();
  for (const e of events) {
    const list = byCustomer.get(e.customer) ?? [];
    list.push({ ...e, ms: Date.parse(e.at) });
    byCustomer.set(e.customer, list);
  }
  const result = {
    with: { customers: 0, converted: 0 },
    without: { customers: 0, converted: 0 },
    incomplete: 0,
  };
  for (const list of byCustomer.values()) {
    const inRange = list.filter((e) => e.ms >= fromMs && e.ms < toMs);
    if (inRange.length === 0) continue;
    const completesAt = (t: number) =>
      q.pattern.all.every((part) => {
        const count = list.filter(
          (e) =>
            e.event === part.event &&
            e.ms > t - durationMs(part.within) &&
            e.ms <= t &&
            holds(part.where, e.properties ?? {}),
        ).length;
        return count >= (part.atLeast ?? 1);
      });
    const patternEvents = new Set(q.pattern.all.map((part) => part.event));
    const anchors = inRange
      .filter((e) => patternEvents.has(e.event))
      .map((e) => e.ms)
      .filter(completesAt);
    const hasPattern = anchors.length > 0;
    const anchorMs = hasPattern ? Math.min(...anchors) : Math.min(...inRange.map((e) => e.ms));
    if (anchorMs + windowMs > nowMs) {
      result.incomplete++;
      continue;
    }
    const converted = list.some(
      (e) =>
        e.event === q.outcome.event &&
        e.ms > anchorMs &&
        e.ms <= anchorMs + windowMs &&
        holds(q.outcome.where, e.properties ?? {}),
    );
    const group = hasPattern ? result.with : result.without;
    group.customers++;
    if (converted) group.converted++;
  }
  return result;
}

async function store(t: TestNudge, secret: string, events: Row[]): Promise<void> {
  for (let i = 0; i < events.length; i += 1000) {
    const batch = events.slice(i, i + 1000).map((e, j) => ({
      customerExternalId: e.customer,
      event: e.event,
      occurredAt: e.at,
      properties: e.properties ?? {},
      messageId: `fixture-${i + j}`,
    }));
    const data = await t.ok<any>(
      secret,
      `mutation($events: [TrackInput!]!) { trackBatch(events: $events) { accepted rejected { index code } } }`,
      { events: batch },
    );
    expect(data.trackBatch.rejected).toEqual([]);
  }
}

const NOW = '2027-01-10T00:00:00.000Z';
const shoes = { category: 'shoes' };
const hats = { category: 'hats' };

/**
 * Views of shoes ≥ 3 within P7D and an add-to-cart within P7D, then a purchase with a total
 * above 0 within P3D; anchors in [Jan 1, Jan 8), the clock at Jan 10 00:00.
 */
const FIXTURE: Row[] = [
  // A: completes at the add-to-cart (Jan 2 09:00), buys within 3 days → with, converted.
  { customer: 'A', event: 'view', at: '2027-01-01T10:00:00Z', properties: shoes },
  { customer: 'A', event: 'view', at: '2027-01-01T11:00:00Z', properties: shoes },
  { customer: 'A', event: 'view', at: '2027-01-01T12:00:00Z', properties: shoes },
  { customer: 'A', event: 'addtocart', at: '2027-01-02T09:00:00Z' },
  { customer: 'A', event: 'purchase', at: '2027-01-03T08:00:00Z', properties: { total: 20 } },
  // B: two views before `from` count; completes Jan 1 12:00; buys 1 h after the window.
  { customer: 'B', event: 'view', at: '2026-12-30T08:00:00Z', properties: shoes },
  { customer: 'B', event: 'view', at: '2026-12-30T09:00:00Z', properties: shoes },
  { customer: 'B', event: 'view', at: '2027-01-01T08:00:00Z', properties: shoes },
  { customer: 'B', event: 'addtocart', at: '2027-01-01T12:00:00Z' },
  { customer: 'B', event: 'purchase', at: '2027-01-04T13:00:00Z', properties: { total: 5 } },
  // C: hats do not count → without, anchored at the first event (Jan 1 09:00), converted.
  { customer: 'C', event: 'view', at: '2027-01-01T09:00:00Z', properties: hats },
  { customer: 'C', event: 'view', at: '2027-01-01T10:00:00Z', properties: hats },
  { customer: 'C', event: 'view', at: '2027-01-01T11:00:00Z', properties: hats },
  { customer: 'C', event: 'addtocart', at: '2027-01-02T00:00:00Z' },
  { customer: 'C', event: 'purchase', at: '2027-01-02T10:00:00Z', properties: { total: 9 } },
  // D: one view, nothing else → without, not converted.
  { customer: 'D', event: 'view', at: '2027-01-05T00:00:00Z', properties: shoes },
  // E: completes Jan 6 10:00; the purchase at that same instant and one after the window
  // do not count → with, not converted.
  { customer: 'E', event: 'view', at: '2027-01-06T07:00:00Z', properties: shoes },
  { customer: 'E', event: 'view', at: '2027-01-06T08:00:00Z', properties: shoes },
  { customer: 'E', event: 'view', at: '2027-01-06T09:00:00Z', properties: shoes },
  { customer: 'E', event: 'addtocart', at: '2027-01-06T10:00:00Z' },
  { customer: 'E', event: 'purchase', at: '2027-01-06T10:00:00Z', properties: { total: 3 } },
  { customer: 'E', event: 'purchase', at: '2027-01-09T10:00:01Z', properties: { total: 3 } },
  // F: the pattern completes only after `to` → without, anchored Jan 1 00:00, converted.
  { customer: 'F', event: 'view', at: '2027-01-01T00:00:00Z', properties: shoes },
  { customer: 'F', event: 'purchase', at: '2027-01-02T00:00:00Z', properties: { total: 1 } },
  { customer: 'F', event: 'view', at: '2027-01-03T00:00:00Z', properties: shoes },
  { customer: 'F', event: 'view', at: '2027-01-08T00:00:00Z', properties: shoes },
  { customer: 'F', event: 'addtocart', at: '2027-01-08T01:00:00Z' },
  // G: only before the range → not in the cohort.
  { customer: 'G', event: 'view', at: '2026-12-20T00:00:00Z', properties: shoes },
  // H: first event Jan 7 12:00, window ends Jan 10 12:00, after now → incomplete.
  { customer: 'H', event: 'view', at: '2027-01-07T12:00:00Z', properties: shoes },
  // J: the pattern held only before `from`; in range only a purchase (not a pattern event)
  // → without, anchored at that purchase, which is not after itself → not converted.
  { customer: 'J', event: 'view', at: '2026-12-31T10:00:00Z', properties: shoes },
  { customer: 'J', event: 'view', at: '2026-12-31T11:00:00Z', properties: shoes },
  { customer: 'J', event: 'view', at: '2026-12-31T12:00:00Z', properties: shoes },
  { customer: 'J', event: 'addtocart', at: '2026-12-31T13:00:00Z' },
  { customer: 'J', event: 'purchase', at: '2027-01-01T06:00:00Z', properties: { total: 7 } },
  // I: a purchase with total 0 fails the outcome's where → without, not converted.
  { customer: 'I', event: 'view', at: '2027-01-02T00:00:00Z', properties: hats },
  { customer: 'I', event: 'purchase', at: '2027-01-03T00:00:00Z', properties: { total: 0 } },
];

const FIXTURE_QUESTION: Question = {
  pattern: {
    all: [
      {
        event: 'view',
        atLeast: 3,
        within: 'P7D',
        where: { field: 'event.properties.category', op: 'eq', value: 'shoes' },
      },
      { event: 'addtocart', within: 'P7D' },
    ],
  },
  outcome: { event: 'purchase', where: { field: 'event.properties.total', op: 'gt', value: 0 } },
  window: 'P3D',
  from: '2027-01-01T00:00:00.000Z',
  to: '2027-01-08T00:00:00.000Z',
};

describe('behaviorImpact over stored history', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
    await t.setClock(NOW);
  });

  afterAll(async () => {
    await t?.stop();
  });

  it('splits the cohort by whether and when the pattern completed, and counts outcomes in the window after it', async () => {
    const tenant = await createTenantWithKey(t, `impact-${uniq()}`);
    await store(t, tenant.secret, FIXTURE);
    const other = await createTenantWithKey(t, `impact-other-${uniq()}`);
    // Another tenant's customer A converting with the pattern must not reach these figures.
    await store(
      t,
      other.secret,
      FIXTURE.filter((e) => e.customer === 'A'),
    );

    const data = await t.ok<any>(tenant.secret, QUERY, { input: FIXTURE_QUESTION });
    const impact = data.behaviorImpact;

    expect(impact.withPattern).toEqual({ customers: 3, converted: 1, rate: 1 / 3 });
    expect(impact.withoutPattern).toEqual({ customers: 5, converted: 2, rate: 0.4 });
    expect(impact.incomplete).toBe(1);
    expect(impact.lift).toBeCloseTo(5 / 6, 12);
    // Katz interval: exp(ln(5/6) ± 1.96·√(1/1 − 1/3 + 1/2 − 1/5)).
    const se = Math.sqrt(1 - 1 / 3 + 1 / 2 - 1 / 5);
    expect(impact.liftLow).toBeCloseTo(Math.exp(Math.log(5 / 6) - 1.959964 * se), 5);
    expect(impact.liftHigh).toBeCloseTo(Math.exp(Math.log(5 / 6) + 1.959964 * se), 5);
    expect(impact.pValue).toBeGreaterThan(0.05);
    expect(impact.from).toBe(FIXTURE_QUESTION.from);
    expect(impact.to).toBe(FIXTURE_QUESTION.to);

    // The independent recount agrees, group by group.
    const expected = recount(FIXTURE, FIXTURE_QUESTION, Date.parse(NOW));
    expect(impact.withPattern).toMatchObject(expected.with);
    expect(impact.withoutPattern).toMatchObject(expected.without);
    expect(impact.incomplete).toBe(expected.incomplete);

    const otherData = await t.ok<any>(other.secret, QUERY, { input: FIXTURE_QUESTION });
    expect(otherData.behaviorImpact.withPattern).toEqual({ customers: 1, converted: 1, rate: 1 });
    expect(otherData.behaviorImpact.withoutPattern).toEqual({
      customers: 0,
      converted: 0,
      rate: null,
    });
    expect(otherData.behaviorImpact.lift).toBeNull();
    expect(otherData.behaviorImpact.pValue).toBeNull();
  });

  it('gives the figures of an independent recount on the real RetailRocket sample', async () => {
    const tenant = await createTenantWithKey(t, `impact-rr-${uniq()}`);
    const seen = new Set<string>();
    const rows: Row[] = [];
    const inputs = [];
    for (const event of readRetailRocketEvents(DEFAULT_REPLAY_FILE)) {
      const input = toTrackInput(event);
      inputs.push(input);
      if (seen.has(input.messageId)) continue; // an exact duplicate row is stored once
      seen.add(input.messageId);
      rows.push({
        customer: input.customerExternalId,
        event: input.event,
        at: input.occurredAt,
        properties: input.properties,
      });
    }
    for (let i = 0; i < inputs.length; i += 1000) {
      await t.ok(
        tenant.secret,
        `mutation($events: [TrackInput!]!) { trackBatch(events: $events) { accepted } }`,
        { events: inputs.slice(i, i + 1000) },
      );
    }

    const question: Question = {
      pattern: {
        all: [
          { event: 'view', atLeast: 3, within: 'P7D' },
          { event: 'addtocart', within: 'P7D' },
        ],
      },
      outcome: { event: 'transaction' },
      window: 'P7D',
      from: '2015-05-01T00:00:00.000Z',
      to: '2015-09-20T00:00:00.000Z',
    };
    const data = await t.ok<any>(tenant.secret, QUERY, { input: question });
    const impact = data.behaviorImpact;
    const expected = recount(rows, question, Date.parse(NOW));

    expect(rows).toHaveLength(9382);
    expect(impact.withPattern).toMatchObject(expected.with);
    expect(impact.withoutPattern).toMatchObject(expected.without);
    expect(impact.incomplete).toBe(0);
    expect(impact.withPattern.customers + impact.withoutPattern.customers).toBe(5000);
    // Pinned after a third recount (Python, csv module, same definition), so that a change to
    // the TypeScript recount itself is noticed too: 77 customers completed the pattern and 16
    // of them bought within 7 days; 18 of the other 4,923 did.
    expect(expected.with).toEqual({ customers: 77, converted: 16 });
    expect(expected.without).toEqual({ customers: 4923, converted: 18 });
    expect(impact.lift).toBeCloseTo(56.831169, 5);
    expect(impact.liftLow).toBeCloseTo(30.126077, 5);
    expect(impact.liftHigh).toBeCloseTo(107.208838, 5);
    expect(impact.pValue).toBeLessThan(1e-6);
  });

  it('refuses bad input with BAD_USER_INPUT at the offending field', async () => {
    const tenant = await createTenantWithKey(t, `impact-bad-${uniq()}`);
    const ask = (changes: Partial<Question> | Record<string, unknown>) =>
      t.request(tenant.secret, QUERY, { input: { ...FIXTURE_QUESTION, ...changes } });

    expectGraphQLError(await ask({ window: 'P366D' }), 'BAD_USER_INPUT', 'input.window');
    const six = Array.from({ length: 6 }, () => ({ event: 'view', within: 'P1D' }));
    expectGraphQLError(await ask({ pattern: { all: six } }), 'BAD_USER_INPUT', 'input.pattern.all');
    expectGraphQLError(await ask({ pattern: { all: [] } }), 'BAD_USER_INPUT', 'input.pattern.all');
    expectGraphQLError(
      await ask({
        pattern: {
          all: [{ event: 'view', within: 'P1D', where: { field: 'customer.email', op: 'exists' } }],
        },
      }),
      'BAD_USER_INPUT',
      'input.pattern.all.0.where.field',
    );
    expectGraphQLError(
      await ask({ pattern: { all: [{ event: 'view', within: 'P1D', atLeast: 0 }] } }),
      'BAD_USER_INPUT',
      'input.pattern.all.0.atLeast',
    );
    expectGraphQLError(
      await ask({
        outcome: { event: 'purchase', where: { field: 'event.properties.x', op: 'nope' } },
      }),
      'BAD_USER_INPUT',
      'input.outcome.where.op',
    );
    expectGraphQLError(
      await ask({ from: '2027-01-08T00:00:00Z', to: '2027-01-01T00:00:00Z' }),
      'BAD_USER_INPUT',
      'input.to',
    );
    expectGraphQLError(
      await ask({ from: '2025-01-01T00:00:00Z', to: '2027-01-01T00:00:00Z' }),
      'BAD_USER_INPUT',
      'input.to',
    );
  });

  it('agrees with the recount on seeded random histories and questions', async () => {
    const tenant = await createTenantWithKey(t, `impact-random-${uniq()}`);
    let seed = 20270105;
    const random = () => {
      // A small linear congruential generator: the same histories on every run.
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
    const startMs = Date.parse('2026-12-20T00:00:00Z');
    const events: Row[] = [];
    for (let c = 0; c < 60; c++) {
      const count = 1 + Math.floor(random() * 12);
      for (let i = 0; i < count; i++) {
        // Whole minutes over 20 days, so equal instants (ties at an anchor) happen too.
        const ms = startMs + Math.floor(random() * 20 * 24 * 60) * 60_000;
        const event = pick(['view', 'view', 'view', 'addtocart', 'purchase']);
        events.push({
          customer: `r${c}`,
          event,
          at: new Date(ms).toISOString(),
          properties: { category: pick(['shoes', 'hats']), total: pick([0, 5, 20]) },
        });
      }
    }
    await store(t, tenant.secret, events);

    for (let q = 0; q < 6; q++) {
      const question: Question = {
        pattern: {
          all: [
            {
              event: 'view',
              atLeast: 1 + Math.floor(random() * 3),
              within: pick(['PT12H', 'P2D', 'P7D']),
              ...(random() < 0.5
                ? {
                    where: {
                      field: 'event.properties.category',
                      op: 'eq' as const,
                      value: 'shoes',
                    },
                  }
                : {}),
            },
            ...(random() < 0.6 ? [{ event: 'addtocart', within: pick(['P1D', 'P5D']) }] : []),
          ],
        },
        outcome: {
          event: 'purchase',
          ...(random() < 0.5
            ? { where: { field: 'event.properties.total', op: 'gt' as const, value: 0 } }
            : {}),
        },
        window: pick(['PT6H', 'P2D', 'P5D']),
        from: '2026-12-24T00:00:00.000Z',
        to: pick(['2027-01-05T00:00:00.000Z', '2027-01-09T12:00:00.000Z']),
      };
      const data = await t.ok<any>(tenant.secret, QUERY, { input: question });
      const expected = recount(events, question, Date.parse(NOW));
      const label = JSON.stringify(question);
      expect({ label, ...data.behaviorImpact.withPattern }).toMatchObject({
        label,
        ...expected.with,
      });
      expect({ label, ...data.behaviorImpact.withoutPattern }).toMatchObject({
        label,
        ...expected.without,
      });
      expect(data.behaviorImpact.incomplete).toBe(expected.incomplete);
    }
  });

  it('needs the READ scope', async () => {
    const tenant = await createTenantWithKey(t, `impact-scope-${uniq()}`);
    const ingest = await createApiKey(t, tenant.secret, ['INGEST']);
    const response = await t.request(ingest.secret, QUERY, { input: FIXTURE_QUESTION });
    expectGraphQLError(response, 'FORBIDDEN');
  });
});
