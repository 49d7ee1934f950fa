import fc from 'fast-check';
import { Database } from '../src/platform/database';
import { parseCondition, type Condition } from '../src/engine/rules/condition';
import { compileCondition, type EvaluationSubject } from '../src/engine/rules/evaluate';
import { conditionToSql } from '../src/engine/rules/sql';
import {
  behaviourCountsQuery,
  countBehaviours,
  loadBehaviourCounts,
  type HistoryEvent,
} from '../src/engine/rules/behaviour-counts';

/**
 * The same condition as SQL (src/engine/rules/sql.ts) decides like the JavaScript evaluator,
 * on the run's PostgreSQL (real, or the embedded fallback): random trees against random
 * events and customers, and behaviour counts over random stored histories.
 */

// ---------------------------------------------------------------------------------------------
// Generators (as in rules-property.test.ts): few fields, values of mixed types, characters
// whose UTF-16 order differs from code point order. No U+0000: PostgreSQL cannot store it.

const ASTRAL = '\u{1F600}';
const CHARS = ['a', 'b', 'z', 'A', '5', '7', ' ', 'é', '%', '_', '\\', '"', '\uE000', '\uFFFD'];
const str = fc.oneof(
  fc.constantFrom('', 'a', 'ab', 'b', '75', 'DE', 'de', 'true', 'null', '\uFFFD', ASTRAL),
  fc.constantFrom(`a${ASTRAL}`, '\uE000x', '{a,b}', "it's"),
  fc.string({ unit: fc.constantFrom(...CHARS, ASTRAL, '\u{20000}'), maxLength: 4 }),
);
const num = fc.oneof(
  fc.constantFrom(0, 1, 7, 50, 75, -1, 1.5, 0.1, 1e21, 5e-324, Number.MAX_VALUE),
  fc.integer({ min: -3, max: 100 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (x === 0 ? 0 : x)),
);
const scalar = fc.oneof(str, num, fc.boolean());
const json: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: scalar },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.array(scalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('x', 'y', '0'), scalar, { maxKeys: 2 }) },
);

const EVENT_FIELDS = [
  'event.name',
  'event.properties.a',
  'event.properties.b',
  'event.properties.o.x',
  'event.properties.o.0',
];
const CUSTOMER_FIELDS = [
  'customer.externalId',
  'customer.email',
  'customer.locale',
  'customer.traits.t',
  'customer.traits.deep.x',
];
const EVENT_NAMES = ['view', 'purchase', ASTRAL];
const OPS = [
  'eq',
  'neq',
  'gt',
  'gte',
  'lt',
  'lte',
  'in',
  'nin',
  'contains',
  'startsWith',
  'exists',
  'between',
] as const;

const codePoints = (a: string, b: string) => {
  const x = Array.from(a, (c) => c.codePointAt(0)!);
  const y = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
};
const sortedPair = <T>(arb: fc.Arbitrary<T>, compare: (a: T, b: T) => number) =>
  fc.tuple(arb, arb).map(([a, b]) => (compare(a, b) <= 0 ? [a, b] : [b, a]));

const valueFor = (op: (typeof OPS)[number]): fc.Arbitrary<unknown> => {
  switch (op) {
    case 'exists':
      return fc.constantFrom(undefined, true, false);
    case 'eq':
    case 'neq':
      return fc.oneof(scalar, fc.constant(null));
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      return fc.oneof(str, num);
    case 'in':
    case 'nin':
      return fc.array(scalar, { minLength: 1, maxLength: 4 });
    case 'contains':
      return scalar;
    case 'startsWith':
      return str;
    case 'between':
      return fc.oneof(
        sortedPair(num, (a, b) => a - b),
        sortedPair(str, codePoints),
      );
  }
};

const comparisonOn = (fields: string[]): fc.Arbitrary<Condition> =>
  fc
    .record({ field: fc.constantFrom(...fields), op: fc.constantFrom(...OPS) })
    .chain(({ field, op }) =>
      valueFor(op).map(
        (value) => (value === undefined ? { field, op } : { field, op, value }) as Condition,
      ),
    );

