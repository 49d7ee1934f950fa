import fc from 'fast-check';
import { parseCondition, type Comparison, type Condition } from '../src/engine/rules/condition';
import { compileCondition, type EvaluationSubject } from '../src/engine/rules/evaluate';
import { countBehaviours, type HistoryEvent } from '../src/engine/rules/behaviour-counts';

/**
 * Properties of the condition language (docs/conditions.md), checked on random trees and
 * subjects: the compiled evaluator agrees with a reference evaluator written here from the
 * documented semantics; `couldMatchLater` is sound and useful; trees survive a JSON round trip;
 * behaviour counts agree with a plain count.
 */

// ---------------------------------------------------------------------------------------------
// Generators: few fields and few values, so that comparisons often hit, miss and mistype.

const ASTRAL = '\u{1F600}';
/** Characters whose UTF-16 order differs from their code point order, and plain ones. */
const CHARS = ['a', 'b', 'z', 'A', '5', '7', ' ', 'é', '\uE000', '\uFFFD', ASTRAL, '\u{20000}'];

const str = fc.oneof(
  fc.constantFrom('', 'a', 'ab', 'b', '75', '7', 'DE', 'de', 'true', 'null', '\uFFFD', ASTRAL),
  fc.constantFrom(`a${ASTRAL}`, '\uE000x'),
  fc.string({ unit: fc.constantFrom(...CHARS), maxLength: 4 }),
);
const num = fc.oneof(
  fc.constantFrom(0, 1, 7, 50, 75, -1, 1.5, 0.1, 1e21, Number.MAX_VALUE, -Number.MAX_VALUE),
  fc.integer({ min: -3, max: 100 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (x === 0 ? 0 : x)),
);
const scalar = fc.oneof(str, num, fc.boolean());
/** Any JSON value a property or trait may hold. */
const json: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: scalar },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 2, arbitrary: fc.array(scalar, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(fc.constantFrom('x', 'y'), scalar, { maxKeys: 2 }) },
);

const EVENT_FIELDS = [
  'event.name',
  'event.properties.a',
  'event.properties.b',
  'event.properties.o.x',
];
/** No field here is a prefix of another, so filling one never changes what another reads. */
const CUSTOMER_FIELDS = [
  'customer.traits.t',
  'customer.traits.u',
  'customer.traits.deep.x',
  'customer.email',
  'customer.locale',
];
const EVENT_NAMES = ['view', 'purchase', '75', ASTRAL];

const sortedPair = <T>(arb: fc.Arbitrary<T>, compare: (a: T, b: T) => number) =>
  fc.tuple(arb, arb).map(([a, b]) => (compare(a, b) <= 0 ? [a, b] : [b, a]));

const comparisonValue = (op: string): fc.Arbitrary<unknown> => {
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
    default:
      return fc.oneof(
        sortedPair(num, (a, b) => a - b),
        sortedPair(str, refCompareStrings),
      );
  }
};

const comparisonOn = (fields: string[]): fc.Arbitrary<Condition> =>
  fc
    .record({
      field: fc.constantFrom(...fields),
      op: fc.constantFrom(
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
      ),
    })
    .chain(({ field, op }) =>
      comparisonValue(op).map(
        (value) => (value === undefined ? { field, op } : { field, op, value }) as Condition,
      ),
    );

const treeOf = (leaf: fc.Arbitrary<Condition>, maxDepth = 4): fc.Arbitrary<Condition> =>
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
  PT10M: 600_000,
  P1D: 86_400_000,
  P7D: 7 * 86_400_000,
};
const WINDOWS = Object.keys(WINDOW_MS);
const performedNode: fc.Arbitrary<Condition> = fc
  .record(
    {
      event: fc.constantFrom(...EVENT_NAMES),
      within: fc.constantFrom(...WINDOWS),
      bounds: fc.oneof(
        fc.record({ atLeast: fc.integer({ min: 1, max: 4 }) }),
        fc.record({ atMost: fc.integer({ min: 0, max: 3 }) }),
        fc
          .integer({ min: 0, max: 3 })
          .chain((low) =>
            fc.integer({ min: low, max: low + 2 }).map((high) => ({ atLeast: low, atMost: high })),
          ),
        fc.constant({}),
      ),
      where: treeOf(comparisonOn(EVENT_FIELDS), 2),
    },
    { requiredKeys: ['event', 'within', 'bounds'] },
  )
  .map(({ event, within, bounds, where }) => ({
    performed: { event, within, ...bounds, ...(where ? { where } : {}) },
  }));

