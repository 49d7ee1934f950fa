import { failedMetricsChecks, type MetricsCounts, type MetricsFigures } from './three-step-metrics';

/** What one step of the flow did over the whole replay. */
export interface StepFigures {
  index: number;
  channel: string;
  /** When the step is due, in words (`PT30M after entry`, `PT24H after step 0, if …`). */
  when: string;
  /** Messages that went out: SENT, DELIVERED, OPENED or CLICKED. */
  sent: number;
  /** What the channel's local peer received for this step (the check compares it to `sent`). */
  peerReceived: number;
  /** SKIPPED / STEP_CONDITION decisions: the condition was false, no message recorded. */
  skippedByCondition: number;
  /** SUPPRESSED messages by `suppressionReason`. */
  suppressed: Record<string, number>;
  /** FAILED or DEAD_LETTER messages. */
  failed: number;
  /** Messages still QUEUED or SENDING after the final clock move (the check wants none). */
  pending: number;
  /** DEFERRED / QUIET_HOURS decisions: due in the quiet hours, sent when they ended. */
  deferredByQuietHours: number;
  /** Messages of the step a person opened (`openedAt` set); machine opens never count. */
  opened: number;
}

/** Runs that reached their goal (CONVERTED / GOAL_REACHED decisions). */
export interface ConversionFigures {
  count: number;
  /** Median of `detail.timeToConvertMs` (from the run's start); null without conversions. */
  medianTimeToConvertMs: number | null;
  /** Conversions credited to a message (the run's last one that went out before the goal). */
  credited: number;
  /** Credited conversions by the credited message's step, keyed `<index> <channel>`. */
  creditedByStep: Record<string, number>;
  /** Conversions no message is credited with (bought before anything went out). */
  uncredited: number;
}

/** Everything the three-step replay measured, and whether its self-check passed. */
export interface ThreeStepSummary {
  file: string;
  variant: 'three-step';
  /** The trigger, the quiet hours and the cap, in words. */
  rule: string;
  storage: { postgres: string; redis: string };
  tenantId: string;
  tenantTimezone: string;
  triggerId: string;
  csv: { rows: number; visitors: number; firstEventAt: string; lastEventAt: string };
  events: {
    sent: number;
    accepted: number;
    duplicates: number;
    rejected: number;
    /** The first rejections (at most 20), with the CSV row they came from. */
    rejections: Array<{ rowIndex: number; code: string; message: string }>;
  };
  /** The synthetic contact data given to the visitors with an add-to-cart (three-step-flow.ts). */
  contacts: {
    identified: number;
    withPhone: number;
    smsGranted: number;
    smsRevoked: number;
    smsNoRecord: number;
    withPushSubscription: number;
  };
  /** Emails a person was to open (of those received), and open pixels fetched for them. */
  opens: { chosen: number; pixelsFetched: number };
  /** Enrollments (runs) of the tenant by state, read from PostgreSQL. */
  enrollments: { total: number; byState: Record<string, number> };
  steps: StepFigures[];
  conversions: ConversionFigures;
  /** `triggerMetrics` over the replay (the check wants it equal to the figures above). */
  metrics: MetricsFigures;
  /** What the local peers received for the tenant, and for anyone else (a shared database). */
  peers: {
    smtpMails: number;
    smsMessages: number;
    pushDeliveries: number;
    otherTenants: number;
  };
  httpCalls: { total: number; byOperation: Record<string, number> };
  /** Sum of `timersFired` over every `setClock` call. */
  timersFired: number;
  /** `setClock` calls made to stop at an email's send time or its open, besides the batches. */
  clockStops: number;
  timing: { wallMs: number; startupMs: number; setupMs: number; ingestMs: number; drainMs: number };
  /** True iff none of `failedFlowChecks` fails. */
  isMatch: boolean;
}

const LABEL_WIDTH = 44;
const count = (n: number) => n.toLocaleString('en-US');
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const duration = (ms: number) =>
  ms < 3_600_000 ? `${(ms / 60_000).toFixed(1)} min` : `${(ms / 3_600_000).toFixed(1)} h`;

type Row = [label: string, value: string] | string;

