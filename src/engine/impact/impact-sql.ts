import { conditionToSql } from '../rules/sql';
import type { BehaviorImpactQuestion } from './impact-input';

/** One row of the impact statement: a group's counts. */
export interface ImpactGroupRow {
  has_pattern: boolean;
  /** Customers whose whole outcome window had passed by `now`. */
  customers: number;
  converted: number;
  /** Customers left out because their window was still open at `now`. */
  incomplete: number;
}

/**
 * The statement that answers a behaviour-impact question for one tenant, in one pass over its
 * events (docs/behavior-impact.md defines the groups):
 *
 * - cohort: customers with any event in `[from, to)`;
 * - anchor of a customer WITH the pattern: the earliest instant t of one of their events in
 *   `[from, to)` named in the pattern at which every part holds, i.e. the customer has
 *   ≥ atLeast matching events of the part in `(t − within, t]` (the rule compiler's
 *   `performed` semantics, so history before `from` counts toward a part);
 * - anchor of a customer WITHOUT it: their first event in `[from, to)`;
 * - converted: an outcome event in `(t, t + window]`, read past `to` when stored;
 * - a customer whose `t + window` lies after `now` is counted as incomplete, in no group.
 *
 * Returns up to two rows (with and without); an absent row means an empty group. Every value
 * is a parameter; the pattern's and outcome's `where` compile through `conditionToSql`.
 */
export function behaviorImpactQuery(
  tenantId: string,
  question: BehaviorImpactQuestion,
  nowMs: number,
): { text: string; params: unknown[] } {
  const params: unknown[] = [
    tenantId,
    new Date(question.fromMs).toISOString(),
    new Date(question.toMs).toISOString(),
    [...new Set(question.pattern.map((part) => part.event))],
    `${question.windowMs} milliseconds`,
    new Date(nowMs).toISOString(),
    question.outcome.event,
  ];
  const completes = conditionToSql(
    { all: question.pattern.map((performed) => ({ performed })) },
    { behaviours: { at: 'e.occurred_at', tenantId: '$1::uuid', customerId: 'e.customer_id' } },
    params,
  );
  const outcomeWhere = conditionToSql(
    question.outcome.where,
    { eventName: 'o.name', eventProperties: 'o.properties' },
    params,
  );
  // One pass over the tenant's events in range, grouped per customer: no join whose plan
  // depends on table statistics. CASE (not AND) keeps the pattern's counts from running for
  // events that cannot complete it.
  const text = `
    WITH assigned AS (
      SELECT e.customer_id, min(e.occurred_at) AS first_at,
        min(e.occurred_at) FILTER (
          WHERE CASE WHEN e.name = ANY($4::text[]) THEN ${completes} ELSE false END
        ) AS pattern_at
      FROM events e
      WHERE e.tenant_id = $1::uuid AND e.occurred_at >= $2::timestamptz
        AND e.occurred_at < $3::timestamptz
      GROUP BY e.customer_id
    ),
    anchored AS (
      SELECT s.customer_id, s.pattern_at IS NOT NULL AS has_pattern,
        COALESCE(s.pattern_at, s.first_at) AS anchor_at
      FROM assigned s
    ),
    judged AS (
      SELECT s.has_pattern, s.anchor_at + $5::interval <= $6::timestamptz AS is_complete,
        EXISTS (
          SELECT 1 FROM events o
          WHERE o.tenant_id = $1::uuid AND o.customer_id = s.customer_id AND o.name = $7::text
            AND o.occurred_at > s.anchor_at AND o.occurred_at <= s.anchor_at + $5::interval
            AND ${outcomeWhere}
        ) AS converted
      FROM anchored s
    )
    SELECT has_pattern,
      count(*) FILTER (WHERE is_complete)::int AS customers,
      count(*) FILTER (WHERE is_complete AND converted)::int AS converted,
      count(*) FILTER (WHERE NOT is_complete)::int AS incomplete
    FROM judged GROUP BY has_pattern`;
  return { text, params };
}