const countPerformed = (c: Condition): number =>
  'all' in c
    ? c.all.reduce((n, x) => n + countPerformed(x), 0)
    : 'any' in c
      ? c.any.reduce((n, x) => n + countPerformed(x), 0)
      : 'not' in c
        ? countPerformed(c.not)
        : 'performed' in c
          ? 1
          : 0;

const comparisons = comparisonOn([...EVENT_FIELDS, ...CUSTOMER_FIELDS]);
/** Trees that may also hold up to five `performed` nodes. */
const fullTree = treeOf(
  fc.oneof({ weight: 5, arbitrary: comparisons }, { weight: 1, arbitrary: performedNode }),
).filter((c) => countPerformed(c) <= 5);

/** Present or absent; `absent` is the weight of absence against 1 for presence. */
/** Trees that lean on customer fields, for the search of a completion. */
const customerTree = treeOf(
  fc.oneof(
    { weight: 4, arbitrary: comparisonOn(CUSTOMER_FIELDS) },
    { weight: 2, arbitrary: comparisons },
    { weight: 1, arbitrary: performedNode },
  ),
  3,
).filter((c) => countPerformed(c) <= 5);

const maybe = <T>(arb: fc.Arbitrary<T>, absent = 1) =>
  fc.oneof({ weight: absent, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
const withoutUndefined = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** Subjects; with `sparse`, customer data is mostly missing (as before an identify). */
const subjectOf = (sparse: boolean): fc.Arbitrary<EvaluationSubject> => {
  const absent = sparse ? 3 : 1;
  return fc
    .record({
      name: fc.constantFrom(...EVENT_NAMES),
      a: maybe(json),
      b: maybe(json),
      o: maybe(fc.oneof(json, fc.record({ x: json }))),
      t: maybe(json, absent),
      u: maybe(json, absent),
      deep: maybe(fc.oneof(json, fc.record({ x: json })), absent),
      email: maybe(str, absent).map((v) => v ?? null),
      locale: maybe(str, absent).map((v) => v ?? null),
      counts: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 5, maxLength: 5 }),
    })
    .map((r) => ({
      event: { name: r.name, properties: withoutUndefined({ a: r.a, b: r.b, o: r.o }) },
      customer: {
        externalId: 'cust-1',
        email: r.email,
        phone: null,
        timezone: null,
        locale: r.locale,
        traits: withoutUndefined({ t: r.t, u: r.u, deep: r.deep }),
      },
      behaviourCounts: r.counts,
    }));
};
const subjectArb = subjectOf(false);

// ---------------------------------------------------------------------------------------------
// The reference: the documented semantics, written plainly.

const ABSENT = Symbol('absent');

function refCompareStrings(a: string, b: string): number {
  const x = Array.from(a, (ch) => ch.codePointAt(0)!);
  const y = Array.from(b, (ch) => ch.codePointAt(0)!);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
}

/** A dotted path through plain objects' own members; anything else is absent. */
function refRead(s: EvaluationSubject, field: string): unknown {
  const walk = (root: unknown, path: string) => {
    let at: unknown = root;
    for (const key of path.split('.')) {
      const isObject = typeof at === 'object' && at !== null && !Array.isArray(at);
      if (!isObject || !Object.keys(at as object).includes(key)) return ABSENT;
      at = (at as Record<string, unknown>)[key];
    }
    return at;
  };
  if (field === 'event.name') return s.event.name;
  if (field.startsWith('event.properties.')) return walk(s.event.properties, field.slice(17));
  if (field.startsWith('customer.traits.')) return walk(s.customer.traits, field.slice(16));
  const column = s.customer[field.slice(9) as keyof EvaluationSubject['customer']];
  return column === null || column === undefined ? ABSENT : column;
}

function refOrdered(a: unknown, v: unknown, accept: (order: number) => boolean): boolean {
  if (typeof a === 'number' && typeof v === 'number') return accept(a < v ? -1 : a > v ? 1 : 0);
  if (typeof a === 'string' && typeof v === 'string') return accept(refCompareStrings(a, v));
  return false;
}

