import { parseDuration } from '../time/duration';
import { behaviourBounds, type Behaviour, type Comparison, type Condition } from './condition';

/**
 * Where the rows a condition reads live in the surrounding statement. Each entry is an SQL
 * expression of the caller's (never user input); only what the tree names is needed.
 */
export interface SqlSources {
  /** The event's name, text (e.g. `e.name`). */
  eventName?: string;
  /** The event's properties, jsonb (e.g. `e.properties`). */
  eventProperties?: string;
  /**
   * Alias of a customers row with columns external_id, email, phone, timezone, locale (text)
   * and traits (jsonb), e.g. `c`.
   */
  customer?: string;
  /** For `performed`: counted over `events` of this tenant and customer, up to time `at`. */
  behaviours?: {
    /** The evaluation time t, timestamptz (e.g. `$1::timestamptz` or `e.occurred_at`). */
    at: string;
    /** uuid expressions, e.g. `c.tenant_id` and `c.id`. */
    tenantId: string;
    customerId: string;
  };
}

/**
 * Compiles a validated condition into an SQL boolean expression with the semantics of
 * `compileCondition(...)(subject).matched`: never NULL, never an error whatever the stored
 * JSON holds, no coercion (types are checked with `jsonb_typeof`), strings ordered by code
 * point (`COLLATE "C"`, which is code point order on a UTF-8 database). Values are appended to
 * `params` and referenced as `$n`; nothing from the tree is written into the SQL text.
 *
 * A null condition is `TRUE`.
 */
export function conditionToSql(
  condition: Condition | null,
  sources: SqlSources,
  params: unknown[],
): string {
  if (!condition) return 'TRUE';
  return new SqlWriter(sources, params, { next: 1 }).node(condition);
}

/** Numbers the aliases of `performed` subqueries across one statement. */
interface AliasCounter {
  next: number;
}

class SqlWriter {
  private readonly refs = new Map<string, string>();

  constructor(
    private readonly sources: SqlSources,
    private readonly params: unknown[],
    private readonly aliases: AliasCounter,
  ) {}

  node(node: Condition): string {
    if ('all' in node) return `(${node.all.map((c) => this.node(c)).join(' AND ')})`;
    if ('any' in node) return `(${node.any.map((c) => this.node(c)).join(' OR ')})`;
    if ('not' in node) return `(NOT ${this.node(node.not)})`;
    if ('performed' in node) return this.behaviour(node.performed);
    return this.comparison(node);
  }

  /** `$n::cast` for a value, reusing the parameter when the same value and cast recur. */
  private param(value: string | number, cast: string): string {
    const key = `${cast}\u0000${typeof value}\u0000${value}`;
    let ref = this.refs.get(key);
    if (!ref) {
      this.params.push(value);
      ref = `$${this.params.length}::${cast}`;
      this.refs.set(key, ref);
    }
    return ref;
  }

  private json(value: unknown): string {
    return this.param(JSON.stringify(value), 'jsonb');
  }

  private text(value: string): string {
    return this.param(value, 'text');
  }

  private source(name: 'eventName' | 'eventProperties' | 'customer'): string {
    const expression = this.sources[name];
    if (!expression)
      throw new Error(`conditionToSql: the condition reads ${name}; name its source`);
    return expression;
  }

  /** The field as jsonb; SQL NULL when it is missing (a null customer column included). */
  private field(field: string): string {
    const path = (root: string, dotted: string) =>
      // `->` with a text key reads object members only: arrays and scalars give NULL.
      dotted
        .split('.')
        .reduce((expression, key) => `${expression} -> ${this.text(key)}`, `(${root})`);
    if (field === 'event.name') return `to_jsonb((${this.source('eventName')})::text)`;
    if (field.startsWith('event.properties.')) {
      return `(${path(this.source('eventProperties'), field.slice('event.properties.'.length))})`;
    }
    const customer = this.source('customer');
    if (field.startsWith('customer.traits.')) {
      return `(${path(`${customer}.traits`, field.slice('customer.traits.'.length))})`;
    }
    const column = {
      'customer.externalId': 'external_id',
      'customer.email': 'email',
      'customer.phone': 'phone',
      'customer.timezone': 'timezone',
      'customer.locale': 'locale',
    }[field];
    if (!column) throw new Error(`conditionToSql: unknown field ${field}`);
    return `to_jsonb(${customer}.${column}::text)`;
  }

