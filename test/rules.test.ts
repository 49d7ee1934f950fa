import { InputProblem } from '../src/errors';
import { OPERATORS, parseCondition, type Condition } from '../src/engine/rules/condition';
import { compileCondition, type EvaluationSubject } from '../src/engine/rules/evaluate';
import { countBehaviours } from '../src/engine/rules/behaviour-counts';

/**
 * The condition language (API.md "Conditions"): validation on write with the path of the
 * failing node, and evaluation that never throws and never coerces types.
 */

type Props = Record<string, unknown>;

function subject(
  properties: Props = {},
  traits: Props = {},
  customer: Partial<EvaluationSubject['customer']> = {},
) {
  return {
    event: { name: 'added_to_cart', properties },
    customer: {
      externalId: 'cust-1',
      email: null,
      phone: null,
      timezone: null,
      locale: null,
      traits,
      ...customer,
    },
  } satisfies EvaluationSubject;
}

/** Parses (as the API would) and evaluates one condition against a subject. */
function matches(raw: unknown, s: EvaluationSubject): boolean {
  return compileCondition(parseCondition(raw))(s).matched;
}

const prop = (op: string, value?: unknown) =>
  value === undefined
    ? { field: 'event.properties.p', op }
    : { field: 'event.properties.p', op, value };

/** `p` set to `actual` (or absent when `actual` is the MISSING marker). */
const MISSING = Symbol('missing');
const withP = (actual: unknown) => subject(actual === MISSING ? {} : { p: actual });

