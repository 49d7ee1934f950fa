import {
  behaviourBounds,
  type BehaviourCondition,
  type Comparison,
  type Condition,
} from './condition';
import { compareCodePoints } from './text-order';

/** What a condition is evaluated against. */
export interface EvaluationSubject {
  event: { name: string; properties: Record<string, unknown> };
  customer: {
    /** Null for a customer known only by anonymous ids. */
    externalId: string | null;
    email: string | null;
    phone: string | null;
    timezone: string | null;
    locale: string | null;
    traits: Record<string, unknown>;
  };
  /** Counts for the compiled condition's `behaviours`, in that order; required when it has any. */
  behaviourCounts?: readonly number[];
}

export type FailureReason = 'MISSING' | 'TYPE_MISMATCH' | 'NO_MATCH';

export interface Verdict {
  matched: boolean;
  /**
   * False result that customer data arriving later could still turn true: a three-valued
   * (Kleene) evaluation in which comparisons on missing customer fields are unknown is
   * unknown. Event properties and behaviour counts are final.
   */
  couldMatchLater: boolean;
  /** For a non-match: path of the deciding node (e.g. `all.1.any`), field it read, and why. */
  failingPath?: string;
  field?: string;
  reason?: FailureReason;
}

export interface CompiledCondition {
  (subject: EvaluationSubject): Verdict;
  /** The tree's behaviour nodes, depth-first; counts are supplied in this order. */
  readonly behaviours: readonly BehaviourCondition[];
}

/** Kleene truth values. */
const FALSE = 0;
const TRUE = 1;
const UNKNOWN = 2;
type Tri = typeof FALSE | typeof TRUE | typeof UNKNOWN;

interface Failure {
  path: string;
  field?: string;
  reason: FailureReason;
}

type Counts = readonly number[];

/** One compiled node: its two-valued test, its Kleene value, and why it failed. */
interface NodeProgram {
  test(s: EvaluationSubject, counts: Counts): boolean;
  tri(s: EvaluationSubject, counts: Counts): Tri;
  /** Called only when `test` is false. */
  explain(s: EvaluationSubject, counts: Counts): Failure;
}

const MISSING = Symbol('missing');
const matched = (): Verdict => ({ matched: true, couldMatchLater: false });
const NO_COUNTS: Counts = [];

/**
 * Compiles a validated condition into a function. Comparisons never throw: a missing
 * property, or one of another type than the operator needs, simply does not match
 * (no implicit coercion: "75" is not 75, "de" is not "DE").
 */
export function compileCondition(condition: Condition | null): CompiledCondition {
  const behaviours: BehaviourCondition[] = [];
  if (!condition) return Object.assign(() => matched(), { behaviours: Object.freeze(behaviours) });
  const root = compileNode(condition, '', behaviours);
  const evaluate = (subject: EvaluationSubject): Verdict => {
    const counts = subject.behaviourCounts ?? NO_COUNTS;
    if (counts.length < behaviours.length) {
      throw new Error(
        `the condition has ${behaviours.length} performed node(s); ` +
          `pass their counts as behaviourCounts (got ${counts.length})`,
      );
    }
    if (root.test(subject, counts)) return matched();
    const failure = root.explain(subject, counts);
    const verdict: Verdict = {
      matched: false,
      couldMatchLater: root.tri(subject, counts) === UNKNOWN,
      failingPath: failure.path,
      reason: failure.reason,
    };
    if (failure.field !== undefined) verdict.field = failure.field;
    return verdict;
  };
  return Object.assign(evaluate, { behaviours: Object.freeze(behaviours) });
}

