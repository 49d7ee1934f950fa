import { canonicalJson, ownProperty } from '../../json';
import type { DecisionOutcome, DecisionReason } from '../decisions/decision-log';
import type { CustomerRow } from '../ingestion/customer.service';
import { countBehaviours } from '../rules/behaviour-counts';
import { RunHistory, reentryBlock } from '../sequences/reentry';
import { failureDetail, subjectOf, violates } from '../sequences/enrollment.engine';
import { stepTime } from '../sequences/step-schedule';
import { usableZone } from '../sequences/step-scheduler';
import type { CompiledTrigger } from '../triggers/trigger-catalog';
import { MinHeap } from './min-heap';

/** A stored event as the backtest reads it, oldest first. */
export interface HistoryEvent {
  id: string;
  customerId: string;
  name: string;
  properties: Record<string, unknown>;
  occurredAtMs: number;
}

export interface SimulationInput {
  trigger: CompiledTrigger;
  /** Every event the definition reads, from `fromMs − lookback` to `toMs`, oldest first. */
  events: HistoryEvent[];
  customers: Map<string, CustomerRow>;
  tenantZone: string;
  tenantHasWebhook: boolean;
  fromMs: number;
  toMs: number;
  sampleSize: number;
}

export interface SimulationSample {
  customerExternalId: string | null;
  at: number;
  outcome: DecisionOutcome | 'SUPPRESSED';
  reason: DecisionReason | 'INVALID_ADDRESS';
  detail: Record<string, unknown>;
}

export interface SimulationResult {
  entered: number;
  reset: number;
  notMatched: number;
  blocked: number;
  cancelled: number;
  fired: number;
  /** Runs still waiting for their deadline at the end of the range. */
  pending: number;
  messages: number;
  deferred: number;
  suppressed: number;
  customers: number;
  eventsScanned: number;
  byReason: Record<string, number>;
  samples: SimulationSample[];
}

/** A customer's runs: the open ones, and what re-entry rules need of all the others. */
interface CustomerRuns {
  open: SimRun[];
  entered: number;
  lastEntryMs: number | null;
  lastActivationMs: number | null;
}

interface SimRun {
  customerId: string;
  key: string;
  firstEntryMs: number;
  lastEntryMs: number;
  deadlineMs: number | null;
  matchValues: unknown[];
  state: 'WAITING' | 'ACTIVE' | 'CANCELLED';
  activatedAtMs: number | null;
  /** ACTIVE runs count as open until their last step is due. */
  endsAtMs: number;
}

/**
 * Runs a trigger definition over stored history on a virtual clock, deciding exactly as the
 * live engine does (the same condition evaluator, behaviour counts, absence rule, re-entry
 * rules, step times and send windows) without writing or sending anything. Events are taken
 * as arriving on time, in `occurredAt` order; at one instant events come before deadlines.
 *
 * Differences from live, by nature: customer data is today's (a backtest cannot know past
 * traits), so entries that would wait for attributes count as not matched; deliveries are not
 * attempted, so a message counts as sent when its address exists.
 */