describe('rules', () => {
  describe('operators', () => {
    // [op, value, actual, expected]
    const cases: Array<[string, unknown, unknown, boolean]> = [
      ['eq', 75, 75, true],
      ['eq', 75, 76, false],
      ['eq', 'DE', 'DE', true],
      ['eq', 'DE', 'de', false],
      ['eq', true, true, true],
      ['eq', true, false, false],
      ['eq', null, null, true],
      ['eq', null, 'x', false],
      ['neq', 75, 76, true],
      ['neq', 75, 75, false],
      ['neq', 'DE', 'de', true],
      ['neq', 'gold', 'silver', true],
      ['gt', 50, 51, true],
      ['gt', 50, 50, false],
      ['gt', 'b', 'c', true],
      ['gt', 'b', 'a', false],
      ['gte', 50, 50, true],
      ['gte', 50, 49.99, false],
      ['lt', 50, 49, true],
      ['lt', 50, 50, false],
      ['lte', 50, 50, true],
      ['lte', 50, 50.01, false],
      ['in', ['a', 'b'], 'b', true],
      ['in', ['a', 'b'], 'c', false],
      ['in', [1, 2], 2, true],
      ['nin', ['a', 'b'], 'c', true],
      ['nin', ['a', 'b'], 'a', false],
      ['contains', 'ell', 'hello', true],
      ['contains', 'xyz', 'hello', false],
      ['contains', 'red', ['red', 'blue'], true],
      ['contains', 'green', ['red', 'blue'], false],
      ['contains', 3, [1, 2, 3], true],
      ['startsWith', 'he', 'hello', true],
      ['startsWith', 'lo', 'hello', false],
      ['between', [10, 20], 10, true],
      ['between', [10, 20], 20, true],
      ['between', [10, 20], 15, true],
      ['between', [10, 20], 9, false],
      ['between', [10, 20], 21, false],
      ['between', ['b', 'd'], 'c', true],
      ['between', ['b', 'd'], 'e', false],
    ];

    it.each(cases)('%s %j against %j → %s', (op, value, actual, expected) => {
      expect(matches(prop(op, value), withP(actual))).toBe(expected);
    });

    it.each([
      [undefined, 'x', true],
      [undefined, 0, true],
      [undefined, false, true],
      [undefined, '', true],
      [undefined, null, false],
      [undefined, MISSING, false],
      [true, 'x', true],
      [true, MISSING, false],
      [false, MISSING, true],
      [false, null, true],
      [false, 'x', false],
    ])('exists (value %j) against %s → %s', (value, actual, expected) => {
      expect(matches(prop('exists', value), withP(actual))).toBe(expected);
    });

    it('covers every operator the language defines', () => {
      const tested = new Set([...cases.map(([op]) => op), 'exists']);
      expect([...tested].sort()).toEqual([...OPERATORS].sort());
    });
  });

  describe('missing and mistyped properties', () => {
    it.each(OPERATORS.filter((op) => op !== 'exists'))(
      '%s on a missing property does not match and does not throw',
      (op) => {
        const value: Record<string, unknown> = {
          eq: 1,
          neq: 1,
          gt: 1,
          gte: 1,
          lt: 1,
          lte: 1,
          in: [1],
          nin: [1],
          contains: 'a',
          startsWith: 'a',
          between: [0, 2],
        };
        const compiled = compileCondition(parseCondition(prop(op, value[op])));

        expect(() => compiled(withP(MISSING))).not.toThrow();
        expect(compiled(withP(MISSING)).matched).toBe(false);
      },
    );

    it('a path through a non-object (or an array) is missing, not an error', () => {
      const field = { field: 'event.properties.cart.items.count', op: 'gte', value: 1 };

      for (const properties of [
        { cart: 'full' },
        { cart: null },
        { cart: { items: [1, 2] } },
        { cart: 5 },
      ]) {
        expect(matches(field, subject(properties))).toBe(false);
      }
      expect(matches(field, subject({ cart: { items: { count: 2 } } }))).toBe(true);
    });

    it('inherited properties are never read (no prototype lookups)', () => {
      for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
        expect(matches({ field: `event.properties.${name}`, op: 'exists' }, subject({}))).toBe(
          false,
        );
        expect(matches({ field: `customer.traits.${name}`, op: 'exists' }, subject({}, {}))).toBe(
          false,
        );
      }
    });

    it.each([
      ['eq', 75, '75'],
      ['eq', '75', 75],
      ['eq', true, 'true'],
      ['eq', 1, true],
      ['gte', 50, '75'],
      ['gt', '50', 75],
      ['lt', 100, '75'],
      ['between', [50, 100], '75'],
      ['in', [75], '75'],
      ['contains', 75, '1750'],
      ['startsWith', '7', 75],
    ])('%s %j never matches %j: no implicit coercion', (op, value, actual) => {
      expect(matches(prop(op, value), withP(actual))).toBe(false);
    });

    it('neq null matches every present, non-null value: the negation of eq null', () => {
      for (const actual of ['gold', 0, false, 75]) {
        expect(matches(prop('eq', null), withP(actual))).toBe(false);
        expect(matches(prop('neq', null), withP(actual))).toBe(true);
      }
      expect(matches(prop('neq', null), withP(null))).toBe(false);
      expect(matches(prop('neq', null), withP(MISSING))).toBe(false);
    });

    it('equality is case-sensitive', () => {
      expect(matches(prop('eq', 'DE'), withP('de'))).toBe(false);
      expect(matches(prop('in', ['DE', 'AT']), withP('de'))).toBe(false);
      expect(matches(prop('startsWith', 'Gold'), withP('gold member'))).toBe(false);
      expect(matches(prop('contains', 'VIP'), withP('a vip'))).toBe(false);
    });

    it('a customer field that is null counts as missing', () => {
      const hasEmail = { field: 'customer.email', op: 'exists' };

      expect(matches(hasEmail, subject({}, {}, { email: null }))).toBe(false);
      expect(matches(hasEmail, subject({}, {}, { email: 'a@example.com' }))).toBe(true);
      expect(
        matches(
          { field: 'customer.email', op: 'eq', value: null },
          subject({}, {}, { email: null }),
        ),
      ).toBe(false);
    });

    it('event.name and customer fields are readable', () => {
      const s = subject(
        {},
        {},
        { externalId: 'cust-9', locale: 'de-DE', timezone: 'Europe/Berlin' },
      );

      expect(matches({ field: 'event.name', op: 'eq', value: 'added_to_cart' }, s)).toBe(true);
      expect(matches({ field: 'customer.externalId', op: 'eq', value: 'cust-9' }, s)).toBe(true);
      expect(matches({ field: 'customer.locale', op: 'startsWith', value: 'de' }, s)).toBe(true);
      expect(matches({ field: 'customer.timezone', op: 'eq', value: 'Europe/Berlin' }, s)).toBe(
        true,
      );
    });
  });

  describe('not', () => {
    it('not of a comparison on a missing property matches (two-valued logic) and does not throw', () => {
      const notGold = { not: { field: 'customer.traits.tier', op: 'eq', value: 'gold' } };

      expect(matches(notGold, subject({}, {}))).toBe(true);
      expect(matches(notGold, subject({}, { tier: 'gold' }))).toBe(false);
      expect(matches(notGold, subject({}, { tier: 'silver' }))).toBe(true);
    });

    it('not exists matches exactly when the field is missing or null (the API.md example)', () => {
      const noEmail = { not: { field: 'customer.email', op: 'exists' } };

      expect(matches(noEmail, subject({}, {}, { email: null }))).toBe(true);
      expect(matches(noEmail, subject({}, {}, { email: 'a@example.com' }))).toBe(false);
    });

    it('neq requires the property to be present, unlike not(eq)', () => {
      expect(matches(prop('neq', 'gold'), withP(MISSING))).toBe(false);
      expect(matches({ not: prop('eq', 'gold') }, withP(MISSING))).toBe(true);
    });

    it('double negation is the identity', () => {
      const inner = prop('gte', 50);

      for (const actual of [75, 20, MISSING, '75']) {
        expect(matches({ not: { not: inner } }, withP(actual))).toBe(matches(inner, withP(actual)));
      }
    });
  });

  describe('all / any', () => {
    const T = { field: 'event.properties.t', op: 'eq', value: true };
    const F = { field: 'event.properties.f', op: 'eq', value: true };
    const s = subject({ t: true, f: false });

    it.each([
      [{ all: [T] }, true],
      [{ all: [T, T] }, true],
      [{ all: [T, F] }, false],
      [{ any: [F, T] }, true],
      [{ any: [F, F] }, false],
      [{ all: [T, { any: [F, T] }] }, true],
      [{ any: [F, { all: [T, F] }] }, false],
      [{ any: [{ all: [T, F] }, T] }, true],
      [{ all: [{ any: [F, F] }, T] }, false],
      [{ not: { all: [T, F] } }, true],
      [{ not: { any: [T, F] } }, false],
    ])('%j → %s', (raw, expected) => {
      expect(matches(raw, s)).toBe(expected);
    });

    it('a null condition matches everything', () => {
      expect(compileCondition(null)(s).matched).toBe(true);
    });

    it('a non-match reports the path of the comparison that decided it', () => {
      const compiled = compileCondition(parseCondition({ all: [T, { all: [T, F] }] }));

      expect(compiled(s)).toEqual({
        matched: false,
        couldMatchLater: false,
        failingPath: 'all.1.all.1',
        field: 'event.properties.f',
        reason: 'NO_MATCH',
      });
    });
  });

  describe('C09 nested AND/OR rules (rows a–f, segments modelled as a trait list)', () => {
    // all: [ event is added_to_cart,
    //        any: [ all: [cartValue >= 50, country == "DE"], vip == true ],
    //        not: in seg-employees ]
    const C09: Condition = parseCondition({
      all: [
        { field: 'event.name', op: 'eq', value: 'added_to_cart' },
        {
          any: [
            {
              all: [
                { field: 'event.properties.cartValue', op: 'gte', value: 50 },
                { field: 'customer.traits.country', op: 'eq', value: 'DE' },
              ],
            },
            { field: 'customer.traits.vip', op: 'eq', value: true },
          ],
        },
        { not: { field: 'customer.traits.segments', op: 'contains', value: 'seg-employees' } },
      ],
    });
    const rule = compileCondition(C09);

    it.each([
      [
        'a',
        'cartValue 75 (number), country DE, vip absent',
        { cartValue: 75 },
        { country: 'DE' },
        true,
      ],
      ['b', 'cartValue "75" (string), country DE', { cartValue: '75' }, { country: 'DE' }, false],
      ['c', 'cartValue 20, vip true', { cartValue: 20 }, { vip: true }, true],
      ['d', 'cartValue, vip and country all absent', {}, {}, false],
      ['e', 'cartValue 75, country "de"', { cartValue: 75 }, { country: 'de' }, false],
      [
        'f',
        'cartValue 75, country DE, in seg-employees',
        { cartValue: 75 },
        { country: 'DE', segments: ['seg-employees'] },
        false,
      ],
    ])('row %s: %s → enters: %s', (_row, _label, properties, traits, expected) => {
      const evaluate = () => rule(subject(properties, traits));

      expect(evaluate).not.toThrow();
      expect(evaluate().matched).toBe(expected);
    });

    it.each([
      [
        'cartValue 20, country DE, vip false: AND binds inside the any branch',
        { cartValue: 20 },
        { country: 'DE', vip: false },
        false,
      ],
      [
        'cartValue 75, country FR, vip true: the OR branch alone suffices',
        { cartValue: 75 },
        { country: 'FR', vip: true },
        true,
      ],
      [
        'cartValue 75, country FR, vip absent: neither branch',
        { cartValue: 75 },
        { country: 'FR' },
        false,
      ],
      ['vip "true" (string) is not vip true', { cartValue: 20 }, { vip: 'true' }, false],
      [
        'vip true but an employee: not binds at the top level',
        { cartValue: 20 },
        { vip: true, segments: ['seg-employees'] },
        false,
      ],
      [
        'an employee of another segment still enters',
        { cartValue: 75 },
        { country: 'DE', segments: ['seg-vip'] },
        true,
      ],
    ])('precedence: %s', (_label, properties, traits, expected) => {
      expect(rule(subject(properties, traits)).matched).toBe(expected);
    });

    it('another event name never enters', () => {
      const s = subject({ cartValue: 75 }, { country: 'DE' });

      expect(rule({ ...s, event: { ...s.event, name: 'purchase' } }).matched).toBe(false);
    });

    it('row d reports the any-branch as the deciding node', () => {
      const verdict = rule(subject({}, {}));

      expect(verdict.matched).toBe(false);
      expect(verdict.failingPath).toMatch(/^all\.1/);
    });
  });

  describe('validation errors point at the failing node', () => {
    function problemOf(raw: unknown): InputProblem {
      try {
        parseCondition(raw);
      } catch (err) {
        expect(err).toBeInstanceOf(InputProblem);
        return err as InputProblem;
      }
      throw new Error(`expected ${JSON.stringify(raw)} to be rejected`);
    }

    const ok = { field: 'event.properties.price', op: 'gte', value: 50 };

    it.each([
      [
        'an unknown operator',
        { field: 'event.properties.price', op: 'greaterish', value: 1 },
        'op',
      ],
      ['a missing operator', { field: 'event.properties.price', value: 1 }, 'op'],
      ['a non-string field', { field: 5, op: 'eq', value: 1 }, 'field'],
      ['an unknown field root', { field: 'order.total', op: 'eq', value: 1 }, 'field'],
      ['an unknown customer field', { field: 'customer.name', op: 'eq', value: 'x' }, 'field'],
      ['an empty property name', { field: 'event.properties.', op: 'exists' }, 'field'],
      ['a field with spaces', { field: 'event.properties.unit price', op: 'exists' }, 'field'],
      ['an unknown key in a comparison', { ...ok, values: [1] }, 'values'],
      ['between reversed', { field: 'event.properties.x', op: 'between', value: [5, 1] }, 'value'],
      [
        'between of mixed kinds',
        { field: 'event.properties.x', op: 'between', value: [1, '5'] },
        'value',
      ],
      [
        'between of three',
        { field: 'event.properties.x', op: 'between', value: [1, 2, 3] },
        'value',
      ],
      ['in with an empty list', { field: 'event.properties.x', op: 'in', value: [] }, 'value'],
      ['in with a non-list', { field: 'event.properties.x', op: 'in', value: 'a' }, 'value'],
      ['nin with objects', { field: 'event.properties.x', op: 'nin', value: [{ a: 1 }] }, 'value'],
      [
        'in with over 1000 items',
        { field: 'event.properties.x', op: 'in', value: Array.from({ length: 1001 }, (_, i) => i) },
        'value',
      ],
      ['eq with an object', { field: 'event.properties.x', op: 'eq', value: { a: 1 } }, 'value'],
      ['eq with a list', { field: 'event.properties.x', op: 'eq', value: [1] }, 'value'],
      ['eq without a value', { field: 'event.properties.x', op: 'eq' }, 'value'],
      ['gt with a boolean', { field: 'event.properties.x', op: 'gt', value: true }, 'value'],
      [
        'gt with a non-finite number',
        { field: 'event.properties.x', op: 'gt', value: Infinity },
        'value',
      ],
      [
        'startsWith with a number',
        { field: 'event.properties.x', op: 'startsWith', value: 7 },
        'value',
      ],
      ['contains with null', { field: 'event.properties.x', op: 'contains', value: null }, 'value'],
      [
        'exists with a string',
        { field: 'event.properties.x', op: 'exists', value: 'yes' },
        'value',
      ],
    ])('%s → path %s', (_label, raw, path) => {
      expect(problemOf(raw).path).toBe(path);
    });

    it('a failing node inside all is named by index: all.2.value', () => {
      const raw = {
        all: [
          ok,
          { field: 'customer.traits.tier', op: 'eq', value: 'gold' },
          { field: 'event.properties.x', op: 'between', value: [5, 1] },
        ],
      };

      expect(problemOf(raw).path).toBe('all.2.value');
    });

    it('a failing node deep in any/not/all is named by its full path', () => {
      const raw = {
        any: [
          ok,
          { all: [ok, { not: { any: [ok, { field: 'event.properties.x', op: 'nope' }] } }] },
        ],
      };

      expect(problemOf(raw).path).toBe('any.1.all.1.not.any.1.op');
    });

    it.each([
      ['all and any at one level', { all: [ok], any: [ok] }, ''],
      ['all and not at one level', { all: [ok], not: ok }, ''],
      ['a group and a comparison at one level', { any: [ok], ...ok }, ''],
      ['mixing nested at all.0', { all: [{ all: [ok], any: [ok] }] }, 'all.0'],
    ])('%s is rejected at the mixing node (path "%s")', (_label, raw, path) => {
      expect(problemOf(raw).path).toBe(path);
    });

    it.each([
      ['an empty all', { all: [] }, 'all'],
      ['an empty any', { any: [] }, 'any'],
      ['all that is not a list', { all: ok }, 'all'],
      ['an unknown key next to a group', { all: [ok], label: 'x' }, 'label'],
      ['not of a non-object', { not: 'x' }, 'not'],
      ['a list as the root', [ok], ''],
      ['a string as the root', 'price > 5', ''],
      ['null as the root', null, ''],
      ['a null child', { all: [ok, null] }, 'all.1'],
    ])('%s → path "%s"', (_label, raw, path) => {
      expect(problemOf(raw).path).toBe(path);
    });

    it('nesting deeper than 12 levels is refused', () => {
      let raw: unknown = ok;
      for (let i = 0; i < 13; i++) raw = { not: raw };

      expect(problemOf(raw).path).toBe(Array.from({ length: 13 }, () => 'not').join('.'));
      let allowed: unknown = ok;
      for (let i = 0; i < 12; i++) allowed = { not: allowed };
      expect(() => parseCondition(allowed)).not.toThrow();
    });

    it('more than 200 nodes are refused', () => {
      expect(() => parseCondition({ all: Array.from({ length: 199 }, () => ok) })).not.toThrow();
      expect(problemOf({ all: Array.from({ length: 200 }, () => ok) }).path).toBe('all.199');
    });

    it('a valid tree is returned as typed, with absent values left out', () => {
      const raw = { all: [ok, { not: { field: 'customer.email', op: 'exists' } }] };

      expect(parseCondition(raw)).toEqual({
        all: [ok, { not: { field: 'customer.email', op: 'exists' } }],
      });
    });
  });

  describe('string ordering is by Unicode code point', () => {
    // U+1F600 is stored as the surrogate pair D83D DE00: below U+FFFD in UTF-16 code units.
    const astral = '\u{1F600}';

    it.each([
      ['gt', '\uFFFD', astral, true],
      ['lt', '\uFFFD', astral, false],
      ['gt', astral, '\uFFFD', false],
      ['gte', '\uE000', astral, true],
      ['lte', 'a' + astral, 'a\uFFFF', true],
      ['between', ['\uE000', astral], '\uFFFD', true],
      ['between', ['\uE000', '\uFFFD'], astral, false],
    ])('%s %j against %j → %s', (op, value, actual, expected) => {
      expect(matches(prop(op, value), withP(actual))).toBe(expected);
    });

    it('between validates low <= high in the same order', () => {
      expect(() => parseCondition(prop('between', ['\uFFFD', astral]))).not.toThrow();
      expect(() => parseCondition(prop('between', [astral, '\uFFFD']))).toThrow(InputProblem);
    });
  });

  describe('performed (behaviour conditions)', () => {
    const viewedShoes = {
      performed: {
        event: 'product_viewed',
        within: 'P7D',
        atLeast: 3,
        where: { field: 'event.properties.category', op: 'eq', value: 'shoes' },
      },
    };

    function problemOf(raw: unknown): InputProblem {
      try {
        parseCondition(raw);
      } catch (err) {
        expect(err).toBeInstanceOf(InputProblem);
        return err as InputProblem;
      }
      throw new Error(`expected ${JSON.stringify(raw)} to be rejected`);
    }

    const performed = (fields: Record<string, unknown>) => ({
      performed: { event: 'purchase', within: 'P30D', ...fields },
    });

    it('a valid behaviour condition is returned as typed, with the duration trimmed', () => {
      expect(parseCondition(viewedShoes)).toEqual(viewedShoes);
      expect(parseCondition(performed({ within: ' P30D ' }))).toEqual(performed({}));
      expect(parseCondition({ not: performed({}) })).toEqual({ not: performed({}) });
      expect(parseCondition(performed({ atMost: 0 }))).toEqual(performed({ atMost: 0 }));
    });

    it.each([
      ['performed that is not an object', { performed: 'purchase' }, 'performed'],
      ['a missing event', { performed: { within: 'P1D' } }, 'performed.event'],
      ['an empty event name', performed({ event: '' }), 'performed.event'],
      ['an event name with outer spaces', performed({ event: ' purchase' }), 'performed.event'],
      ['an event name of 201 characters', performed({ event: 'x'.repeat(201) }), 'performed.event'],
      ['a numeric event name', performed({ event: 5 }), 'performed.event'],
      ['an event name with U+0000', performed({ event: 'a\u0000b' }), 'performed.event'],
      ['a missing window', { performed: { event: 'purchase' } }, 'performed.within'],
      ['a window in months', performed({ within: 'P1M' }), 'performed.within'],
      ['a window that is not ISO 8601', performed({ within: '7 days' }), 'performed.within'],
      ['a zero window', performed({ within: 'PT0S' }), 'performed.within'],
      ['a window longer than a year', performed({ within: 'P400D' }), 'performed.within'],
      ['a negative atLeast', performed({ atLeast: -1 }), 'performed.atLeast'],
      ['a fractional atLeast', performed({ atLeast: 1.5 }), 'performed.atLeast'],
      ['a string atLeast', performed({ atLeast: '3' }), 'performed.atLeast'],
      ['atLeast over 100000', performed({ atLeast: 100_001 }), 'performed.atLeast'],
      ['atLeast 0 without atMost (always true)', performed({ atLeast: 0 }), 'performed.atLeast'],
      ['a negative atMost', performed({ atMost: -1 }), 'performed.atMost'],
      ['a null atMost', performed({ atMost: null }), 'performed.atMost'],
      ['atMost below atLeast', performed({ atLeast: 3, atMost: 2 }), 'performed.atMost'],
      ['an unknown key inside performed', performed({ times: 3 }), 'performed.times'],
      ['an unknown key next to performed', { ...performed({}), label: 'x' }, 'label'],
      ['performed beside a comparison', { ...performed({}), field: 'event.name' }, ''],
      ['performed beside all', { ...performed({}), all: [viewedShoes] }, ''],
      [
        'a customer field in where',
        performed({ where: { field: 'customer.traits.tier', op: 'eq', value: 'gold' } }),
        'performed.where.field',
      ],
      [
        'customer.email deep in where',
        performed({ where: { any: [{ not: { field: 'customer.email', op: 'exists' } }] } }),
        'performed.where.any.0.not.field',
      ],
      [
        'performed nested in where',
        performed({ where: { not: performed({}) } }),
        'performed.where.not.performed',
      ],
      ['a where that is not a condition', performed({ where: 'x' }), 'performed.where'],
    ])('%s → path "%s"', (_label, raw, path) => {
      expect(problemOf(raw).path).toBe(path);
    });

    it('paths nest through groups and where: all.1.performed.where.any.0.value', () => {
      const raw = {
        all: [
          { field: 'event.name', op: 'eq', value: 'x' },
          performed({
            where: { any: [{ field: 'event.properties.price', op: 'between', value: [5, 1] }] },
          }),
        ],
      };

      expect(problemOf(raw).path).toBe('all.1.performed.where.any.0.value');
    });

    it('at most 5 performed nodes per tree, counted across groups', () => {
      const five = Array.from({ length: 5 }, () => performed({}));

      expect(() => parseCondition({ all: five })).not.toThrow();
      expect(problemOf({ all: [...five, performed({})] }).path).toBe('all.5.performed');
      expect(problemOf({ any: [{ all: five }, { not: performed({}) }] }).path).toBe(
        'any.1.not.performed',
      );
    });

    it('a caller that loads no counts can refuse performed', () => {
      let problem: unknown;
      try {
        parseCondition({ all: [prop('exists'), performed({})] }, { behaviours: false });
      } catch (err) {
        problem = err;
      }

      expect(problem).toBeInstanceOf(InputProblem);
      expect((problem as InputProblem).path).toBe('all.1.performed');
      expect(() => parseCondition(prop('exists'), { behaviours: false })).not.toThrow();
    });

    it('where nodes count towards the node and depth limits', () => {
      const where = {
        all: Array.from({ length: 199 }, () => ({ field: 'event.name', op: 'exists' })),
      };
      expect(problemOf(performed({ where })).path).toBe('performed.where.all.198');

      let deep: unknown = { field: 'event.name', op: 'exists' };
      for (let i = 0; i < 12; i++) deep = { not: deep };
      expect(problemOf(performed({ where: deep })).path).toMatch(/^performed\.where(\.not){12}$/);
    });

    describe('evaluation against supplied counts', () => {
      const withCounts = (...counts: number[]) => ({ ...subject(), behaviourCounts: counts });

      it.each([
        [{}, 0, false],
        [{}, 1, true],
        [{ atLeast: 3 }, 2, false],
        [{ atLeast: 3 }, 3, true],
        [{ atLeast: 3 }, 99, true],
        [{ atMost: 0 }, 0, true],
        [{ atMost: 0 }, 1, false],
        [{ atMost: 2 }, 0, true],
        [{ atLeast: 1, atMost: 2 }, 0, false],
        [{ atLeast: 1, atMost: 2 }, 2, true],
        [{ atLeast: 1, atMost: 2 }, 3, false],
      ])('%j with count %d → %s', (bounds, count, expected) => {
        expect(matches(performed(bounds), withCounts(count))).toBe(expected);
      });

      it('not performed means "has not done it within the window"', () => {
        const rule = compileCondition(parseCondition({ not: performed({}) }));

        expect(rule(withCounts(0)).matched).toBe(true);
        expect(rule(withCounts(1))).toEqual({
          matched: false,
          couldMatchLater: false,
          failingPath: 'not',
          reason: 'NO_MATCH',
        });
      });

      it('behaviours are listed depth-first, and counts are read in that order', () => {
        const a = performed({ event: 'a' });
        const b = performed({ event: 'b', atMost: 0 });
        const c = performed({ event: 'c' });
        const rule = compileCondition(parseCondition({ all: [a, { any: [b, { not: c }] }] }));

        expect(rule.behaviours.map((x) => x.performed.event)).toEqual(['a', 'b', 'c']);
        expect(rule(withCounts(1, 0, 5)).matched).toBe(true);
        expect(rule(withCounts(1, 1, 0)).matched).toBe(true);
        expect(rule(withCounts(1, 1, 5))).toMatchObject({
          matched: false,
          failingPath: 'all.1.any',
        });
        expect(rule(withCounts(0, 0, 0))).toMatchObject({
          matched: false,
          couldMatchLater: false,
          failingPath: 'all.0.performed',
          reason: 'NO_MATCH',
        });
      });

      it('a tree without performed has no behaviours and needs no counts', () => {
        expect(compileCondition(parseCondition(prop('exists'))).behaviours).toEqual([]);
        expect(compileCondition(null).behaviours).toEqual([]);
      });

      it('missing counts for a tree with performed is a programming error', () => {
        const rule = compileCondition(parseCondition(performed({})));

        expect(() => rule(subject())).toThrow(/behaviourCounts/);
      });
    });

    describe('countBehaviours (in memory)', () => {
      const DAY = 86_400_000;
      const at = Date.UTC(2025, 5, 15, 12);
      const history = [
        { name: 'product_viewed', properties: { category: 'shoes' }, occurredAtMs: at - 7 * DAY },
        {
          name: 'product_viewed',
          properties: { category: 'shoes' },
          occurredAtMs: at - 7 * DAY + 1,
        },
        { name: 'product_viewed', properties: { category: 'hats' }, occurredAtMs: at - DAY },
        { name: 'purchase', properties: {}, occurredAtMs: at - DAY },
        { name: 'product_viewed', properties: { category: 'shoes' }, occurredAtMs: at - 1 },
        { name: 'product_viewed', properties: { category: 'shoes' }, occurredAtMs: at },
        { name: 'product_viewed', properties: { category: 'shoes' }, occurredAtMs: at + 1 },
      ];
      const shoes = parseCondition(viewedShoes) as { performed: never } & Condition;

      it('counts events of the name, in (t − within, t], matching where', () => {
        const anyView = parseCondition({ performed: { event: 'product_viewed', within: 'P7D' } });
        const purchase = parseCondition(performed({ within: 'PT24H' }));
        const purchaseLonger = parseCondition(performed({ within: 'PT25H' }));
        const rule = compileCondition({ all: [shoes, anyView, purchase, purchaseLonger] });

        expect(countBehaviours(history, at, rule.behaviours)).toEqual([3, 4, 0, 1]);
      });

      it('the entry event counts itself; a later event does not', () => {
        const rule = compileCondition(parseCondition(viewedShoes));

        expect(countBehaviours(history, at, rule.behaviours)).toEqual([3]);
        expect(countBehaviours(history, at - 2, rule.behaviours)).toEqual([2]);
        expect(countBehaviours(history, at + 1, rule.behaviours)).toEqual([3]);
        expect(countBehaviours([], at, rule.behaviours)).toEqual([0]);
        expect(countBehaviours(history, at, [])).toEqual([]);
      });

      it('feeds the compiled condition', () => {
        const rule = compileCondition(parseCondition(viewedShoes));
        const verdict = rule({
          ...subject(),
          behaviourCounts: countBehaviours(history, at - 2, rule.behaviours),
        });

        expect(verdict.matched).toBe(false);
        expect(
          rule({ ...subject(), behaviourCounts: countBehaviours(history, at, rule.behaviours) })
            .matched,
        ).toBe(true);
      });
    });
  });

  describe('couldMatchLater and reason', () => {
    const rule = (raw: unknown) => compileCondition(parseCondition(raw));
    const tierGold = { field: 'customer.traits.tier', op: 'eq', value: 'gold' };
    const bigCart = { field: 'event.properties.cartValue', op: 'gte', value: 50 };

    it('a comparison on a missing trait could match later', () => {
      expect(rule(tierGold)(subject({}, {}))).toEqual({
        matched: false,
        couldMatchLater: true,
        failingPath: '',
        field: 'customer.traits.tier',
        reason: 'MISSING',
      });
    });

    it('a present trait of another type is final: TYPE_MISMATCH', () => {
      expect(rule(tierGold)(subject({}, { tier: 1 }))).toMatchObject({
        matched: false,
        couldMatchLater: false,
        reason: 'TYPE_MISMATCH',
      });
      expect(rule(tierGold)(subject({}, { tier: 'silver' }))).toMatchObject({
        couldMatchLater: false,
        reason: 'NO_MATCH',
      });
    });

    it('event properties are final even when missing', () => {
      expect(rule(bigCart)(subject({}))).toMatchObject({
        couldMatchLater: false,
        field: 'event.properties.cartValue',
        reason: 'MISSING',
      });
      expect(rule(bigCart)(subject({ cartValue: '75' }))).toMatchObject({
        couldMatchLater: false,
        reason: 'TYPE_MISMATCH',
      });
      expect(rule(bigCart)(subject({ cartValue: 20 }))).toMatchObject({ reason: 'NO_MATCH' });
    });

    it.each([
      ['all: a final false decides', { all: [bigCart, tierGold] }, {}, false],
      ['all: only the trait is missing', { all: [bigCart, tierGold] }, { cartValue: 75 }, true],
      ['any: a missing trait keeps it open', { any: [bigCart, tierGold] }, {}, true],
      [
        'not of a missing trait is unknown too',
        { all: [bigCart, { not: tierGold }] },
        { cartValue: 75 },
        false,
      ],
      [
        'not exists on a missing email',
        { all: [{ not: { field: 'customer.email', op: 'exists' } }, tierGold] },
        {},
        true,
      ],
      [
        'not of exists false on a missing trait (it may arrive)',
        { not: { field: 'customer.traits.t', op: 'exists', value: false } },
        {},
        true,
      ],
    ])('%s → couldMatchLater %s', (_label, raw, properties, expected) => {
      const verdict = rule(raw)(subject(properties, {}));

      if (verdict.matched) {
        expect(expected).toBe(false);
        expect(verdict.couldMatchLater).toBe(false);
      } else {
        expect(verdict.couldMatchLater).toBe(expected);
      }
    });

    it('comparisons no value of the field could satisfy stay false', () => {
      const none = subject({}, {});
      // Profile fields are strings; nothing is below the empty string.
      expect(rule({ field: 'customer.email', op: 'eq', value: 5 })(none).couldMatchLater).toBe(
        false,
      );
      expect(rule({ field: 'customer.locale', op: 'gt', value: 1 })(none).couldMatchLater).toBe(
        false,
      );
      expect(
        rule({ field: 'customer.phone', op: 'contains', value: 7 })(none).couldMatchLater,
      ).toBe(false);
      expect(rule({ field: 'customer.traits.x', op: 'lt', value: '' })(none).couldMatchLater).toBe(
        false,
      );
      expect(
        rule({ field: 'customer.email', op: 'startsWith', value: 'a' })(none).couldMatchLater,
      ).toBe(true);
      expect(
        rule({ field: 'customer.traits.x', op: 'contains', value: 7 })(none).couldMatchLater,
      ).toBe(true);
    });

    it('exists false on a present trait fails for NO_MATCH, exists on null for MISSING', () => {
      expect(
        rule({ field: 'customer.traits.t', op: 'exists', value: false })(subject({}, { t: 1 })),
      ).toMatchObject({ reason: 'NO_MATCH', couldMatchLater: false });
      expect(rule({ field: 'event.properties.p', op: 'exists' })(withP(null))).toMatchObject({
        reason: 'MISSING',
      });
    });

    it('any reports the group (NO_MATCH) unless it has a single branch', () => {
      expect(
        rule({ all: [bigCart, { any: [tierGold, { ...bigCart, op: 'lt', value: 10 }] }] })(
          subject({ cartValue: 75 }, { tier: 'x' }),
        ),
      ).toEqual({
        matched: false,
        couldMatchLater: false,
        failingPath: 'all.1.any',
        reason: 'NO_MATCH',
      });
      expect(rule({ any: [tierGold] })(subject({}, {}))).toMatchObject({
        failingPath: 'any.0',
        reason: 'MISSING',
        couldMatchLater: true,
      });
    });

    it('C09 row d (nothing known) could match later; row b (cartValue "75") too, via vip', () => {
      const c09 = rule({
        all: [
          { field: 'event.name', op: 'eq', value: 'added_to_cart' },
          {
            any: [
              { all: [bigCart, { field: 'customer.traits.country', op: 'eq', value: 'DE' }] },
              { field: 'customer.traits.vip', op: 'eq', value: true },
            ],
          },
        ],
      });

      expect(c09(subject({}, {})).couldMatchLater).toBe(true);
      expect(c09(subject({ cartValue: '75' }, { country: 'DE' })).couldMatchLater).toBe(true);
      expect(c09(subject({ cartValue: 20 }, { vip: false })).couldMatchLater).toBe(false);
    });

    it('a match never could-match-later', () => {
      expect(rule(bigCart)(subject({ cartValue: 60 }))).toEqual({
        matched: true,
        couldMatchLater: false,
      });
    });
  });
});
