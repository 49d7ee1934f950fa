import type { AbandonmentFigures } from './expected-reminders';
import type { ReminderVariantName } from './replay-variants';

/** One visitor whose reminders, or whose runs, differ between the service and the expectation. */
export interface VisitorMismatch {
  visitorId: string;
  expectedReminders: number;
  sentReminders: number;
  expectedRuns: number;
  enrollments: number;
}

/**
 * One run group (a visitor, or a visitor and an item) whose reminders were scheduled for
 * other instants than expected, or whose number of reminders differs. ISO instants, sorted.
 */
export interface RunMismatch {
  key: string;
  /** When the expectation sends this group's reminders. */
  expectedSendAt: string[];
  /** `scheduledFor` of the group's SENT messages. */
  scheduledFor: string[];
}

/** What `simulateTrigger` reported for the same definition over the replayed range. */
export interface SimulationSummary {
  entered: number;
  reset: number;
  cancelled: number;
  fired: number;
  messages: number;
  deferred: number;
  durationMs: number;
}

/** Everything a replay measured, and whether the service matched the expectation. */
export interface ReplaySummary {
  file: string;
  /** Which trigger was replayed (see scripts/lib/replay-variants.ts). */
  variant: ReminderVariantName;
  /** The variant's trigger in words. */
  rule: string;
  storage: { postgres: string; redis: string };
  tenantId: string;
  tenantTimezone: string;
  triggerId: string;
  /** Visitors identified (given an address) before the events. */
  identified: number;
  csv: { rows: number; visitors: number; firstEventAt: string; lastEventAt: string };
  events: {
    sent: number;
    accepted: number;
    duplicates: number;
    rejected: number;
    /** The first rejections (at most 20), with the CSV row they came from. */
    rejections: Array<{ rowIndex: number; code: string; message: string }>;
  };
  batches: { count: number; largest: number; maxEvents: number; maxSpanMs: number };
  httpCalls: {
    total: number;
    byOperation: Record<string, number>;
    /** Time spent waiting for answers, in ms, by operation. */
    msByOperation: Record<string, number>;
  };
  /** Sum of `timersFired` over every `setClock` call. */
  timersFired: number;
  /** Enrollments (runs) of the replay's tenant, by state, read from PostgreSQL. */
  enrollments: { total: number; byState: Record<string, number> };
  messages: {
    byStatus: Record<string, number>;
    sent: number;
    /** Largest `sentAt - scheduledFor` over SENT messages; null when none was sent. */
    maxLatenessMs: number | null;
    /** Messages (any status) scheduled for another instant than their run's deadline. */
    deferred: number;
  };
  /** Mails the SMTP sink received: all of them, and those of the replay's tenant. */
  sink: { received: number; forTenant: number };
  expected: { runs: number; reminders: number; cancelled: number; deferred: number };
  /** The dataset README's figures: defined per event and visitor, not per run. */
  reference: AbandonmentFigures;
  /** Visitors whose sent reminders differ from the expectation (the check fails on these). */
  reminderMismatches: VisitorMismatch[];
  /** Visitors whose enrollment count differs from their expected run count (informational). */
  runMismatches: VisitorMismatch[];
  /**
   * Run groups (visitor for `basic`, visitor and item for `keyed-windowed`) whose SENT
   * messages' `scheduledFor` differ from the expected send instants (the keyed-windowed
   * check fails on these; informational for basic).
   */
  sendMismatches: RunMismatch[];
  /** `simulateTrigger` with the same definition over [first event, final clock]. */
  simulation: SimulationSummary;
  timing: {
    wallMs: number;
    startupMs: number;
    setupMs: number;
    ingestMs: number;
    drainMs: number;
    /** Events sent per second of the ingest phase (setClock + trackBatch calls). */
    eventsPerSecond: number;
    /** Events sent per second spent waiting for `trackBatch` answers alone. */
    trackBatchEventsPerSecond: number;
  };
  /** True iff none of `failedChecks` fails. */
  isMatch: boolean;
}

type Row = [label: string, value: string] | string;

