/**
 * What the replay should produce, computed straight from the events and deliberately
 * independent of the engine (nothing here imports from src/). If the service and this module
 * disagree, one of them is wrong, and the per-visitor runs say where to look.
 */

/** The cart-reminder window: "unless purchased within 2 h". */
export const CART_WINDOW_MS = 2 * 60 * 60 * 1000;

/** The smallest event shape the counts need. */
export interface VisitorEvent {
  visitorId: string;
  event: string;
  timestampMs: number;
}

export interface AbsenceRuleOptions {
  entryEvent: string;
  unlessEvent: string;
  windowMs: number;
}

/** One expected run: consecutive entries of a visitor that share one waiting window. */
export interface ExpectedRun {
  visitorId: string;
  firstEntryMs: number;
  lastEntryMs: number;
  /** `lastEntryMs + windowMs`: when the reminder goes out unless cancelled. */
  deadlineMs: number;
  entries: number;
  /** False when an unless-event lies in `[lastEntryMs, deadlineMs]`. */
  isReminded: boolean;
}

export interface ExpectedReminders {
  runs: ExpectedRun[];
  /** Runs that end in a reminder. */
  reminders: number;
  /** Runs that an unless-event cancels. */
  cancelled: number;
}

/** The figures in the dataset's README; defined per add-to-cart event, not per run. */
export interface AbandonmentFigures {
  entryEvents: number;
  /** Entries with no unless-event of the same visitor in `[t, t + windowMs]`. */
  abandonedEntryEvents: number;
  visitorsWithEntry: number;
  /** Visitors with at least one abandoned entry. */
  visitorsWithAbandonedEntry: number;
}

const CART_RULE: AbsenceRuleOptions = {
  entryEvent: 'addtocart',
  unlessEvent: 'transaction',
  windowMs: CART_WINDOW_MS,
};

/**
 * Counts the reminders that "entry, unless U within W" must send, visitor by visitor:
 *
 * - Entries are taken in time order and grouped greedily into runs. An entry `a` joins the
 *   current run iff `a < last + W` (strictly) and no U of that visitor lies in `[last, a)`;
 *   joining moves `last` to `a`. Otherwise `a` starts a new run.
 * - A run is cancelled iff a U of that visitor lies in `[last, last + W]` (both ends
 *   inclusive); otherwise it gets one reminder.
 *
 * Any U cancels, whatever its properties (no `matchOn`). Exact duplicate events cannot change
 * the result: a repeated entry at `last` joins without moving it, and a repeated U falls in
 * the same windows as the original. Pure; the input is not changed.
 */
export function countExpectedReminders(
  events: Iterable<VisitorEvent>,
  rule: AbsenceRuleOptions = CART_RULE,
): ExpectedReminders {
  const runs: ExpectedRun[] = [];
  for (const [visitorId, history] of historiesByVisitor(events, rule)) {
    runs.push(...runsOfVisitor(visitorId, history, rule.windowMs));
  }
  const reminders = runs.filter((run) => run.isReminded).length;
  return { runs, reminders, cancelled: runs.length - reminders };
}

/**
 * The dataset README's abandonment figures: an entry at `t` is abandoned when the visitor has
 * no U with `t <= ts <= t + W`. These count events and visitors, not runs, so they differ
 * from `countExpectedReminders` by definition. Pure.
 */
export function countAbandonment(
  events: Iterable<VisitorEvent>,
  rule: AbsenceRuleOptions = CART_RULE,
): AbandonmentFigures {
  let entryEvents = 0;
  let abandonedEntryEvents = 0;
  let visitorsWithAbandonedEntry = 0;
  const histories = historiesByVisitor(events, rule);
  for (const { entriesMs, unlessMs } of histories.values()) {
    const abandoned = entriesMs.filter(
      (t) => !hasTimeIn(unlessMs, t, t + rule.windowMs, { isEndInclusive: true }),
    ).length;
    entryEvents += entriesMs.length;
    abandonedEntryEvents += abandoned;
    if (abandoned > 0) visitorsWithAbandonedEntry++;
  }
  return {
    entryEvents,
    abandonedEntryEvents,
    visitorsWithEntry: histories.size,
    visitorsWithAbandonedEntry,
  };
}

interface VisitorHistory {
  /** Sorted ascending. */
  entriesMs: number[];
  /** Sorted ascending. */
  unlessMs: number[];
}

/** Only visitors with at least one entry; their unless-times alongside. */
function historiesByVisitor(
  events: Iterable<VisitorEvent>,
  rule: AbsenceRuleOptions,
): Map<string, VisitorHistory> {
  const all = new Map<string, VisitorHistory>();
  for (const e of events) {
    if (e.event !== rule.entryEvent && e.event !== rule.unlessEvent) continue;
    let history = all.get(e.visitorId);
    if (!history) {
      history = { entriesMs: [], unlessMs: [] };
      all.set(e.visitorId, history);
    }
    if (e.event === rule.entryEvent) history.entriesMs.push(e.timestampMs);
    if (e.event === rule.unlessEvent) history.unlessMs.push(e.timestampMs);
  }

  const withEntries = new Map<string, VisitorHistory>();
  for (const [visitorId, history] of all) {
    if (history.entriesMs.length === 0) continue;
    history.entriesMs.sort((a, b) => a - b);
    history.unlessMs.sort((a, b) => a - b);
    withEntries.set(visitorId, history);
  }
  return withEntries;
}

function runsOfVisitor(
  visitorId: string,
  history: VisitorHistory,
  windowMs: number,
): ExpectedRun[] {
  const runs: ExpectedRun[] = [];
  let current: ExpectedRun | null = null;
  for (const entryMs of history.entriesMs) {
    const isJoining =
      current !== null &&
      entryMs < current.lastEntryMs + windowMs &&
      !hasTimeIn(history.unlessMs, current.lastEntryMs, entryMs, { isEndInclusive: false });
    if (current && isJoining) {
      current.lastEntryMs = entryMs;
      current.deadlineMs = entryMs + windowMs;
      current.entries++;
      continue;
    }

    current = {
      visitorId,
      firstEntryMs: entryMs,
      lastEntryMs: entryMs,
      deadlineMs: entryMs + windowMs,
      entries: 1,
      isReminded: true,
    };
    runs.push(current);
  }

  for (const run of runs) {
    run.isReminded = !hasTimeIn(history.unlessMs, run.lastEntryMs, run.deadlineMs, {
      isEndInclusive: true,
    });
  }
  return runs;
}

/** Is there a time in sorted `timesMs` with `fromMs <= t < toMs` (or `<= toMs`)? */
function hasTimeIn(
  timesMs: readonly number[],
  fromMs: number,
  toMs: number,
  options: { isEndInclusive: boolean },
): boolean {
  let low = 0;
  let high = timesMs.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (timesMs[mid] < fromMs) low = mid + 1;
    else high = mid;
  }
  if (low === timesMs.length) return false;
  return options.isEndInclusive ? timesMs[low] <= toMs : timesMs[low] < toMs;
}
