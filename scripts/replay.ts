import 'reflect-metadata';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { startNudge, type Nudge } from '../src/app';
import { loadConfig } from '../src/config';
import { countAbandonment } from './lib/expected-reminders';
import { GraphQLClient } from './lib/graphql-client';
import {
  createCartReminderTrigger,
  createTenant,
  identifyVisitors,
  setClock,
  simulateTrigger,
  trackBatch,
} from './lib/nudge-operations';
import { DEFAULT_BATCH_LIMITS, cutBatches, type BatchLimits } from './lib/replay-batches';
import { replayEnvironment, stderrLogger } from './lib/replay-environment';
import { readOutcome } from './lib/replay-outcome';
import { checkText, failedChecks, formatSummary, type ReplaySummary } from './lib/replay-summary';
import {
  VARIANTS,
  replayVariantName,
  type ReminderVariantName,
  type ReplayVariantName,
} from './lib/replay-variants';
import {
  readRetailRocketEvents,
  sortForReplay,
  toTrackInput,
  type RetailRocketEvent,
} from './lib/retailrocket-events';
import { SmtpSink } from './lib/smtp-sink';
import { runThreeStepReplay } from './lib/three-step-replay';
import { flowCheckText, formatFlowSummary } from './lib/three-step-summary';

export type { ReplaySummary } from './lib/replay-summary';
export type { ReminderVariantName, ReplayVariantName } from './lib/replay-variants';
export { runThreeStepReplay, type ThreeStepReplayOptions } from './lib/three-step-replay';
export type { ThreeStepSummary } from './lib/three-step-summary';

/** The sample shipped with the repository (see examples/data/README.md). */
export const DEFAULT_REPLAY_FILE = path.resolve(
  __dirname,
  '..',
  'examples',
  'data',
  'retailrocket_events_sample.csv',
);

const IDENTIFIES_PER_REQUEST = 10;
const MAX_REJECTIONS_KEPT = 20;

/** What to replay, and against which environment. */
export interface ReplayOptions {
  /** A RetailRocket events CSV. */
  file: string;
  /**
   * Which trigger to replay (default `basic`, the cart reminder of the README); see
   * scripts/lib/replay-variants.ts. The three-step flow runs with `runThreeStepReplay`.
   */
  variant?: ReminderVariantName;
  /**
   * The environment Nudge is configured from (default `process.env`). With DATABASE_URL and
   * REDIS_URL it uses those servers; without them, trial mode in a fresh temporary folder.
   */
  env?: NodeJS.ProcessEnv;
  batchLimits?: BatchLimits;
  /** Receives a line now and then while the replay runs (the CLI prints them to stderr). */
  onProgress?: (line: string) => void;
}

/**
 * Replays a RetailRocket events file through a Nudge started in-process on the manual clock,
 * talking to it only through GraphQL over HTTP, and compares the reminders it sends (how
 * many, and for the windowed variant when) with the expectation computed independently from
 * the file. Then backtests the same definition with `simulateTrigger` over the same range and
 * compares its figures with the live run. Starts its own SMTP sink; stops the sink and Nudge
 * (and removes the temporary data folder it created) on success and on error.
 * Throws on a bad file, a bad environment or any GraphQL error; a mismatch is not an error,
 * it is `isMatch: false` in the summary.
 */