function refComparison(c: Comparison, a: unknown): boolean {
  const present = a !== ABSENT;
  const v = c.value;
  switch (c.op) {
    case 'exists':
      return v === false ? !present || a === null : present && a !== null;
    case 'eq':
      return present && a === v;
    case 'neq':
      if (v === null) return present && a !== null;
      return present && typeof a === typeof v && a !== v;
    case 'gt':
      return refOrdered(a, v, (o) => o > 0);
    case 'gte':
      return refOrdered(a, v, (o) => o >= 0);
    case 'lt':
      return refOrdered(a, v, (o) => o < 0);
    case 'lte':
      return refOrdered(a, v, (o) => o <= 0);
    case 'in':
      return present && (v as unknown[]).some((item) => item === a);
    case 'nin':
      return present && a !== null && !(v as unknown[]).some((item) => item === a);
    case 'contains':
      if (typeof a === 'string') return typeof v === 'string' && a.indexOf(v) >= 0;
      return Array.isArray(a) && a.some((item) => item === v);
    case 'startsWith':
      return typeof a === 'string' && a.slice(0, (v as string).length) === v;
    case 'between': {
      const [low, high] = v as [unknown, unknown];
      return refOrdered(a, low, (o) => o >= 0) && refOrdered(a, high, (o) => o <= 0);
    }
  }
}

const jsonTypeOf = (a: unknown) => (a === null ? 'null' : Array.isArray(a) ? 'array' : typeof a);

/** Why a comparison that does not match fails (docs/conditions.md, "Why a condition failed"). */
function refReason(c: Comparison, a: unknown): string {
  const v = c.value;
  if (a === ABSENT || (c.op === 'exists' && a === null)) return 'MISSING';
  const needs: Record<string, () => boolean> = {
    exists: () => true,
    eq: () => v === null || jsonTypeOf(a) === typeof v,
    neq: () => v === null || jsonTypeOf(a) === typeof v,
    gt: () => jsonTypeOf(a) === typeof v,
    gte: () => jsonTypeOf(a) === typeof v,
    lt: () => jsonTypeOf(a) === typeof v,
    lte: () => jsonTypeOf(a) === typeof v,
    between: () => jsonTypeOf(a) === typeof (v as unknown[])[0],
    in: () => (v as unknown[]).map((x) => typeof x).includes(jsonTypeOf(a) as 'string'),
    nin: () => a !== null,
    contains: () => Array.isArray(a) || (typeof a === 'string' && typeof v === 'string'),
    startsWith: () => typeof a === 'string',
  };
  return needs[c.op]() ? 'NO_MATCH' : 'TYPE_MISMATCH';
}

/** Evaluates with `counts` consumed depth-first (the documented order of behaviour nodes). */
function refEvaluate(c: Condition, s: EvaluationSubject, counts: number[] = []): boolean {
  const queue = [...(s.behaviourCounts ?? [])];
  const go = (node: Condition): boolean => {
    if ('all' in node) return node.all.map(go).every(Boolean);
    if ('any' in node) return node.any.map(go).some(Boolean);
    if ('not' in node) return !go(node.not);
    if ('performed' in node) {
      const n = queue.shift()!;
      counts.push(n);
      const { atLeast, atMost } = node.performed;
      const low = atLeast ?? (atMost === undefined ? 1 : 0);
      return n >= low && (atMost === undefined || n <= atMost);
    }
    return refComparison(node, refRead(s, node.field));
  };
  return go(c);
}

// ---------------------------------------------------------------------------------------------
// Completions: customer data that an identify could still supply.

const isCustomerField = (field: string) => field.startsWith('customer.');

function comparisonsOf(c: Condition): Comparison[] {
  if ('all' in c) return c.all.flatMap(comparisonsOf);
  if ('any' in c) return c.any.flatMap(comparisonsOf);
  if ('not' in c) return comparisonsOf(c.not);
  if ('performed' in c) return [];
  return [c];
}

/** A copy of `s` with `field` (missing in `s`) set to `value`; ABSENT leaves it missing. */
function fill(s: EvaluationSubject, field: string, value: unknown): EvaluationSubject {
  if (value === ABSENT) return s;
  const customer = { ...s.customer, traits: { ...s.customer.traits } };
  if (field.startsWith('customer.traits.')) {
    const [top, ...rest] = field.slice(16).split('.');
    if (rest.length === 0) customer.traits[top] = value;
    else {
      const holder = customer.traits[top];
      const base =
        typeof holder === 'object' && holder !== null && !Array.isArray(holder) ? holder : {};
      customer.traits[top] = { ...base, [rest[0]]: value };
    }
  } else {
    (customer as Record<string, unknown>)[field.slice(9)] = value;
  }
  return { ...s, customer };
}

/** Neighbours of a number: the next doubles up and down, and a few plain steps. */
function around(v: number): number[] {
  const next = (x: number, up: boolean) => {
    if (x === 0) return up ? Number.MIN_VALUE : -Number.MIN_VALUE;
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, x);
    view.setBigInt64(0, view.getBigInt64(0) + (x > 0 === up ? 1n : -1n));
    return view.getFloat64(0);
  };
  return [v, next(v, true), next(v, false), v + 1, v - 1].filter(Number.isFinite);
}