const treeOf = (leaf: fc.Arbitrary<Condition>, maxDepth: number): fc.Arbitrary<Condition> =>
  fc.letrec<{ node: Condition }>((tie) => ({
    node: fc.oneof(
      { maxDepth, depthSize: 'small' },
      leaf,
      fc.array(tie('node'), { minLength: 1, maxLength: 3 }).map((all) => ({ all })),
      fc.array(tie('node'), { minLength: 1, maxLength: 3 }).map((any) => ({ any })),
      tie('node').map((not) => ({ not })),
    ),
  })).node;

const WINDOW_MS: Record<string, number> = {
  PT1S: 1000,
  'PT0.5S': 500,
  'PT2.25S': 2250,
  PT10M: 600_000,
  P1D: 86_400_000,
};
const WINDOWS = Object.keys(WINDOW_MS);
const performedNode: fc.Arbitrary<Condition> = fc
  .record(
    {
      event: fc.constantFrom(...EVENT_NAMES),
      within: fc.constantFrom(...WINDOWS),
      bounds: fc.oneof(
        fc.record({ atLeast: fc.integer({ min: 1, max: 3 }) }),
        fc.record({ atMost: fc.integer({ min: 0, max: 2 }) }),
        fc.constant({ atLeast: 1, atMost: 2 }),
        fc.constant({}),
      ),
      where: treeOf(comparisonOn(EVENT_FIELDS.slice(1)), 2),
    },
    { requiredKeys: ['event', 'within', 'bounds'] },
  )
  .map(({ event, within, bounds, where }) => ({
    performed: { event, within, ...bounds, ...(where ? { where } : {}) },
  }));

const eventArb = fc.record({
  name: fc.constantFrom(...EVENT_NAMES),
  properties: fc.record(
    { a: json, b: json, o: fc.oneof(json, fc.record({ x: json }, { requiredKeys: [] })) },
    { requiredKeys: [] },
  ),
});
const customerArb = fc.record({
  externalId: fc.option(str, { nil: null }),
  email: fc.option(str, { nil: null }),
  locale: fc.option(str, { nil: null }),
  traits: fc.record(
    { t: json, deep: fc.oneof(json, fc.record({ x: json }, { requiredKeys: [] })) },
    { requiredKeys: [] },
  ),
});
type CustomerData = typeof customerArb extends fc.Arbitrary<infer C> ? C : never;

const asSubjectCustomer = (c: CustomerData): EvaluationSubject['customer'] => ({
  // Anonymous customers have no external id: the evaluator reads it as missing.
  externalId: c.externalId as string,
  email: c.email,
  phone: null,
  timezone: null,
  locale: c.locale,
  traits: c.traits,
});

/** A subject for trees that read only behaviour counts. */
const subjectWithout: EvaluationSubject = {
  event: { name: '', properties: {} },
  customer: { externalId: '', email: null, phone: null, timezone: null, locale: null, traits: {} },
};

// ---------------------------------------------------------------------------------------------