  private comparison(c: Comparison): string {
    const x = this.field(c.field);
    const type = `jsonb_typeof(${x})`;
    const asText = `((${x} #>> '{}') COLLATE "C")`;
    const value = c.value;
    // Every branch below is NULL-free (COALESCE) and cannot raise: no casts of stored values.
    const never = (expression: string) => `COALESCE(${expression}, false)`;
    switch (c.op) {
      case 'exists':
        return value === false ? `COALESCE(${type} = 'null', true)` : never(`${type} <> 'null'`);
      case 'eq':
        return value === null ? never(`${type} = 'null'`) : never(`${x} = ${this.json(value)}`);
      case 'neq':
        return value === null
          ? never(`${type} <> 'null'`)
          : never(`${type} = '${typeof value}' AND ${x} <> ${this.json(value)}`);
      case 'gt':
      case 'gte':
      case 'lt':
      case 'lte': {
        const operator = { gt: '>', gte: '>=', lt: '<', lte: '<=' }[c.op];
        return typeof value === 'number'
          ? never(`${type} = 'number' AND ${x} ${operator} ${this.json(value)}`)
          : never(`${type} = 'string' AND ${asText} ${operator} ${this.text(value as string)}`);
      }
      case 'between': {
        const [low, high] = value as [number, number] | [string, string];
        return typeof low === 'number'
          ? never(`${type} = 'number' AND ${x} >= ${this.json(low)} AND ${x} <= ${this.json(high)}`)
          : never(
              `${type} = 'string' AND ${asText} >= ${this.text(low)} ` +
                `AND ${asText} <= ${this.text(high as string)}`,
            );
      }
      case 'in':
        return never(
          `${type} IN ('string', 'number', 'boolean') ` +
            `AND ${this.json(value)} @> jsonb_build_array(${x})`,
        );
      case 'nin':
        return never(
          `CASE WHEN ${type} IN ('string', 'number', 'boolean') ` +
            `THEN NOT (${this.json(value)} @> jsonb_build_array(${x})) ` +
            `ELSE ${type} IN ('array', 'object') END`,
        );
      case 'contains': {
        // An array contains a scalar when `[value]` is contained: nested arrays do not count.
        const member = `${x} @> ${this.json([value])}`;
        return typeof value === 'string'
          ? never(
              `CASE ${type} WHEN 'string' THEN strpos(${asText}, ${this.text(value)}) > 0 ` +
                `WHEN 'array' THEN ${member} ELSE false END`,
            )
          : never(`${type} = 'array' AND ${member}`);
      }
      case 'startsWith':
        return never(
          `${type} = 'string' AND starts_with(${asText}, ${this.text(value as string)})`,
        );
    }
  }

  private behaviour(b: Behaviour): string {
    const scope = this.sources.behaviours;
    if (!scope) throw new Error('conditionToSql: the condition has performed; name behaviours');
    const e = `nudge_b${this.aliases.next++}`;
    const where = b.where
      ? new SqlWriter(
          { eventName: `${e}.name`, eventProperties: `${e}.properties` },
          this.params,
          this.aliases,
        ).node(b.where)
      : 'TRUE';
    const at = `(${scope.at})`;
    const window = this.param(`${parseDuration(b.within).ms} milliseconds`, 'interval');
    const count =
      `(SELECT count(*) FROM events ${e}` +
      ` WHERE ${e}.tenant_id = (${scope.tenantId}) AND ${e}.customer_id = (${scope.customerId})` +
      ` AND ${e}.name = ${this.text(b.event)}` +
      ` AND ${e}.occurred_at > ${at} - ${window} AND ${e}.occurred_at <= ${at} AND ${where})`;
    const { least, most } = behaviourBounds(b);
    return most === Infinity
      ? `(${count} >= ${this.param(least, 'int')})`
      : `(${count} BETWEEN ${this.param(least, 'int')} AND ${this.param(most, 'int')})`;
  }
}