function compileNode(node: Condition, path: string, behaviours: BehaviourCondition[]): NodeProgram {
  const at = (suffix: string) => [path, suffix].filter(Boolean).join('.');
  if ('all' in node) {
    const children = node.all.map((c, i) => compileNode(c, at(`all.${i}`), behaviours));
    return {
      test: (s, n) => children.every((child) => child.test(s, n)),
      tri: (s, n) => {
        let result: Tri = TRUE;
        for (const child of children) {
          const value = child.tri(s, n);
          if (value === FALSE) return FALSE;
          if (value === UNKNOWN) result = UNKNOWN;
        }
        return result;
      },
      explain: (s, n) => children.find((child) => !child.test(s, n))!.explain(s, n),
    };
  }
  if ('any' in node) {
    const children = node.any.map((c, i) => compileNode(c, at(`any.${i}`), behaviours));
    const groupPath = at('any');
    return {
      test: (s, n) => children.some((child) => child.test(s, n)),
      tri: (s, n) => {
        let result: Tri = FALSE;
        for (const child of children) {
          const value = child.tri(s, n);
          if (value === TRUE) return TRUE;
          if (value === UNKNOWN) result = UNKNOWN;
        }
        return result;
      },
      // A one-branch any fails for its branch's reason. Otherwise the group is named, with
      // the most telling branch failure: a mistyped value first, then a missing one.
      explain: (s, n) => {
        if (children.length === 1) return children[0].explain(s, n);
        const failures = children.map((child) => child.explain(s, n));
        const telling =
          failures.find((f) => f.reason === 'TYPE_MISMATCH') ??
          failures.find((f) => f.reason === 'MISSING');
        return telling
          ? { path: groupPath, field: telling.field, reason: telling.reason }
          : { path: groupPath, reason: 'NO_MATCH' };
      },
    };
  }
  if ('not' in node) {
    const inner = compileNode(node.not, at('not'), behaviours);
    const groupPath = at('not');
    return {
      test: (s, n) => !inner.test(s, n),
      tri: (s, n) => {
        const value = inner.tri(s, n);
        return value === UNKNOWN ? UNKNOWN : value === TRUE ? FALSE : TRUE;
      },
      explain: () => ({ path: groupPath, reason: 'NO_MATCH' }),
    };
  }
  if ('performed' in node) {
    const index = behaviours.push(node) - 1;
    const { least, most } = behaviourBounds(node.performed);
    const test = (_s: EvaluationSubject, n: Counts) => n[index] >= least && n[index] <= most;
    const failure: Failure = { path: at('performed'), reason: 'NO_MATCH' };
    return {
      test,
      // Stored events do not change: a count is final.
      tri: (s, n) => (test(s, n) ? TRUE : FALSE),
      explain: () => failure,
    };
  }
  return compileComparisonNode(node, path);
}

function compileComparisonNode(node: Comparison, path: string): NodeProgram {
  const read = compileAccessor(node.field);
  const check = compileComparison(node);
  const customer = customerDomain(node.field);
  // A comparison on a missing customer field is unknown, unless no value the field could get
  // would satisfy it (then it stays false whatever arrives).
  const missingTri: Tri = !customer
    ? FALSE
    : check(MISSING) || satisfiable(node, customer)
      ? UNKNOWN
      : FALSE;
  return {
    test: (s) => check(read(s)),
    tri: (s) => {
      const actual = read(s);
      if (actual === MISSING && customer) return missingTri;
      return check(actual) ? TRUE : FALSE;
    },
    explain: (s) => ({ path, field: node.field, reason: reasonOf(node, read(s)) }),
  };
}

/**
 * Whether a customer field can still be supplied later (by an identify), and which values it
 * can then take: any JSON value for a trait, a string for a profile field. Event fields: null.
 */
function customerDomain(field: string): 'json' | 'string' | null {
  if (field.startsWith('customer.traits.')) return 'json';
  if (field.startsWith('customer.')) return 'string';
  return null;
}

/** Whether some value of the field's domain makes the comparison true. */
function satisfiable(c: Comparison, domain: 'json' | 'string'): boolean {
  const v = c.value;
  const stringsOnly = domain === 'string';
  switch (c.op) {
    case 'exists':
      return v !== false;
    case 'eq':
      return stringsOnly ? typeof v === 'string' : true;
    case 'neq':
      return stringsOnly ? v === null || typeof v === 'string' : true;
    case 'lt':
      // Nothing is less than the empty string (or the least number).
      return typeof v === 'string' ? v !== '' : !stringsOnly && (v as number) > -Number.MAX_VALUE;
    case 'gt':
      return typeof v === 'string' || (!stringsOnly && (v as number) < Number.MAX_VALUE);
    case 'gte':
    case 'lte':
    case 'between':
      return (
        !stringsOnly || typeof v === 'string' || (Array.isArray(v) && typeof v[0] === 'string')
      );
    case 'in':
      return !stringsOnly || (v as unknown[]).some((item) => typeof item === 'string');
    case 'nin':
    case 'startsWith':
      return true;
    case 'contains':
      return !stringsOnly || typeof v === 'string';
  }
}

