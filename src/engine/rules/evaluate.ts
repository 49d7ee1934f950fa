import type { Comparison, Condition } from './condition';

/** What a condition is evaluated against. */
export interface EvaluationSubject {
  event: { name: string; properties: Record<string, unknown> };
  customer: {
    externalId: string;
    email: string | null;
    phone: string | null;
    timezone: string | null;
    locale: string | null;
    traits: Record<string, unknown>;
  };
}

export interface Verdict {
  matched: boolean;
  /** For a non-match, the path of the node that decided it (e.g. `all.1`). */
  failingPath?: string;
}

export type CompiledCondition = (subject: EvaluationSubject) => Verdict;

const MISSING = Symbol('missing');

/**
 * Compiles a validated condition into a function. Comparisons never throw: a missing
 * property, or one of another type than the operator needs, simply does not match
 * (no implicit coercion: "75" is not 75, "de" is not "DE").
 */
export function compileCondition(condition: Condition | null): CompiledCondition {
  if (!condition) return () => ({ matched: true });
  const evaluate = compileNode(condition, '');
  return (subject) => evaluate(subject);
}

function compileNode(node: Condition, path: string): CompiledCondition {
  const at = (suffix: string) => [path, suffix].filter(Boolean).join('.');
  if ('all' in node) {
    const children = node.all.map((c, i) => compileNode(c, at(`all.${i}`)));
    return (s) => {
      for (const child of children) {
        const verdict = child(s);
        if (!verdict.matched) return verdict;
      }
      return { matched: true };
    };
  }
  if ('any' in node) {
    const children = node.any.map((c, i) => compileNode(c, at(`any.${i}`)));
    return (s) =>
      children.some((child) => child(s).matched)
        ? { matched: true }
        : { matched: false, failingPath: path };
  }
  if ('not' in node) {
    const inner = compileNode(node.not, at('not'));
    return (s) => (inner(s).matched ? { matched: false, failingPath: path } : { matched: true });
  }
  const read = compileAccessor(node.field);
  const test = compileComparison(node);
  return (s) => (test(read(s)) ? { matched: true } : { matched: false, failingPath: path });
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

const sameOrderedKind = (a: unknown, b: unknown): boolean =>
  (typeof a === 'number' && typeof b === 'number') ||
  (typeof a === 'string' && typeof b === 'string');

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
      return (a) => sameOrderedKind(a, value) && (a as number) > (value as number);
    case 'gte':
      return (a) => sameOrderedKind(a, value) && (a as number) >= (value as number);
    case 'lt':
      return (a) => sameOrderedKind(a, value) && (a as number) < (value as number);
    case 'lte':
      return (a) => sameOrderedKind(a, value) && (a as number) <= (value as number);
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
      const [low, high] = value as [number, number];
      return (a) => sameOrderedKind(a, low) && (a as number) >= low && (a as number) <= high;
    }
  }
}