const LABEL_WIDTH = 44;
const count = (n: number) => n.toLocaleString('en-US');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The summary as an aligned, human-readable table (ends with a newline). */
export function formatSummary(s: ReplaySummary): string {
  const states = ['WAITING', 'ACTIVE', 'COMPLETED', 'CANCELLED']
    .map((state) => `${state} ${count(s.enrollments.byState[state] ?? 0)}`)
    .join(', ');
  const statuses = Object.entries(s.messages.byStatus)
    .map(([status, n]) => `${status} ${count(n)}`)
    .join(', ');
  const calls = Object.entries(s.httpCalls.byOperation)
    .map(([operation, n]) => `${operation} ${count(n)}`)
    .join(', ');

  const isWindowed = s.variant === 'keyed-windowed';
  const rows: Row[] = [
    `Nudge replay of ${s.file}`,
    ['variant', `${s.variant}: ${s.rule}`],
    ['storage', `PostgreSQL: ${s.storage.postgres}; Redis: ${s.storage.redis}`],
    ['tenant time zone', s.tenantTimezone],
    ['CSV rows / distinct visitors', `${count(s.csv.rows)} / ${count(s.csv.visitors)}`],
    ['visitors identified before the events', count(s.identified)],
    ['data time', `${s.csv.firstEventAt} .. ${s.csv.lastEventAt}`],
    'Ingestion (GraphQL over HTTP)',
    ['events sent', count(s.events.sent)],
    ['accepted', count(s.events.accepted)],
    ['duplicates (same messageId and payload)', count(s.events.duplicates)],
    ['rejected', count(s.events.rejected)],
    [
      'trackBatch batches',
      `${count(s.batches.count)} (cut at ${s.batches.maxEvents} events` +
        (Number.isFinite(s.batches.maxSpanMs)
          ? `, ${s.batches.maxSpanMs / 60_000} min of data time`
          : '') +
        `, or before an event after a pending deadline` +
        (isWindowed ? ' or deferred send time' : '') +
        `; largest ${s.batches.largest})`,
    ],
    ['HTTP calls', `${count(s.httpCalls.total)} (${calls})`],
    [
      'time in setClock / trackBatch calls',
      `${seconds(s.httpCalls.msByOperation.setClock ?? 0)} / ` +
        `${seconds(s.httpCalls.msByOperation.trackBatch ?? 0)}`,
    ],
    [
      'throughput',
      `${count(Math.round(s.timing.eventsPerSecond))} events/s over the ingest phase; ` +
        `${count(Math.round(s.timing.trackBatchEventsPerSecond))} events/s inside trackBatch`,
    ],
    'Engine',
    ['enrollments (runs)', `${count(s.enrollments.total)} (${states})`],
    ['cancelled by a transaction', count(s.enrollments.byState.CANCELLED ?? 0)],
    ['timers fired', count(s.timersFired)],
    ['messages', statuses || 'none'],
    ['reminders delivered (messages SENT)', count(s.messages.sent)],
    ["deferred (scheduledFor != run's deadline)", count(s.messages.deferred)],
    ['mails received by the SMTP sink', sinkText(s)],
    [
      'max lateness (sentAt - scheduledFor)',
      s.messages.maxLatenessMs === null ? 'n/a' : `${count(s.messages.maxLatenessMs)} ms`,
    ],
    'Expected (computed from the CSV, independently of the engine)',
    ['expected reminders', count(s.expected.reminders)],
    [
      'expected runs / cancelled runs',
      `${count(s.expected.runs)} / ${count(s.expected.cancelled)}`,
    ],
    ['expected deferred reminders', count(s.expected.deferred)],
    ['visitors with differing reminders', mismatchText(s.reminderMismatches)],
    ['visitors with differing run counts', mismatchText(s.runMismatches)],
    [
      isWindowed
        ? 'visitor/items with differing send instants'
        : 'visitors with differing send instants',
      sendMismatchText(s.sendMismatches),
    ],
    'Simulation (simulateTrigger: same definition, first event .. final clock)',
    ['entered / reset', `${count(s.simulation.entered)} / ${count(s.simulation.reset)}`],
    ['cancelled / fired', `${count(s.simulation.cancelled)} / ${count(s.simulation.fired)}`],
    ['messages / deferred', `${count(s.simulation.messages)} / ${count(s.simulation.deferred)}`],
    ['duration', `${count(Math.round(s.simulation.durationMs))} ms`],
    "Context: the dataset README's figures (defined per event/visitor, not per run)",
    ['visitors with >= 1 abandoned add-to-cart', count(s.reference.visitorsWithAbandonedEntry)],
    [
      'add-to-carts without a transaction in 2 h',
      `${count(s.reference.abandonedEntryEvents)} of ${count(s.reference.entryEvents)}`,
    ],
    'Time',
    [
      'wall time',
      `${seconds(s.timing.wallMs)} (start ${seconds(s.timing.startupMs)}, setup ` +
        `${seconds(s.timing.setupMs)}, ingest ${seconds(s.timing.ingestMs)}, ` +
        `final clock ${seconds(s.timing.drainMs)})`,
    ],
    'Result',
    ['check', checkText(s)],
    ...failedChecks(s).map((failure): Row => ['failed', failure]),
  ];

  return (
    rows
      .map((row) =>
        typeof row === 'string' ? `\n${row}` : `  ${row[0].padEnd(LABEL_WIDTH)}${row[1]}`,
      )
      .join('\n')
      .trimStart() + '\n'
  );
}