/** Values that make a single comparison true (if any can), or false; likeliest first. */
function witnesses(c: Comparison): unknown[] {
  const v = c.value;
  const out: unknown[] = [];
  if (typeof v === 'number') out.push(...around(v));
  if (typeof v === 'string') out.push(v, `${v}a`, '');
  if (typeof v === 'boolean') out.push(v, !v);
  if (c.op === 'contains') out.push([v]);
  if (Array.isArray(v)) {
    out.push(...v, ...v.flatMap((x) => (typeof x === 'number' ? around(x) : [])));
  }
  if (c.op === 'nin') out.push('\u{10400}-not-listed');
  out.push('x', null, {}, ABSENT);
  return out;
}

/** Values a customer field can be given later: any JSON for a trait, a string otherwise. */
const fitsField = (field: string, w: unknown) =>
  w !== ABSENT && (field.startsWith('customer.traits.') || typeof w === 'string');

/**
 * The documented three-valued reading: a comparison on a missing customer field is UNKNOWN,
 * or FALSE when no value the field can take would satisfy it (found here by trying the
 * comparison's witnesses); event fields and behaviour counts are known.
 */
function refKleene(c: Condition, s: EvaluationSubject): 'T' | 'F' | 'U' {
  const queue = [...(s.behaviourCounts ?? [])];
  const go = (node: Condition): 'T' | 'F' | 'U' => {
    if ('all' in node) {
      const values = node.all.map(go);
      return values.includes('F') ? 'F' : values.includes('U') ? 'U' : 'T';
    }
    if ('any' in node) {
      const values = node.any.map(go);
      return values.includes('T') ? 'T' : values.includes('U') ? 'U' : 'F';
    }
    if ('not' in node) return ({ T: 'F', F: 'T', U: 'U' } as const)[go(node.not)];
    if ('performed' in node) {
      const n = queue.shift()!;
      const { atLeast, atMost } = node.performed;
      const low = atLeast ?? (atMost === undefined ? 1 : 0);
      return n >= low && (atMost === undefined || n <= atMost) ? 'T' : 'F';
    }
    const actual = refRead(s, node.field);
    if (actual === ABSENT && isCustomerField(node.field)) {
      if (refComparison(node, ABSENT)) return 'U';
      const canHold = witnesses(node).some(
        (w) => fitsField(node.field, w) && refComparison(node, w),
      );
      return canHold ? 'U' : 'F';
    }
    return refComparison(node, actual) ? 'T' : 'F';
  };
  return go(c);
}

/**
 * Renames repeated customer fields so that each is read by one comparison only; with each
 * unknown read once, Kleene evaluation is exact (for contradictions such as `t = 1 and t = 2`
 * over one missing trait it is not, and the engine then waits for data that cannot help).
 */
function readOnce(c: Condition): Condition {
  const seen = new Set<string>();
  let fresh = 0;
  const go = (node: Condition): Condition => {
    if ('all' in node) return { all: node.all.map(go) };
    if ('any' in node) return { any: node.any.map(go) };
    if ('not' in node) return { not: go(node.not) };
    if ('performed' in node || !isCustomerField(node.field)) return node;
    if (!seen.has(node.field)) {
      seen.add(node.field);
      return node;
    }
    return { ...node, field: `customer.traits.fresh${fresh++}` };
  };
  return go(c);
}

