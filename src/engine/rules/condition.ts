import { InputProblem } from '../../errors';
import { checkStorableText } from '../../validation';
import { parseDuration } from '../time/duration';
import { compareCodePoints } from './text-order';

/**
 * The condition language shared by triggers (and, later, segments): a typed tree of
 * `all` / `any` / `not` over comparisons and behaviour conditions (`performed`). Stored as
 * JSON, validated on write, compiled once per trigger version. Reference: docs/conditions.md.
 */
export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | BehaviourCondition
  | Comparison;

/**
 * "The customer did `event` between `atLeast` and `atMost` times within `within` before the
 * evaluated event": counts the customer's stored events of that name whose occurredAt lies in
 * `(t − within, t]` (t: the evaluated event's occurredAt) and that match `where`.
 */
export interface BehaviourCondition {
  performed: Behaviour;
}

export interface Behaviour {
  event: string;
  /** ISO 8601 duration without years or months, e.g. `P7D`. */
  within: string;
  /** Defaults to 1, or to 0 when `atMost` is given ("at most twice" includes never). */
  atLeast?: number;
  /** No upper bound when absent. */
  atMost?: number;
  /** Filter on the counted events; names only `event.name` and `event.properties.*`. */
  where?: Condition;
}

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
export const MAX_DEPTH = 12;
export const MAX_NODES = 200;
/** Behaviour conditions per tree: each one is a count over stored events. */
export const MAX_BEHAVIOURS = 5;
export const MAX_BEHAVIOUR_COUNT = 100_000;
const BEHAVIOUR_KEYS = ['event', 'within', 'atLeast', 'atMost', 'where'];
const GROUP_KEYS = ['all', 'any', 'not', 'performed'] as const;

type Primitive = string | number | boolean;

const isPrimitive = (v: unknown): v is Primitive =>
  typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ParseConditionOptions {
  /** Whether `performed` nodes are accepted (default true); false where no counts are loaded. */
  behaviours?: boolean;
}

/**
 * Validates an untrusted JSON tree. Throws `InputProblem` whose path points at the failing
 * node relative to the tree's root (e.g. `all.2.value`); returns the typed tree.
 */
export function parseCondition(raw: unknown, options: ParseConditionOptions = {}): Condition {
  const state: ParseState = {
    nodes: 0,
    behaviours: 0,
    maxBehaviours: options.behaviours === false ? 0 : MAX_BEHAVIOURS,
    inBehaviour: false,
  };
  return parseNode(raw, '', 0, state);
}

interface ParseState {
  nodes: number;
  behaviours: number;
  maxBehaviours: number;
  /** Inside a `performed.where`: only event fields, no nested `performed`. */
  inBehaviour: boolean;
}

function parseNode(raw: unknown, path: string, depth: number, state: ParseState): Condition {
  const at = (suffix: string) => [path, suffix].filter(Boolean).join('.');
  if (++state.nodes > MAX_NODES) {
    throw new InputProblem(path, `a condition may have at most ${MAX_NODES} nodes`);
  }
  if (depth > MAX_DEPTH) throw new InputProblem(path, `nesting deeper than ${MAX_DEPTH} levels`);
  if (!isPlainObject(raw)) {
    throw new InputProblem(
      path,
      'expected an object with one of all, any, not, performed, or field/op/value',
    );
  }

  const groupKeys = GROUP_KEYS.filter((k) => k in raw);
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
      parseNode(child, at(`${group}.${i}`), depth + 1, state),
    );
    return group === 'all' ? { all: children } : { any: children };
  }
  if (group === 'not') return { not: parseNode(raw.not, at('not'), depth + 1, state) };
  if (group === 'performed') {
    return { performed: parseBehaviour(raw.performed, at('performed'), depth, state) };
  }

  return parseComparison(raw, path, state.inBehaviour);
}