describe('rules as SQL (PostgreSQL)', () => {
  let db: Database;
  let tenantId: string;

  beforeAll(async () => {
    const url = process.env.NUDGE_TEST_DATABASE_URL;
    if (!url)
      throw new Error('NUDGE_TEST_DATABASE_URL is not set; run through jest (global-setup)');
    db = await Database.connect({
      url,
      poolSize: Number(process.env.NUDGE_TEST_DB_POOL_SIZE ?? 2),
    });
    await db.migrate();
    const [tenant] = await db.asSystem((tx) =>
      tx.query(`INSERT INTO tenants (name) VALUES ('rules-sql') RETURNING id`),
    );
    tenantId = (tenant as { id: string }).id;
  });

  afterAll(async () => {
    await db?.close();
  });

  /** Evaluates `condition` as SQL over one event row `e` and one customers-like row `c`. */
  async function sqlMatches(
    condition: Condition,
    event: { name: string; properties: Record<string, unknown> },
    customer: CustomerData,
  ): Promise<boolean> {
    const params: unknown[] = [
      event.name,
      JSON.stringify(event.properties),
      customer.externalId,
      customer.email,
      customer.locale,
      JSON.stringify(customer.traits),
    ];
    const predicate = conditionToSql(
      condition,
      { eventName: 'e.name', eventProperties: 'e.properties', customer: 'c' },
      params,
    );
    const [row] = (await db.dataSource.query(
      `SELECT ${predicate} AS matched
       FROM (SELECT $1::text AS name, $2::jsonb AS properties) e,
            (SELECT $3::text AS external_id, $4::text AS email, NULL::text AS phone,
                    NULL::text AS timezone, $5::text AS locale, $6::jsonb AS traits) c`,
      params,
    )) as Array<{ matched: boolean }>;
    return row.matched;
  }

  it('the SQL predicate decides like the evaluator on random trees, events and customers', async () => {
    const tree = treeOf(comparisonOn([...EVENT_FIELDS, ...CUSTOMER_FIELDS]), 4);
    await fc.assert(
      fc.asyncProperty(tree, eventArb, customerArb, async (raw, event, customer) => {
        const condition = parseCondition(raw);
        const expected = compileCondition(condition)({
          event,
          customer: asSubjectCustomer(customer),
        }).matched;

        expect(await sqlMatches(condition, event, customer)).toBe(expected);
      }),
      { numRuns: 400 },
    );
  });

  it.each([
    [
      'gt astral vs U+FFFD (code point order)',
      { field: 'event.name', op: 'gt', value: '\uFFFD' },
      ASTRAL,
      true,
    ],
    ['"75" is not 75', { field: 'event.properties.a', op: 'eq', value: 75 }, '75', false],
    ['"de" is not "DE"', { field: 'event.properties.a', op: 'eq', value: 'DE' }, 'de', false],
    [
      'a path through an array is missing',
      { field: 'event.properties.o.0', op: 'exists' },
      'x',
      false,
    ],
    [
      'nin on a missing property',
      { field: 'event.properties.zz', op: 'nin', value: [1] },
      'x',
      false,
    ],
    [
      'contains does not look into nested arrays',
      { field: 'event.properties.n', op: 'contains', value: 1 },
      'x',
      false,
    ],
  ])('%s', async (_label, raw, name, expected) => {
    const event = { name, properties: { a: name, o: ['x'], n: [[1]] } };
    const condition = parseCondition(raw);
    const customer = { externalId: 'c', email: null, locale: null, traits: {} };

    expect(
      compileCondition(condition)({ event, customer: asSubjectCustomer(customer) }).matched,
    ).toBe(expected);
    expect(await sqlMatches(condition, event, customer)).toBe(expected);
  });

  it('orders strings with COLLATE "C" whatever the database collation', () => {
    const sql = conditionToSql(
      parseCondition({ field: 'event.name', op: 'between', value: ['a', 'b'] }),
      { eventName: 'e.name' },
      [],
    );

    expect(sql.match(/COLLATE "C"/g)).toHaveLength(2);
  });

  it('never interpolates values: the SQL text holds only parameters', () => {
    const params: unknown[] = [];
    const sql = conditionToSql(
      parseCondition({
        all: [
          { field: 'event.properties.x', op: 'eq', value: "'; DROP TABLE events; --" },
          { field: 'customer.traits.y', op: 'in', value: ['secret-value', 42] },
        ],
      }),
      { eventName: 'e.name', eventProperties: 'e.properties', customer: 'c' },
      params,
    );

    expect(sql).not.toMatch(/DROP|secret-value|42/);
    expect(params).toContain(JSON.stringify("'; DROP TABLE events; --"));
  });

  describe('behaviour counts over stored events', () => {
    const BASE_MS = Date.UTC(2025, 0, 10, 12);
    /** Times on a 250 ms grid, so that windows often end exactly on an event. */
    const history = fc
      .array(
        fc.record({
          name: fc.constantFrom(...EVENT_NAMES, 'other'),
          properties: eventArb.map((e) => e.properties),
          occurredAtMs: fc.integer({ min: 0, max: 24 }).map((k) => BASE_MS + k * 250),
        }),
        { maxLength: 25 },
      )
      .map((events) => [...events].sort((x, y) => x.occurredAtMs - y.occurredAtMs));
    const atArb = fc.integer({ min: -2, max: 28 }).map((k) => BASE_MS + k * 250);

    /** Stores a new customer with `events`; returns its id. */
    async function store(customer: CustomerData, events: HistoryEvent[]): Promise<string> {
      return db.withTenant(tenantId, async (tx) => {
        const [row] = (await tx.query(
          `INSERT INTO customers (tenant_id, external_id, email, locale, traits, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5::jsonb, now(), now()) RETURNING id`,
          [
            tenantId,
            `${customer.externalId ?? ''}-${Math.random()}`,
            customer.email,
            customer.locale,
            JSON.stringify(customer.traits),
          ],
        )) as Array<{ id: string }>;
        if (events.length) {
          await tx.query(
            `INSERT INTO events (tenant_id, customer_id, name, properties, occurred_at, received_at,
               payload_hash)
             SELECT $1, $2, x.name, x.properties, x.at, x.at, 'rules-sql'
             FROM jsonb_to_recordset($3::jsonb) AS x(name text, properties jsonb, at timestamptz)`,
            [
              tenantId,
              row.id,
              JSON.stringify(
                events.map((e) => ({
                  name: e.name,
                  properties: e.properties,
                  at: new Date(e.occurredAtMs).toISOString(),
                })),
              ),
            ],
          );
        }
        return row.id;
      });
    }

    it('loadBehaviourCounts agrees with countBehaviours, and whole trees with performed agree', async () => {
      // Evaluation times often put a window's open end exactly on an event it would count.
      const scenario = fc
        .tuple(history, fc.array(performedNode, { minLength: 1, maxLength: 5 }))
        .chain(([events, nodes]) => {
          const onEdge = events.flatMap((e) =>
            nodes
              .map((n) => (n as { performed: { event: string; within: string } }).performed)
              .filter((p) => p.event === e.name)
              .map((p) => e.occurredAtMs + WINDOW_MS[p.within]),
          );
          const at = onEdge.length ? fc.oneof(atArb, fc.constantFrom(...onEdge)) : atArb;
          return fc.tuple(fc.constant(events), at, fc.constant(nodes));
        });
      const tree = treeOf(
        fc.oneof(
          { weight: 2, arbitrary: comparisonOn([...EVENT_FIELDS, ...CUSTOMER_FIELDS]) },
          { weight: 1, arbitrary: performedNode },
        ),
        3,
      ).filter((c) => JSON.stringify(c).split('"performed"').length - 1 <= 5);

      await fc.assert(
        fc.asyncProperty(
          scenario,
          tree,
          eventArb,
          customerArb,
          async ([events, atMs, rawBehaviours], rawTree, event, customer) => {
            const customerId = await store(customer, events);

            // One query for the counts of a list of behaviour nodes.
            const listed = compileCondition(parseCondition({ all: rawBehaviours })).behaviours;
            const loaded = await db.withTenant(tenantId, (tx) =>
              loadBehaviourCounts(tx, tenantId, customerId, atMs, listed),
            );
            const counted = countBehaviours(events, atMs, listed);
            expect(loaded).toEqual(counted);

            // Each node alone as an SQL predicate (its count subquery), against the same counts.
            const nodeParams: unknown[] = [new Date(atMs).toISOString(), customerId];
            const columns = listed.map(
              (node, i) =>
                conditionToSql(
                  node,
                  {
                    behaviours: {
                      at: '$1::timestamptz',
                      tenantId: 'c.tenant_id',
                      customerId: 'c.id',
                    },
                  },
                  nodeParams,
                ) + ` AS b${i}`,
            );
            const [nodes] = await db.withTenant(tenantId, (tx) =>
              tx.query(
                `SELECT ${columns.join(', ')}, $1::timestamptz AS at
                 FROM customers c WHERE c.id = $2::uuid`,
                nodeParams,
              ),
            );
            expect(listed.map((_, i) => (nodes as Record<string, boolean>)[`b${i}`])).toEqual(
              listed.map((node, i) => {
                const only = compileCondition(node);
                return only({ ...subjectWithout, behaviourCounts: [counted[i]] }).matched;
              }),
            );

            // A whole tree, performed included, as one SQL predicate over the customer's row.
            const condition = parseCondition(rawTree);
            const compiled = compileCondition(condition);
            const expected = compiled({
              event,
              customer: asSubjectCustomer(customer),
              behaviourCounts: countBehaviours(events, atMs, compiled.behaviours),
            }).matched;
            const params: unknown[] = [
              new Date(atMs).toISOString(),
              customerId,
              event.name,
              JSON.stringify(event.properties),
              customer.externalId,
            ];
            const predicate = conditionToSql(
              condition,
              {
                eventName: 'e.name',
                eventProperties: 'e.properties',
                customer: 'c',
                behaviours: { at: '$1::timestamptz', tenantId: 'c.tenant_id', customerId: 'c.id' },
              },
              params,
            );
            // The stored external id is made unique; the row reads the generated one instead.
            const [row] = await db.withTenant(tenantId, (tx) =>
              tx.query(
                `SELECT ${predicate} AS matched, $1::timestamptz AS at
                 FROM (SELECT $3::text AS name, $4::jsonb AS properties) e,
                      (SELECT id, tenant_id, $5::text AS external_id, email, phone, timezone,
                              locale, traits
                       FROM customers WHERE id = $2::uuid) c`,
                params,
              ),
            );
            expect((row as { matched: boolean }).matched).toBe(expected);
          },
        ),
        { numRuns: 150 },
      );
    });

    it('the window is (t − within, t]: both SQL forms count like the documented example', async () => {
      const t = BASE_MS;
      const DAY = 86_400_000;
      const customer = { externalId: 'w', email: null, locale: null, traits: {} };
      const shoes = { category: 'shoes' };
      const customerId = await store(customer, [
        { name: 'view', properties: shoes, occurredAtMs: t - 7 * DAY },
        { name: 'view', properties: shoes, occurredAtMs: t - 7 * DAY + 1 },
        { name: 'view', properties: { category: 'hats' }, occurredAtMs: t - DAY },
        { name: 'view', properties: shoes, occurredAtMs: t },
        { name: 'view', properties: shoes, occurredAtMs: t + 1 },
        { name: 'purchase', properties: {}, occurredAtMs: t - 30 * DAY },
      ]);
      const condition = parseCondition({
        all: [
          {
            performed: {
              event: 'view',
              within: 'P7D',
              atLeast: 2,
              where: { field: 'event.properties.category', op: 'eq', value: 'shoes' },
            },
          },
          { not: { performed: { event: 'purchase', within: 'P30D' } } },
        ],
      });
      const { behaviours } = compileCondition(condition);

      const counts = await db.withTenant(tenantId, (tx) =>
        loadBehaviourCounts(tx, tenantId, customerId, t, behaviours),
      );
      expect(counts).toEqual([2, 0]);
      expect(
        countBehaviours(
          [
            { name: 'view', properties: shoes, occurredAtMs: t - 7 * DAY },
            { name: 'view', properties: shoes, occurredAtMs: t - 7 * DAY + 1 },
            { name: 'view', properties: shoes, occurredAtMs: t },
          ],
          t,
          behaviours,
        ),
      ).toEqual([2, 0]);

      const params: unknown[] = [new Date(t).toISOString(), customerId];
      const predicate = conditionToSql(
        condition,
        { behaviours: { at: '$1::timestamptz', tenantId: 'c.tenant_id', customerId: 'c.id' } },
        params,
      );
      const [row] = await db.withTenant(tenantId, (tx) =>
        tx.query(`SELECT ${predicate} AS matched FROM customers c WHERE c.id = $2::uuid`, params),
      );
      expect(row).toEqual({ matched: true });
    });

    it('the count query uses the index events_customer_name_time', async () => {
      const condition = parseCondition({
        all: [
          { performed: { event: 'view', within: 'P7D', atLeast: 3 } },
          {
            performed: {
              event: 'purchase',
              within: 'P30D',
              atMost: 0,
              where: { field: 'event.properties.total', op: 'gte', value: 10 },
            },
          },
        ],
      });
      const { behaviours } = compileCondition(condition);
      const { text, params } = behaviourCountsQuery(
        tenantId,
        tenantId,
        Date.UTC(2025, 0, 10),
        behaviours,
      );
      const plan = await db.withTenant(tenantId, async (tx) => {
        await tx.query('SET LOCAL enable_seqscan = off');
        const lines = (await tx.query(`EXPLAIN ${text}`, params)) as Array<{
          'QUERY PLAN': string;
        }>;
        return lines.map((line) => line['QUERY PLAN']).join('\n');
      });

      expect(plan).toContain('events_customer_name_time');
    });
  });
});