/** JSON with sorted keys: equal trees give equal text. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return Object.is(value, -0) ? '-0' : JSON.stringify(value);
}

// ---------------------------------------------------------------------------------------------

describe('rules: properties', () => {
  it('the compiled evaluator agrees with the reference evaluator', () => {
    fc.assert(
      fc.property(fullTree, subjectArb, (raw, s) => {
        const tree = parseCondition(raw);
        const compiled = compileCondition(tree);
        const consumed: number[] = [];
        const expected = refEvaluate(tree, s, consumed);
        const verdict = compiled(s);

        return (
          verdict.matched === expected &&
          compiled.behaviours.length === consumed.length &&
          (verdict.matched
            ? !verdict.couldMatchLater && Object.keys(verdict).length === 2
            : typeof verdict.failingPath === 'string')
        );
      }),
      { numRuns: 1000 },
    );
  });

  it('reason names the failing comparison, the field it read, and why', () => {
    fc.assert(
      fc.property(comparisons, subjectArb, (raw, s) => {
        const c = parseCondition(raw) as Comparison;
        const verdict = compileCondition(c)(s);
        fc.pre(!verdict.matched);

        return (
          verdict.failingPath === '' &&
          verdict.field === c.field &&
          verdict.reason === refReason(c, refRead(s, c.field))
        );
      }),
      { numRuns: 500 },
    );
  });

  it('couldMatchLater is a non-match whose three-valued (Kleene) reading is unknown', () => {
    fc.assert(
      fc.property(fullTree, fc.oneof(subjectOf(false), subjectOf(true)), (raw, s) => {
        const tree = parseCondition(raw);
        const verdict = compileCondition(tree)(s);

        return verdict.couldMatchLater === (!verdict.matched && refKleene(tree, s) === 'U');
      }),
      { numRuns: 1000 },
    );
  });

  it('couldMatchLater is sound: when false, no customer data arriving later makes it match', () => {
    const completion = fc.record({
      t: json,
      u: json,
      deepX: json,
      email: str,
      locale: str,
    });
    fc.assert(
      fc.property(fullTree, subjectArb, completion, (raw, s, fillIn) => {
        const compiled = compileCondition(parseCondition(raw));
        const verdict = compiled(s);
        if (verdict.matched) return !verdict.couldMatchLater;
        fc.pre(!verdict.couldMatchLater);
        let completed = s;
        const values: Record<string, unknown> = {
          'customer.traits.t': fillIn.t,
          'customer.traits.u': fillIn.u,
          'customer.traits.deep.x': fillIn.deepX,
          'customer.email': fillIn.email,
          'customer.locale': fillIn.locale,
        };
        for (const field of CUSTOMER_FIELDS) {
          if (refRead(s, field) === ABSENT) completed = fill(completed, field, values[field]);
        }
        return !compiled(completed).matched;
      }),
      { numRuns: 1000 },
    );
  });

  it('couldMatchLater is useful: when true, some customer data makes it match', () => {
    let checked = 0;
    fc.assert(
      fc.property(customerTree.map(readOnce), subjectOf(true), (raw, s) => {
        const compiled = compileCondition(parseCondition(raw));
        const verdict = compiled(s);
        fc.pre(verdict.couldMatchLater);
        const open = comparisonsOf(raw as Condition).filter(
          (c) => isCustomerField(c.field) && refRead(s, c.field) === ABSENT,
        );
        const choices = open.map((c) =>
          witnesses(c).filter((w) => w === ABSENT || fitsField(c.field, w)),
        );
        fc.pre(choices.reduce((n, list) => n * list.length, 1) <= 20_000);

        const search = (i: number, current: EvaluationSubject): boolean =>
          i === open.length
            ? compiled(current).matched
            : choices[i].some((w) => search(i + 1, fill(current, open[i].field, w)));
        checked++;
        return search(0, s);
      }),
      { numRuns: 500 },
    );
    expect(checked).toBe(500);
  });

  it('a parsed tree survives a JSON round trip unchanged', () => {
    fc.assert(
      fc.property(fullTree, (raw) => {
        const tree = parseCondition(raw);
        const again = parseCondition(JSON.parse(JSON.stringify(tree)));

        return canonical(tree) === canonical(raw) && canonical(again) === canonical(tree);
      }),
      { numRuns: 500 },
    );
  });

  it('countBehaviours agrees with a plain count over the window', () => {
    const history = fc
      .array(
        fc.record({
          name: fc.constantFrom(...EVENT_NAMES),
          properties: fc.record({ a: json, b: json }, { requiredKeys: [] }),
          occurredAtMs: fc.integer({ min: 0, max: 40 }).map((k) => 1_000_000_000 + k * 250),
        }),
        { maxLength: 30 },
      )
      .map((events) => [...events].sort((x, y) => x.occurredAtMs - y.occurredAtMs));
    const at = fc.integer({ min: 0, max: 44 }).map((k) => 1_000_000_000 + k * 250);
    const behaviours = fc.array(performedNode, { minLength: 1, maxLength: 5 });

    fc.assert(
      fc.property(history, at, behaviours, (events: HistoryEvent[], atMs, raw) => {
        const compiled = compileCondition(parseCondition({ all: raw }));
        const expected = compiled.behaviours.map(({ performed }) => {
          const windowMs = WINDOW_MS[performed.within];
          return events.filter(
            (e) =>
              e.name === performed.event &&
              e.occurredAtMs > atMs - windowMs &&
              e.occurredAtMs <= atMs &&
              (!performed.where ||
                refEvaluate(performed.where, {
                  event: { name: e.name, properties: e.properties },
                  customer: {} as EvaluationSubject['customer'],
                })),
          ).length;
        });

        return (
          JSON.stringify(countBehaviours(events, atMs, compiled.behaviours)) ===
          JSON.stringify(expected)
        );
      }),
      { numRuns: 500 },
    );
  });
});