function parseBehaviour(raw: unknown, path: string, depth: number, state: ParseState): Behaviour {
  const at = (suffix: string) => `${path}.${suffix}`;
  if (state.inBehaviour) {
    throw new InputProblem(path, 'performed cannot be nested inside another performed');
  }
  if (state.maxBehaviours === 0) throw new InputProblem(path, 'performed is not allowed here');
  if (++state.behaviours > state.maxBehaviours) {
    throw new InputProblem(path, `a condition may have at most ${MAX_BEHAVIOURS} performed nodes`);
  }
  if (!isPlainObject(raw)) {
    throw new InputProblem(path, 'expected an object with event, within, atLeast, atMost, where');
  }
  const unknownKey = Object.keys(raw).find((k) => !BEHAVIOUR_KEYS.includes(k));
  if (unknownKey) {
    throw new InputProblem(
      at(unknownKey),
      `unknown key; performed has ${BEHAVIOUR_KEYS.join(', ')}`,
    );
  }

  const { event, within, atLeast, atMost, where } = raw;
  if (typeof event !== 'string' || event.length < 1 || event.length > 200) {
    throw new InputProblem(at('event'), 'expected an event name of 1 to 200 characters');
  }
  if (event.trim() !== event) {
    throw new InputProblem(at('event'), 'an event name has no leading or trailing spaces');
  }
  checkStorableText(event, at('event'));

  if (typeof within !== 'string') {
    throw new InputProblem(at('within'), 'expected an ISO 8601 duration such as P7D');
  }
  let windowIso: string;
  try {
    const parsed = parseDuration(within);
    if (parsed.ms <= 0) throw new Error('must be longer than zero');
    windowIso = parsed.iso;
  } catch (err) {
    throw new InputProblem(at('within'), (err as Error).message);
  }

  const checkCount = (value: unknown, key: string): number | undefined => {
    if (value === undefined) return undefined;
    if (
      !Number.isInteger(value) ||
      (value as number) < 0 ||
      (value as number) > MAX_BEHAVIOUR_COUNT
    ) {
      throw new InputProblem(at(key), `expected an integer from 0 to ${MAX_BEHAVIOUR_COUNT}`);
    }
    return value as number;
  };
  const least = checkCount(atLeast, 'atLeast');
  const most = checkCount(atMost, 'atMost');
  if (least === 0 && most === undefined) {
    throw new InputProblem(
      at('atLeast'),
      'atLeast 0 without atMost is always true; for "has not done" use atMost 0 or not',
    );
  }
  if (least !== undefined && most !== undefined && least > most) {
    throw new InputProblem(at('atMost'), `must not be less than atLeast (${least})`);
  }

  const behaviour: Behaviour = { event, within: windowIso };
  if (least !== undefined) behaviour.atLeast = least;
  if (most !== undefined) behaviour.atMost = most;
  if (where !== undefined) {
    state.inBehaviour = true;
    try {
      behaviour.where = parseNode(where, at('where'), depth + 1, state);
    } finally {
      state.inBehaviour = false;
    }
  }
  return behaviour;
}

function parseComparison(
  raw: Record<string, unknown>,
  path: string,
  eventOnly: boolean,
): Comparison {
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
  if (eventOnly && !(field === 'event.name' || field.startsWith('event.properties.'))) {
    throw new InputProblem(
      at('field'),
      'inside performed.where only event.name and event.properties.<name> may be named',
    );
  }
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
        ((typeof pair[0] === 'number' &&
          typeof pair[1] === 'number' &&
          Number.isFinite(pair[0]) &&
          Number.isFinite(pair[1])) ||
          (typeof pair[0] === 'string' && typeof pair[1] === 'string'));
      if (!sameKind)
        throw new InputProblem(
          path,
          'between needs [low, high], two finite numbers or two strings',
        );
      const reversed =
        typeof pair[0] === 'string'
          ? compareCodePoints(pair[0], pair[1] as string) > 0
          : (pair[0] as number) > (pair[1] as number);
      if (reversed) {
        throw new InputProblem(path, 'between needs low <= high');
      }
      return;
    }
  }
}

/** The inclusive range of counts a behaviour condition accepts (`most` may be Infinity). */
export function behaviourBounds(behaviour: Behaviour): { least: number; most: number } {
  const most = behaviour.atMost ?? Infinity;
  return { least: behaviour.atLeast ?? (behaviour.atMost === undefined ? 1 : 0), most };
}