/**
 * What a replay must show, as the checks that fail (none: a match). Both variants: SENT
 * messages and the sink's mails of the tenant equal the expected reminders, and the
 * simulation of the same definition agrees with the live run (fired = messages SENT,
 * entered = enrollments, cancelled = cancelled enrollments). `keyed-windowed` also: every
 * visitor/item's reminders were scheduled at the expected instants, and the deferred messages
 * equal the expected and the simulated deferrals.
 */
export function failedChecks(s: Omit<ReplaySummary, 'isMatch'>): string[] {
  const cancelled = s.enrollments.byState.CANCELLED ?? 0;
  const checks: Array<[isOk: boolean, failure: string]> = [
    [
      s.messages.sent === s.expected.reminders,
      `messages SENT ${s.messages.sent} != expected reminders ${s.expected.reminders}`,
    ],
    [
      s.sink.forTenant === s.expected.reminders,
      `sink mails ${s.sink.forTenant} != expected reminders ${s.expected.reminders}`,
    ],
    [
      s.simulation.fired === s.messages.sent,
      `simulation fired ${s.simulation.fired} != messages SENT ${s.messages.sent}`,
    ],
    [
      s.simulation.entered === s.enrollments.total,
      `simulation entered ${s.simulation.entered} != enrollments ${s.enrollments.total}`,
    ],
    [
      s.simulation.cancelled === cancelled,
      `simulation cancelled ${s.simulation.cancelled} != cancelled enrollments ${cancelled}`,
    ],
  ];
  if (s.variant === 'keyed-windowed') {
    checks.push(
      [
        s.sendMismatches.length === 0,
        `${s.sendMismatches.length} visitor/items with differing send instants`,
      ],
      [
        s.messages.deferred === s.expected.deferred,
        `deferred messages ${s.messages.deferred} != expected ${s.expected.deferred}`,
      ],
      [
        s.simulation.deferred === s.messages.deferred,
        `simulation deferred ${s.simulation.deferred} != deferred messages ${s.messages.deferred}`,
      ],
    );
  }
  return checks.filter(([isOk]) => !isOk).map(([, failure]) => failure);
}

/** The one-line verdict: `OK ...` or `MISMATCH ...`. */
export function checkText(s: ReplaySummary): string {
  let numbers =
    `expected ${s.expected.reminders}, messages SENT ${s.messages.sent}, ` +
    `sink mails ${s.sink.forTenant}; simulated fired ${s.simulation.fired}, ` +
    `entered ${s.simulation.entered}, cancelled ${s.simulation.cancelled}`;
  if (s.variant === 'keyed-windowed') {
    numbers +=
      `; deferred expected ${s.expected.deferred}, live ${s.messages.deferred}, ` +
      `simulated ${s.simulation.deferred}`;
  }
  return s.isMatch ? `OK: ${numbers}` : `MISMATCH: ${numbers}`;
}

function sinkText(s: ReplaySummary): string {
  const others = s.sink.received - s.sink.forTenant;
  return others === 0
    ? count(s.sink.forTenant)
    : `${count(s.sink.forTenant)} (plus ${count(others)} of other tenants)`;
}

function sendMismatchText(mismatches: RunMismatch[]): string {
  if (mismatches.length === 0) return 'none';
  const [first] = mismatches;
  const more = mismatches.length > 1 ? ` (+${mismatches.length - 1} more)` : '';
  return (
    `${mismatches.length}, e.g. ${first.key}: expected [${first.expectedSendAt.join(', ')}], ` +
    `scheduled [${first.scheduledFor.join(', ')}]${more}`
  );
}

function mismatchText(mismatches: VisitorMismatch[]): string {
  if (mismatches.length === 0) return 'none';
  const shown = mismatches.slice(0, 10).map((m) => m.visitorId);
  const more =
    mismatches.length > shown.length ? `, +${mismatches.length - shown.length} more` : '';
  return `${mismatches.length}: ${shown.join(', ')}${more}`;
}