export async function runReplay(options: ReplayOptions): Promise<ReplaySummary> {
  const startedMs = performance.now();
  const progress = options.onProgress ?? (() => undefined);
  const variant = VARIANTS[options.variant ?? 'basic'];
  const limits = options.batchLimits ?? {
    ...DEFAULT_BATCH_LIMITS,
    // An add-to-cart opens a deadline two hours later (and, with a send window, possibly a
    // later send time): no batch reaches past one.
    deadlineOf: variant.dueTimesOf,
  };

  const events = sortForReplay(readRetailRocketEvents(options.file));
  if (events.length === 0) throw new Error(`${options.file}: no events to replay`);
  const expected = variant.expect(events);
  const batches = cutBatches(events, limits);
  const visitorIds = [...new Set(events.map((e) => e.visitorId))];
  const identifiedIds =
    variant.identifies === 'every visitor'
      ? visitorIds
      : [...new Set(events.filter((e) => e.event === 'addtocart').map((e) => e.visitorId))];
  const firstMs = events[0].timestampMs;
  const lastMs = events[events.length - 1].timestampMs;
  const finalMs = lastMs + variant.finalClockMarginMs;

  const sink = new SmtpSink();
  let nudge: Nudge | null = null;
  let temporaryDataDir: string | null = null;
  try {
    const prepared = replayEnvironment(options.env ?? process.env, await sink.start());
    temporaryDataDir = prepared.temporaryDataDir;
    const config = loadConfig(prepared.env);
    nudge = await startNudge(config, { log: stderrLogger(config.logLevel) });
    const client = new GraphQLClient(nudge.url);
    const operator = config.operatorToken;
    const startupMs = performance.now() - startedMs;
    progress(`nudge started (${nudge.isTrial ? 'trial mode' : 'servers'}) in ${ms(startupMs)}`);

    const setupStartedMs = performance.now();
    const { tenantId, secret } = await createTenant(
      client,
      operator,
      `replay ${variant.name} ${isoNow()}`,
      variant.tenantTimezone,
    );
    const initial = await setClock(client, operator, firstMs - 1000);
    const triggerId = await createCartReminderTrigger(client, secret, variant.trigger);
    await identifyVisitors(client, secret, identifiedIds, IDENTIFIES_PER_REQUEST);
    const setupMs = performance.now() - setupStartedMs;
    progress(
      `tenant ${tenantId} (${variant.name}): trigger created, ` +
        `${identifiedIds.length} visitors identified`,
    );

    const ingestStartedMs = performance.now();
    const ingest = await sendEvents(client, operator, secret, batches, progress);
    const ingestMs = performance.now() - ingestStartedMs;

    const drainStartedMs = performance.now();
    const final = await setClock(client, operator, finalMs);
    const drainMs = performance.now() - drainStartedMs;

    const outcome = await readOutcome({
      client,
      secret,
      tenantId,
      triggerId,
      db: nudge.db,
      sink,
      expectedRuns: expected.runs,
      runKey: variant.runKey,
    });
    const simulated = await simulateTrigger(client, secret, variant.trigger, firstMs, finalMs);
    progress(`simulated: ${simulated.entered} entered, ${simulated.fired} fired`);
    const trackBatchMs = client.msByOperation.get('trackBatch') ?? ingestMs;
    const summary: Omit<ReplaySummary, 'isMatch'> = {
      file: path.relative(process.cwd(), options.file) || options.file,
      variant: variant.name,
      rule: variant.description,
      storage: {
        postgres: config.databaseUrl ? 'DATABASE_URL' : 'embedded (PGlite, trial mode)',
        redis: config.redisUrl
          ? `REDIS_URL (prefix ${config.redisPrefix})`
          : 'in-process stand-ins',
      },
      tenantId,
      tenantTimezone: variant.tenantTimezone,
      triggerId,
      identified: identifiedIds.length,
      csv: {
        rows: events.length,
        visitors: visitorIds.length,
        firstEventAt: new Date(firstMs).toISOString(),
        lastEventAt: new Date(lastMs).toISOString(),
      },
      events: { sent: events.length, ...ingest.counts },
      batches: {
        count: batches.length,
        largest: Math.max(...batches.map((b) => b.length)),
        maxEvents: limits.maxEvents,
        maxSpanMs: limits.maxSpanMs,
      },
      httpCalls: {
        total: client.calls,
        byOperation: Object.fromEntries(client.callsByOperation),
        msByOperation: Object.fromEntries(
          [...client.msByOperation].map(([operation, spentMs]) => [operation, Math.round(spentMs)]),
        ),
      },
      timersFired: initial.timersFired + ingest.timersFired + final.timersFired,
      ...outcome,
      expected: {
        runs: expected.runs.length,
        reminders: expected.reminders,
        cancelled: expected.cancelled,
        deferred: expected.deferred,
      },
      reference: countAbandonment(events),
      simulation: {
        entered: simulated.entered,
        reset: simulated.reset,
        cancelled: simulated.cancelled,
        fired: simulated.fired,
        messages: simulated.messages,
        deferred: simulated.deferred,
        durationMs: simulated.durationMs,
      },
      timing: {
        wallMs: performance.now() - startedMs,
        startupMs,
        setupMs,
        ingestMs,
        drainMs,
        eventsPerSecond: events.length / (ingestMs / 1000),
        trackBatchEventsPerSecond: events.length / (trackBatchMs / 1000),
      },
    };
    return { ...summary, isMatch: failedChecks(summary).length === 0 };
  } finally {
    await nudge?.stop();
    await sink.stop();
    if (temporaryDataDir) rmSync(temporaryDataDir, { recursive: true, force: true });
  }
}

/**
 * Sends the batches in order. Before each, the clock moves to 1 ms before the batch's first
 * event, so every timer due by then fires first (inside the `setClock` call).
 */