function compileAccessor(field: string): (s: EvaluationSubject) => unknown {
  if (field === 'event.name') return (s) => s.event.name;
  if (field.startsWith('event.properties.')) {
    const keys = field.slice('event.properties.'.length).split('.');
    return (s) => dig(s.event.properties, keys);
  }
  if (field.startsWith('customer.traits.')) {
    const keys = field.slice('customer.traits.'.length).split('.');
    return (s) => dig(s.customer.traits, keys);
  }
  const key = field.slice('customer.'.length) as keyof EvaluationSubject['customer'];
  return (s) => {
    const v = s.customer[key];
    return v === null || v === undefined ? MISSING : v;
  };
}

function dig(root: unknown, keys: string[]): unknown {
  let current: unknown = root;
  for (const key of keys) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return MISSING;
    if (!Object.prototype.hasOwnProperty.call(current, key)) return MISSING;
    current = (current as Record<string, unknown>)[key];
  }
  return current === undefined ? MISSING : current;
}

/** The JSON type of a present value: string, number, boolean, null, array or object. */
function jsonType(a: unknown): string {
  if (a === null) return 'null';
  if (Array.isArray(a)) return 'array';
  return typeof a;
}

const sameOrderedKind = (a: unknown, b: unknown): boolean =>
  (typeof a === 'number' && typeof b === 'number') ||
  (typeof a === 'string' && typeof b === 'string');

/** Orders two values of the same kind: numbers numerically, strings by code point. */
const order = (a: unknown, b: unknown): number =>
  typeof a === 'string'
    ? compareCodePoints(a, b as string)
    : Math.sign((a as number) - (b as number));

function compileComparison(c: Comparison): (actual: unknown) => boolean {
  const value = c.value;
  switch (c.op) {
    case 'exists':
      return value === false
        ? (a) => a === MISSING || a === null
        : (a) => a !== MISSING && a !== null;
    case 'eq':
      return (a) => a !== MISSING && a === value;
    case 'neq':
      // Only values of the compared kind can differ; `neq null` means "present and not null".
      return value === null
        ? (a) => a !== MISSING && a !== null
        : (a) => a !== MISSING && typeof a === typeof value && a !== value;
    case 'gt':
      return (a) => sameOrderedKind(a, value) && order(a, value) > 0;
    case 'gte':
      return (a) => sameOrderedKind(a, value) && order(a, value) >= 0;
    case 'lt':
      return (a) => sameOrderedKind(a, value) && order(a, value) < 0;
    case 'lte':
      return (a) => sameOrderedKind(a, value) && order(a, value) <= 0;
    case 'in': {
      const set = value as unknown[];
      return (a) => a !== MISSING && set.includes(a);
    }
    case 'nin': {
      const set = value as unknown[];
      return (a) => a !== MISSING && a !== null && !set.includes(a);
    }
    case 'contains':
      return (a) =>
        (typeof a === 'string' && typeof value === 'string' && a.includes(value)) ||
        (Array.isArray(a) && a.includes(value));
    case 'startsWith':
      return (a) => typeof a === 'string' && a.startsWith(value as string);
    case 'between': {
      const [low, high] = value as [unknown, unknown];
      return (a) => sameOrderedKind(a, low) && order(a, low) >= 0 && order(a, high) <= 0;
    }
  }
}

/** Why a comparison that did not match failed on `actual`. */
function reasonOf(c: Comparison, actual: unknown): FailureReason {
  if (actual === MISSING) return 'MISSING';
  const value = c.value;
  let fits: boolean;
  switch (c.op) {
    case 'exists':
      // exists treats null as absent.
      return actual === null ? 'MISSING' : 'NO_MATCH';
    case 'eq':
    case 'neq':
      fits = value === null || jsonType(actual) === typeof value;
      break;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      fits = sameOrderedKind(actual, value);
      break;
    case 'between':
      fits = sameOrderedKind(actual, (value as unknown[])[0]);
      break;
    case 'in':
      fits = (value as unknown[]).some((item) => typeof item === jsonType(actual));
      break;
    case 'nin':
      fits = actual !== null;
      break;
    case 'contains':
      fits = Array.isArray(actual) || (typeof actual === 'string' && typeof value === 'string');
      break;
    case 'startsWith':
      fits = typeof actual === 'string';
      break;
  }
  return fits ? 'NO_MATCH' : 'TYPE_MISMATCH';
}
