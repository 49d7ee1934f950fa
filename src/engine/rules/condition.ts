import { InputProblem } from '../../errors';

/**
 * The condition language shared by triggers (and, later, segments): a typed tree of
 * `all` / `any` / `not` over comparisons. Stored as JSON, validated on write, compiled once
 * per trigger version.
 */
export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | Comparison;

export interface Comparison {
  field: string;
  op: Operator;
  value?: unknown;
}

export const OPERATORS = [
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
export type Operator = (typeof OPERATORS)[number];

/** Customer fields a condition may name directly; traits go under `customer.traits.`. */
const CUSTOMER_FIELDS = ['externalId', 'email', 'phone', 'timezone', 'locale'];
const MAX_DEPTH = 12;
const MAX_NODES = 200;

type Primitive = string | number | boolean;

const isPrimitive = (v: unknown): v is Primitive =>
  typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Validates an untrusted JSON tree. Throws `InputProblem` whose path points at the failing
 * node relative to the tree's root (e.g. `all.2.value`); returns the typed tree.
 */
export function parseCondition(raw: unknown): Condition {
  const counter = { nodes: 0 };
  return parseNode(raw, '', 0, counter);
}

function parseNode(
  raw: unknown,
  path: string,
  depth: number,
  counter: { nodes: number },
): Condition {
  const at = (suffix: string) => [path, suffix].filter(Boolean).join('.');
  if (++counter.nodes > MAX_NODES) {
    throw new InputProblem(path, `a condition may have at most ${MAX_NODES} nodes`);
  }
  if (depth > MAX_DEPTH) throw new InputProblem(path, `nesting deeper than ${MAX_DEPTH} levels`);
  if (!isPlainObject(raw)) {
    throw new InputProblem(path, 'expected an object with one of all, any, not, or field/op/value');
  }

  const groupKeys = ['all', 'any', 'not'].filter((k) => k in raw);
  if (groupKeys.length > 1 || (groupKeys.length === 1 && 'field' in raw)) {
    throw new InputProblem(
      path,
      `mixes ${[...groupKeys, ...('field' in raw ? ['field'] : [])].join(' and ')} at one level; ` +
        'wrap each in its own object inside an all or any list',
    );
  }
  const [group] = groupKeys;
  if (group) {
    const extra = Object.keys(raw).filter((k) => k !== group);
    if (extra.length) throw new InputProblem(at(extra[0]), 'unknown key next to ' + group);
  }
  if (group === 'all' || group === 'any') {
    const list = raw[group];
    if (!Array.isArray(list) || list.length === 0) {
      throw new InputProblem(at(group), 'expected a non-empty list of conditions');
    }
    const children = list.map((child, i) =>
      parseNode(child, at(`${group}.${i}`), depth + 1, counter),
    );
    return group === 'all' ? { all: children } : { any: children };
  }
  if (group === 'not') return { not: parseNode(raw.not, at('not'), depth + 1, counter) };

  return parseComparison(raw, path);
}

function parseComparison(raw: Record<string, unknown>, path: string): Comparison {
  const at = (suffix: string) => [path, suffix].filter(Boolean).join('.');
  const unknownKey = Object.keys(raw).find((k) => !['field', 'op', 'value'].includes(k));
  if (unknownKey) {
    throw new InputProblem(at(unknownKey), 'unknown key; a comparison has field, op and value');
  }
  const { field, op, value } = raw;
  if (typeof field !== 'string') {
    throw new InputProblem(at('field'), 'expected a string such as "event.properties.price"');
  }
  checkField(field, at('field'));
  if (typeof op !== 'string' || !(OPERATORS as readonly string[]).includes(op)) {
    throw new InputProblem(at('op'), `unknown operator; expected one of ${OPERATORS.join(', ')}`);
  }
  checkValue(op as Operator, value, at('value'));
  return value === undefined ? { field, op: op as Operator } : { field, op: op as Operator, value };
}

function checkField(field: string, path: string): void {
  const ok =
    field === 'event.name' ||
    /^event\.properties\.[^.\s]+(\.[^.\s]+)*$/.test(field) ||
    /^customer\.traits\.[^.\s]+(\.[^.\s]+)*$/.test(field) ||
    CUSTOMER_FIELDS.some((f) => field === `customer.${f}`);
  if (!ok) {
    throw new InputProblem(
      path,
      'unknown field; expected event.name, event.properties.<name>, customer.traits.<name> ' +
        `or customer.${CUSTOMER_FIELDS.join('|')}`,
    );
  }
}

function checkValue(op: Operator, value: unknown, path: string): void {
  switch (op) {
    case 'exists':
      if (value !== undefined && typeof value !== 'boolean') {
        throw new InputProblem(path, 'exists takes no value (or true/false)');
      }
      return;
    case 'eq':
    case 'neq':
      if (!isPrimitive(value) && value !== null) {
        throw new InputProblem(path, `${op} needs a string, number, boolean or null`);
      }
      return;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
      if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value))) {
        throw new InputProblem(path, `${op} needs a number or a string`);
      }
      return;
    case 'in':
    case 'nin':
      if (
        !Array.isArray(value) ||
        value.length === 0 ||
        value.length > 1000 ||
        !value.every(isPrimitive)
      ) {
        throw new InputProblem(
          path,
          `${op} needs a list of 1 to 1000 strings, numbers or booleans`,
        );
      }
      return;
    case 'contains':
      if (!isPrimitive(value))
        throw new InputProblem(path, 'contains needs a string, number or boolean');
      return;
    case 'startsWith':
      if (typeof value !== 'string') throw new InputProblem(path, 'startsWith needs a string');
      return;
    case 'between': {
      const pair = value as unknown[];
      const sameKind =
        Array.isArray(pair) &&
        pair.length === 2 &&
        ((typeof pair[0] === 'number' && typeof pair[1] === 'number') ||
          (typeof pair[0] === 'string' && typeof pair[1] === 'string'));
      if (!sameKind)
        throw new InputProblem(path, 'between needs [low, high], two numbers or two strings');
      if ((pair[0] as number) > (pair[1] as number)) {
        throw new InputProblem(path, 'between needs low <= high');
      }
      return;
    }
  }
}