async function sendEvents(
  client: GraphQLClient,
  operator: string,
  secret: string,
  batches: RetailRocketEvent[][],
  progress: (line: string) => void,
): Promise<{ counts: Omit<ReplaySummary['events'], 'sent'>; timersFired: number }> {
  const counts = { accepted: 0, duplicates: 0, rejected: 0, rejections: [] as Rejection[] };
  let timersFired = 0;
  for (const [i, batch] of batches.entries()) {
    timersFired += (await setClock(client, operator, batch[0].timestampMs - 1)).timersFired;
    const result = await trackBatch(client, secret, batch.map(toTrackInput));

    counts.accepted += result.accepted;
    counts.duplicates += result.duplicates;
    counts.rejected += result.rejected.length;
    for (const r of result.rejected.slice(0, MAX_REJECTIONS_KEPT - counts.rejections.length)) {
      counts.rejections.push({
        rowIndex: batch[r.index].rowIndex,
        code: r.code,
        message: r.message,
      });
    }
    if ((i + 1) % 500 === 0) progress(`batch ${i + 1}/${batches.length}`);
  }
  return { counts, timersFired };
}

type Rejection = ReplaySummary['events']['rejections'][number];

const ms = (value: number) => `${Math.round(value)} ms`;
const isoNow = () => new Date().toISOString();

const USAGE = `usage: npm run replay -- [--variant basic|keyed-windowed|three-step] [file] [--json]

Replays a RetailRocket events CSV (default: examples/data/retailrocket_events_sample.csv)
through an in-process Nudge on the manual clock and checks the cart reminders it sends
against an expectation computed from the CSV, and against simulateTrigger over the same range.
With DATABASE_URL and REDIS_URL it uses those servers, otherwise trial mode.

  --variant basic            addtocart, unless a transaction within 2 h (the default)
  --variant keyed-windowed   one run per visitor and item, only a transaction of that item
                             cancels, reminders Mon-Fri 09:00-17:00 Europe/Berlin
  --variant three-step       per visitor and item: email at +30 min, SMS 24 h later if the
                             email was not opened, push at +48 h; goal: a transaction of the
                             item within 7 days; quiet hours 21:00-08:00 Berlin, at most 3
                             marketing messages per 7 days; SMS and push go to local peers,
                             and every step's sends must equal what its peer received
  --json                     print the summary as JSON instead of a table
Exit status: 0 when every check passes, 1 on MISMATCH, 2 when the replay could not run.
`;

/** The CLI arguments, or a complaint about them. */
function parseArgs(
  args: string[],
): { variant: ReplayVariantName; file: string | null; isJson: boolean; isHelp: boolean } | string {
  let variant = 'basic';
  const files: string[] = [];
  const unexpected: string[] = [];
  let isJson = false;
  let isHelp = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--json') isJson = true;
    else if (arg === '--help') isHelp = true;
    else if (arg === '--variant') {
      if (i + 1 >= args.length) return '--variant needs a value';
      variant = args[++i];
    } else if (arg.startsWith('--variant=')) variant = arg.slice('--variant='.length);
    else if (arg.startsWith('--')) unexpected.push(arg);
    else files.push(arg);
  }
  if (isHelp) return { variant: 'basic', file: null, isJson, isHelp };
  if (unexpected.length > 0 || files.length > 1) {
    return `unexpected arguments: ${[...unexpected, ...files.slice(1)].join(' ')}`;
  }
  try {
    return { variant: replayVariantName(variant), file: files[0] ?? null, isJson, isHelp };
  } catch (err) {
    return (err as Error).message;
  }
}

/** The CLI: returns the exit status. */
async function main(args: string[]): Promise<number> {
  const parsed = parseArgs(args);
  if (typeof parsed === 'string') {
    process.stderr.write(`replay: ${parsed}\n${USAGE}`);
    return 2;
  }
  if (parsed.isHelp) {
    process.stdout.write(USAGE);
    return 0;
  }

  // `npm run` changes to the package folder; relative paths mean the caller's folder.
  const file = parsed.file
    ? path.resolve(process.env.INIT_CWD ?? process.cwd(), parsed.file)
    : DEFAULT_REPLAY_FILE;
  if (!existsSync(file)) {
    process.stderr.write(`replay: no such file: ${file}\n`);
    return 2;
  }
  const onProgress = (line: string) => process.stderr.write(`replay: ${line}\n`);
  if (parsed.variant === 'three-step') {
    const summary = await runThreeStepReplay({ file, onProgress });
    return report(summary, formatFlowSummary(summary), flowCheckText(summary), parsed.isJson);
  }
  const summary = await runReplay({ file, variant: parsed.variant, onProgress });
  return report(summary, formatSummary(summary), checkText(summary), parsed.isJson);
}

/** Prints the summary (as a table, or as JSON) and returns the exit status. */
function report(
  summary: { isMatch: boolean },
  table: string,
  verdict: string,
  isJson: boolean,
): number {
  process.stdout.write(isJson ? `${JSON.stringify(summary, null, 2)}\n` : table);
  if (!summary.isMatch) (isJson ? process.stderr : process.stdout).write(`\n${verdict}\n`);
  return summary.isMatch ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (status) => process.exit(status),
    (err: unknown) => {
      process.stderr.write(`replay: failed: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(2);
    },
  );
}