export function simulate(input: SimulationInput): SimulationResult {
  const { trigger, fromMs, toMs } = input;
  const definition = trigger.definition;
  const result: SimulationResult = {
    entered: 0,
    reset: 0,
    notMatched: 0,
    blocked: 0,
    cancelled: 0,
    fired: 0,
    pending: 0,
    messages: 0,
    deferred: 0,
    suppressed: 0,
    customers: 0,
    eventsScanned: input.events.length,
    byReason: {},
    samples: [],
  };
  const samples = new SampleCollector(input.sampleSize);
  const runsByCustomer = new Map<string, CustomerRuns>();
  const runsOf = (customerId: string): CustomerRuns => {
    let record = runsByCustomer.get(customerId);
    if (!record) {
      record = { open: [], entered: 0, lastEntryMs: null, lastActivationMs: null };
      runsByCustomer.set(customerId, record);
    }
    return record;
  };
  const historyByCustomer = new Map<string, HistoryEvent[]>();
  const deadlines = new MinHeap<SimRun>();
  const enteredCustomers = new Set<string>();

  const customerOf = (id: string): CustomerRow => input.customers.get(id)!;
  const decide = (
    customerId: string,
    at: number,
    outcome: SimulationSample['outcome'],
    reason: SimulationSample['reason'],
    detail: Record<string, unknown> = {},
  ) => {
    result.byReason[reason] = (result.byReason[reason] ?? 0) + 1;
    samples.offer({
      customerExternalId: customerOf(customerId).external_id,
      at,
      outcome,
      reason,
      detail,
    });
  };

  /** The customer's run history at `atMs` (entries come in time order, so ended runs go). */
  const history = (customerId: string, atMs: number): RunHistory => {
    const record = runsOf(customerId);
    record.open = record.open.filter(
      (r) => r.state === 'WAITING' || (r.state === 'ACTIVE' && r.endsAtMs >= atMs),
    );
    return {
      entered: record.entered,
      open: record.open.length,
      lastEntryMs: record.lastEntryMs,
      lastActivationMs: record.lastActivationMs,
    };
  };

  const activate = (run: SimRun, startMs: number, nowMs: number) => {
    run.state = 'ACTIVE';
    run.activatedAtMs = nowMs;
    runsOf(run.customerId).lastActivationMs = nowMs;
    result.fired++;
    const customer = customerOf(run.customerId);
    const zone = usableZone(customer.timezone, usableZone(input.tenantZone, 'UTC'));
    let baseMs = startMs;
    // TODO(#5): model consent, frequency caps, quiet hours, step conditions and goals here;
    // today the backtest counts every step whose address exists as a message.
    definition.steps.forEach((step, index) => {
      const time = stepTime(step.after === 'ENTRY' ? startMs : baseMs, step, definition, zone);
      baseMs = time.dueMs;
      run.endsAtMs = time.dueMs;
      if (time.dueMs > toMs) return;
      if (time.deferredFromMs !== null) {
        result.deferred++;
        decide(run.customerId, nowMs, 'DEFERRED', 'SEND_WINDOW', {
          step: index,
          dueAt: new Date(time.deferredFromMs).toISOString(),
          deferredTo: new Date(time.dueMs).toISOString(),
        });
      }
      const hasAddress =
        step.channel === 'EMAIL'
          ? customer.email !== null
          : step.channel === 'SMS'
            ? customer.phone !== null
            : step.channel === 'WEBHOOK'
              ? input.tenantHasWebhook
              : true;
      if (hasAddress) result.messages++;
      else {
        result.suppressed++;
        decide(run.customerId, time.dueMs, 'SUPPRESSED', 'INVALID_ADDRESS', { step: index });
      }
    });
  };

  /** Processes every deadline due strictly before `beforeMs` (events at an instant go first). */
  const processDeadlines = (beforeMs: number) => {
    for (;;) {
      const next = deadlines.peek();
      if (!next || next.priority >= beforeMs) return;
      deadlines.pop();
      const run = next.value;
      const dueMs = next.priority;
      if (run.state !== 'WAITING' || run.deadlineMs! + definition.unless!.graceMs !== dueMs) {
        continue; // cancelled, or moved by a later entry (its new deadline is queued too)
      }
      // As live, the window is checked again from the stored events at the deadline: an
      // unless-event stored before its entry at the same instant counts too.
      const violation = eventsBetween(
        historyByCustomer.get(run.customerId) ?? [],
        run.lastEntryMs,
        run.deadlineMs!,
      ).find((e) =>
        violates(
          trigger,
          { match_values: run.matchValues },
          { ...e, customer: customerOf(run.customerId) },
        ),
      );
      if (violation) {
        run.state = 'CANCELLED';
        result.cancelled++;
        decide(run.customerId, dueMs, 'CANCELLED', 'ABSENCE_VIOLATED', { event: violation.name });
        continue;
      }
      const cooldownMs = definition.cooldownMs;
      if (cooldownMs !== null) {
        // This run has not fired, so the customer's last firing is another run's.
        const lastFiredMs = runsOf(run.customerId).lastActivationMs;
        if (lastFiredMs !== null && lastFiredMs > dueMs - cooldownMs) {
          run.state = 'CANCELLED';
          result.cancelled++;
          decide(run.customerId, dueMs, 'CANCELLED', 'COOLDOWN');
          continue;
        }
      }
      decide(run.customerId, dueMs, 'FIRED', 'DEADLINE_PASSED');
      activate(run, dueMs, dueMs);
    }
  };

  const onUnlessEvent = (event: HistoryEvent) => {
    for (const run of runsOf(event.customerId).open) {
      if (run.state !== 'WAITING') continue;
      if (event.occurredAtMs < run.lastEntryMs || event.occurredAtMs > run.deadlineMs!) continue;
      const candidate = { ...event, customer: customerOf(event.customerId) };
      if (!violates(trigger, { match_values: run.matchValues }, candidate)) continue;
      run.state = 'CANCELLED';
      result.cancelled++;
      decide(event.customerId, event.occurredAtMs, 'CANCELLED', 'ABSENCE_VIOLATED', {
        event: event.name,
      });
    }
  };

  const onEntryEvent = (event: HistoryEvent) => {
    const customer = customerOf(event.customerId);
    const past = historyByCustomer.get(event.customerId) ?? [];
    const counts = trigger.where.behaviours.length
      ? countBehaviours(past, event.occurredAtMs, trigger.where.behaviours)
      : undefined;
    const verdict = trigger.where(subjectOf(event, customer, counts));
    const t = event.occurredAtMs;
    if (!verdict.matched) {
      result.notMatched++;
      decide(event.customerId, t, 'NOT_MATCHED', 'CONDITION_FALSE', failureDetail(verdict));
      return;
    }
    const key = definition.entryKey.length
      ? canonicalJson(definition.entryKey.map((p) => ownProperty(event.properties, p) ?? null))
      : '';
    const record = runsOf(event.customerId);
    const unless = definition.unless;
    if (unless) {
      // As live: the same-key waiting run with the latest deadline still ahead of the entry.
      const open = record.open
        .filter((r) => r.state === 'WAITING' && r.key === key && r.deadlineMs! > t)
        .reduce<SimRun | null>((a, r) => (a && a.deadlineMs! >= r.deadlineMs! ? a : r), null);
      if (open) {
        result.reset++;
        decide(event.customerId, t, 'RESET', 'SAME_KEY_REENTRY');
        if (t > open.lastEntryMs) {
          open.lastEntryMs = t;
          open.deadlineMs = t + unless.withinMs;
          open.matchValues = unless.matchOn.map((p) => ownProperty(event.properties, p) ?? null);
          deadlines.push(open.deadlineMs + unless.graceMs, open);
        }
        return;
      }
    }
    const runHistory = history(event.customerId, t);
    if (!unless && definition.entryKey.length && record.open.some((r) => r.key === key)) {
      // As live: without `unless`, one running sequence per key.
      result.blocked++;
      decide(event.customerId, t, 'BLOCKED', 'SAME_KEY_OPEN');
      return;
    }
    const block = reentryBlock(definition, runHistory, t);
    if (block) {
      result.blocked++;
      decide(event.customerId, t, 'BLOCKED', block.reason, block.detail);
      return;
    }
    const run: SimRun = {
      customerId: event.customerId,
      key,
      firstEntryMs: t,
      lastEntryMs: t,
      deadlineMs: unless ? t + unless.withinMs : null,
      matchValues: unless
        ? unless.matchOn.map((p) => ownProperty(event.properties, p) ?? null)
        : [],
      state: 'WAITING',
      activatedAtMs: null,
      endsAtMs: t,
    };
    record.open.push(run);
    record.entered++;
    record.lastEntryMs = t;
    result.entered++;
    enteredCustomers.add(event.customerId);
    decide(event.customerId, t, 'ENTERED', 'CONDITION_MET');
    if (unless) deadlines.push(run.deadlineMs! + unless.graceMs, run);
    else activate(run, t, t);
  };

  for (const event of input.events) {
    const past = historyByCustomer.get(event.customerId);
    if (past) past.push(event);
    else historyByCustomer.set(event.customerId, [event]);
    if (event.occurredAtMs < fromMs) continue; // read only for behaviour counts
    processDeadlines(event.occurredAtMs);
    if (definition.unless && event.name === definition.unless.event) onUnlessEvent(event);
    if (event.name === definition.event) onEntryEvent(event);
  }
  processDeadlines(toMs + 1);

  for (const record of runsByCustomer.values()) {
    result.pending += record.open.filter((r) => r.state === 'WAITING').length;
  }
  result.customers = enteredCustomers.size;
  result.samples = samples.take();
  return result;
}

