import { Tx, rows } from '../../platform/database';
import { parseDuration } from '../time/duration';
import type { BehaviourCondition } from './condition';
import { CompiledCondition, EvaluationSubject, compileCondition } from './evaluate';
import { conditionToSql } from './sql';

/** A stored event as a backtest holds it in memory. */
export interface HistoryEvent {
  name: string;
  properties: Record<string, unknown>;
  occurredAtMs: number;
}

/**
 * Counts, for each behaviour node, the customer's stored events that satisfy it at time
 * `atMs`: named `performed.event`, occurredAt in `(atMs − within, atMs]`, matching `where`.
 * One query over the index events_customer_name_time (tenant, customer, name, time), bounded
 * by the widest window. Runs in the caller's tenant transaction.
 */
export async function loadBehaviourCounts(
  tx: Tx,
  tenantId: string,
  customerId: string,
  atMs: number,
  behaviours: readonly BehaviourCondition[],
): Promise<number[]> {
  if (behaviours.length === 0) return [];
  const { text, params } = behaviourCountsQuery(tenantId, customerId, atMs, behaviours);
  const [row] = await rows<Record<string, number>>(tx, text, params);
  return behaviours.map((_, i) => Number(row[`c${i}`]));
}

/** The statement of `loadBehaviourCounts`: one row with an int column `c<i>` per node. */
export function behaviourCountsQuery(
  tenantId: string,
  customerId: string,
  atMs: number,
  behaviours: readonly BehaviourCondition[],
): { text: string; params: unknown[] } {
  const params: unknown[] = [tenantId, customerId, new Date(atMs).toISOString()];
  const ref = (value: unknown, cast: string) => `$${params.push(value)}::${cast}`;
  const windows = behaviours.map(windowMsOf);

  const counters = behaviours.map(({ performed }, i) => {
    const from = ref(new Date(atMs - windows[i]).toISOString(), 'timestamptz');
    const name = ref(performed.event, 'text');
    const where = conditionToSql(
      performed.where ?? null,
      { eventName: 'e.name', eventProperties: 'e.properties' },
      params,
    );
    return (
      `count(*) FILTER (WHERE e.name = ${name} AND e.occurred_at > ${from} AND ${where})` +
      `::int AS c${i}`
    );
  });
  const names = ref([...new Set(behaviours.map((b) => b.performed.event))], 'text[]');
  const earliest = ref(new Date(atMs - Math.max(...windows)).toISOString(), 'timestamptz');
  const text =
    `SELECT ${counters.join(', ')} FROM events e` +
    ` WHERE e.tenant_id = $1::uuid AND e.customer_id = $2::uuid AND e.name = ANY(${names})` +
    ` AND e.occurred_at > ${earliest} AND e.occurred_at <= $3::timestamptz`;
  return { text, params };
}

/**
 * The in-memory equivalent of `loadBehaviourCounts`, for a customer's `history` sorted by
 * `occurredAtMs` (ascending). `where` is evaluated by the same evaluator as triggers.
 */
export function countBehaviours(
  history: ReadonlyArray<HistoryEvent>,
  atMs: number,
  behaviours: readonly BehaviourCondition[],
): number[] {
  if (behaviours.length === 0) return [];
  const programs = behaviours.map(programOf);
  const widest = Math.max(...programs.map((p) => p.windowMs));
  const counts = behaviours.map(() => 0);
  const end = firstAfter(history, atMs);
  for (let i = firstAfter(history, atMs - widest); i < end; i++) {
    const event = history[i];
    let subject: EvaluationSubject | undefined;
    programs.forEach((p, j) => {
      if (event.name !== p.event || event.occurredAtMs <= atMs - p.windowMs) return;
      if (p.where) {
        subject ??= {
          event: { name: event.name, properties: event.properties },
          customer: NO_CUSTOMER,
        };
        if (!p.where(subject).matched) return;
      }
      counts[j]++;
    });
  }
  return counts;
}

interface BehaviourProgram {
  event: string;
  windowMs: number;
  where: CompiledCondition | null;
}

/** `where` names event fields only (validated), so the customer it is given is never read. */
const NO_CUSTOMER: EvaluationSubject['customer'] = {
  externalId: null,
  email: null,
  phone: null,
  timezone: null,
  locale: null,
  traits: {},
};

const programs = new WeakMap<BehaviourCondition, BehaviourProgram>();

function programOf(behaviour: BehaviourCondition): BehaviourProgram {
  let program = programs.get(behaviour);
  if (!program) {
    const { event, where } = behaviour.performed;
    program = {
      event,
      windowMs: windowMsOf(behaviour),
      where: where ? compileCondition(where) : null,
    };
    programs.set(behaviour, program);
  }
  return program;
}

function windowMsOf(behaviour: BehaviourCondition): number {
  return parseDuration(behaviour.performed.within).ms;
}

/** Index of the first event strictly after `ms` (binary search over the sorted history). */
function firstAfter(history: ReadonlyArray<HistoryEvent>, ms: number): number {
  let low = 0;
  let high = history.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (history[mid].occurredAtMs <= ms) low = mid + 1;
    else high = mid;
  }
  return low;
}