/** The summary as an aligned, human-readable table (ends with a newline). */
export function formatFlowSummary(s: ThreeStepSummary): string {
  const c = s.contacts;
  const rows: Row[] = [
    `Nudge replay of ${s.file}`,
    ['variant', `${s.variant}: ${s.rule}`],
    ['storage', `PostgreSQL: ${s.storage.postgres}; Redis: ${s.storage.redis}`],
    ['CSV rows / distinct visitors', `${count(s.csv.rows)} / ${count(s.csv.visitors)}`],
    ['data time', `${s.csv.firstEventAt} .. ${s.csv.lastEventAt}`],
    ['events sent / accepted', `${count(s.events.sent)} / ${count(s.events.accepted)}`],
    ['duplicates / rejected', `${count(s.events.duplicates)} / ${count(s.events.rejected)}`],
    'Customers (synthetic contact data, deterministic per visitor id)',
    ['identified (visitors with an add-to-cart)', count(c.identified)],
    [
      'with a phone / a push subscription',
      `${count(c.withPhone)} / ${count(c.withPushSubscription)}`,
    ],
    [
      'SMS consent granted / revoked / no record',
      `${count(c.smsGranted)} / ${count(c.smsRevoked)} / ${count(c.smsNoRecord)}`,
    ],
    [
      'emails a person opens / pixels fetched',
      `${count(s.opens.chosen)} / ${count(s.opens.pixelsFetched)}`,
    ],
    'Engine',
    ['enrollments (runs)', `${count(s.enrollments.total)} (${tallyText(s.enrollments.byState)})`],
    ['timers fired', count(s.timersFired)],
    ...s.steps.flatMap(stepRows),
    'Conversions (goal reached)',
    ['conversions', count(s.conversions.count)],
    [
      'median time to convert (from entry)',
      s.conversions.medianTimeToConvertMs === null
        ? 'n/a'
        : duration(s.conversions.medianTimeToConvertMs),
    ],
    [
      'credited to a message',
      `${count(s.conversions.credited)} (${tallyText(s.conversions.creditedByStep, 'step ')})`,
    ],
    ['not credited (bought before any send)', count(s.conversions.uncredited)],
    `Metrics (triggerMetrics ${s.metrics.from} .. ${s.metrics.to}, as the dashboard shows them)`,
    ...metricsRows(s.metrics),
    'Local peers (what actually arrived)',
    ['SMTP sink mails', count(s.peers.smtpMails)],
    ['SMS provider peer, unique messages', count(s.peers.smsMessages)],
    ['push service peer, deliveries', count(s.peers.pushDeliveries)],
    ['received for other tenants', count(s.peers.otherTenants)],
    'Time',
    [
      'wall time',
      `${seconds(s.timing.wallMs)} (start ${seconds(s.timing.startupMs)}, setup ` +
        `${seconds(s.timing.setupMs)}, ingest ${seconds(s.timing.ingestMs)}, ` +
        `final clock ${seconds(s.timing.drainMs)})`,
    ],
    ['HTTP calls', `${count(s.httpCalls.total)} (clock stops ${count(s.clockStops)})`],
    'Result',
    ['check', flowCheckText(s)],
    ...failedFlowChecks(s).map((failure): Row => ['failed', failure]),
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

function metricsRows(m: MetricsFigures): Row[] {
  const t = m.totals;
  return [
    [
      'eligible / entries (activation)',
      `${count(t.eligible)} / ${count(t.entries)} (${rate(t.activationRate)})`,
    ],
    [
      'sent / delivered / opened / clicked',
      `${count(t.sent)} / ${count(t.delivered)} / ${count(t.opened)} / ${count(t.clicked)}`,
    ],
    ['failed / suppressed', `${count(t.failed)} / ${count(t.suppressed)}`],
    ['suppressed, by reason', reasonText(t)],
    [
      'conversions (rate)',
      `${count(t.conversions)} (${rate(t.conversionRate)}), value ${t.attributedValue}`,
    ],
    [
      'time to convert, median / p90',
      `${secondsText(t.timeToConvertMedianSeconds)} / ${secondsText(t.timeToConvertP90Seconds)}`,
    ],
    ...m.steps.map(
      (x): Row => [
        `step ${x.step} ${x.channel}${x.variant ? ` (${x.variant})` : ''}`,
        `sent ${count(x.counts.sent)}, opened ${count(x.counts.opened)}, failed ` +
          `${count(x.counts.failed)}, suppressed ${reasonText(x.counts)}, conversions ` +
          `${count(x.counts.conversions)}`,
      ],
    ),
  ];
}

const rate = (r: number | null) => (r === null ? 'n/a' : `${(r * 100).toFixed(1)} %`);
const secondsText = (s: number | null) => (s === null ? 'n/a' : duration(s * 1000));

function reasonText(c: MetricsCounts): string {
  if (c.suppressedByReason.length === 0) return `${count(c.suppressed)}`;
  const parts = c.suppressedByReason.map((r) => `${r.reason} ${count(r.count)}`);
  return `${count(c.suppressed)} (${parts.join(', ')})`;
}

function stepRows(step: StepFigures): Row[] {
  return [
    `Step ${step.index}: ${step.channel}, ${step.when}`,
    ['sent / received by the peer', `${count(step.sent)} / ${count(step.peerReceived)}`],
    ['skipped by condition', count(step.skippedByCondition)],
    ['suppressed, by reason', tallyText(step.suppressed)],
    ['failed / still pending', `${count(step.failed)} / ${count(step.pending)}`],
    ['deferred by quiet hours', count(step.deferredByQuietHours)],
    ...(step.channel === 'EMAIL' ? [['opened by a person', count(step.opened)] as Row] : []),
  ];
}

/**
 * The replay's self-check, as the checks that fail (none: a match): for every step, the
 * messages that went out equal what the channel's peer received for that step (SMTP sink,
 * SMS provider, push service), and each peer received nothing else for the tenant; no
 * message is left QUEUED or SENDING; every open pixel fetched counted as a person's open; and
 * `triggerMetrics` gives the same figures (`failedMetricsChecks`).
 */
export function failedFlowChecks(s: Omit<ThreeStepSummary, 'isMatch'>): string[] {
  const sentOn = (channel: string) =>
    s.steps.filter((step) => step.channel === channel).reduce((n, step) => n + step.sent, 0);
  const opened = s.steps.reduce((n, step) => n + step.opened, 0);
  const checks: Array<[isOk: boolean, failure: string]> = [
    ...s.steps.map((step): [boolean, string] => [
      step.sent === step.peerReceived,
      `step ${step.index} ${step.channel}: sent ${step.sent} != received by the peer ` +
        `${step.peerReceived}`,
    ]),
    [
      s.peers.smtpMails === sentOn('EMAIL'),
      `SMTP sink mails ${s.peers.smtpMails} != EMAIL sent ${sentOn('EMAIL')}`,
    ],
    [
      s.peers.smsMessages === sentOn('SMS'),
      `SMS peer messages ${s.peers.smsMessages} != SMS sent ${sentOn('SMS')}`,
    ],
    [
      s.peers.pushDeliveries === sentOn('PUSH'),
      `push deliveries ${s.peers.pushDeliveries} != PUSH sent ${sentOn('PUSH')}`,
    ],
    ...s.steps.map((step): [boolean, string] => [
      step.pending === 0,
      `step ${step.index} ${step.channel}: ${step.pending} messages still QUEUED or SENDING`,
    ]),
    [
      opened === s.opens.pixelsFetched,
      `emails opened ${opened} != open pixels fetched by a person ${s.opens.pixelsFetched}`,
    ],
  ];
  return [
    ...checks.filter(([isOk]) => !isOk).map(([, failure]) => failure),
    ...failedMetricsChecks(s),
  ];
}

/** The one-line verdict: `OK ...` or `MISMATCH ...`. */
export function flowCheckText(s: ThreeStepSummary): string {
  const numbers = s.steps
    .map(
      (step) => `step ${step.index} ${step.channel} sent ${step.sent}, peer ${step.peerReceived}`,
    )
    .join('; ');
  return s.isMatch ? `OK: ${numbers}` : `MISMATCH: ${numbers}`;
}

function tallyText(counts: Record<string, number>, prefix = ''): string {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return 'none';
  return entries.map(([key, n]) => `${prefix}${key} ${count(n)}`).join(', ');
}