/**
 * Keeps a sample that shows every kind of outcome: the first few of each reason, then taken
 * round-robin across reasons in the order they first occurred.
 */
class SampleCollector {
  private readonly byReason = new Map<string, SimulationSample[]>();

  constructor(private readonly size: number) {}

  offer(sample: SimulationSample): void {
    const list = this.byReason.get(sample.reason) ?? [];
    if (list.length < this.size) list.push(sample);
    this.byReason.set(sample.reason, list);
  }

  take(): SimulationSample[] {
    const taken: SimulationSample[] = [];
    const lists = [...this.byReason.values()];
    for (let i = 0; taken.length < this.size; i++) {
      const round = lists.filter((l) => i < l.length).map((l) => l[i]);
      if (round.length === 0) break;
      taken.push(...round.slice(0, this.size - taken.length));
    }
    return taken.sort((a, b) => a.at - b.at);
  }
}

/** The events of a time-sorted history with `fromMs <= occurredAt <= toMs`. */
function eventsBetween(history: HistoryEvent[], fromMs: number, toMs: number): HistoryEvent[] {
  let low = 0;
  let high = history.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (history[mid].occurredAtMs < fromMs) low = mid + 1;
    else high = mid;
  }
  const found: HistoryEvent[] = [];
  for (let i = low; i < history.length && history[i].occurredAtMs <= toMs; i++) {
    found.push(history[i]);
  }
  return found;
}
