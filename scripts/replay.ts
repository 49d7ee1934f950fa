import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { startNudge, type Nudge } from '../src/app';
import { loadConfig } from '../src/config';
import type { Logger } from '../src/logger';
import { CART_WINDOW_MS, countAbandonment, countExpectedReminders } from './lib/expected-reminders';
import { GraphQLClient } from './lib/graphql-client';
import {
  createCartReminderTrigger,
  createTenant,
  identifyVisitors,
  setClock,
  trackBatch,
  type TrackInput,
} from './lib/nudge-operations';
import { DEFAULT_BATCH_LIMITS, cutBatches, type BatchLimits } from './lib/replay-batches';
import { readOutcome } from './lib/replay-outcome';
import { checkText, formatSummary, type ReplaySummary } from './lib/replay-summary';
import {
  readRetailRocketEvents,
  sortForReplay,
  type RetailRocketEvent,
} from './lib/retailrocket-events';
import { SmtpSink } from './lib/smtp-sink';

export type { ReplaySummary } from './lib/replay-summary';

/** The sample shipped with the repository (see examples/data/README.md). */
export const DEFAULT_REPLAY_FILE = path.resolve(
  __dirname,
  '..',
  'examples',
  'data',
  'retailrocket_events_sample.csv',
);

/** After the last event the clock moves this far, past every 2 h deadline. */
const FINAL_CLOCK_MARGIN_MS = 3 * 60 * 60 * 1000;
const IDENTIFIES_PER_REQUEST = 10;
const MAX_REJECTIONS_KEPT = 20;

/** What to replay, and against which environment. */
export interface ReplayOptions {
  /** A RetailRocket events CSV. */
  file: string;
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
 * talking to it only through GraphQL over HTTP, and compares the reminders it sends with the
 * count computed independently from the file. Starts its own SMTP sink; stops the sink and
 * Nudge (and removes the temporary data folder it created) on success and on error.
 * Throws on a bad file, a bad environment or any GraphQL error; a mismatch is not an error,
 * it is `isMatch: false` in the summary.
 */
export async function runReplay(options: ReplayOptions): Promise<ReplaySummary> {
  const startedMs = performance.now();
  const progress = options.onProgress ?? (() => undefined);
  const limits = options.batchLimits ?? {
    ...DEFAULT_BATCH_LIMITS,
    // The replay's trigger: an add-to-cart opens a deadline two hours later.
    deadlineOf: (e: { timestampMs: number; event: string }) =>
      e.event === 'addtocart' ? e.timestampMs + CART_WINDOW_MS : null,
  };

  const events = sortForReplay(readRetailRocketEvents(options.file));
  if (events.length === 0) throw new Error(`${options.file}: no events to replay`);
  const expected = countExpectedReminders(events);
  const batches = cutBatches(events, limits);
  const visitorIds = [...new Set(events.map((e) => e.visitorId))];
  const firstMs = events[0].timestampMs;
  const lastMs = events[events.length - 1].timestampMs;

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
    const { tenantId, secret } = await createTenant(client, operator, `replay ${isoNow()}`);
    const initial = await setClock(client, operator, firstMs - 1000);
    const triggerId = await createCartReminderTrigger(client, secret);
    await identifyVisitors(client, secret, visitorIds, IDENTIFIES_PER_REQUEST);
    const setupMs = performance.now() - setupStartedMs;
    progress(`tenant ${tenantId}: trigger created, ${visitorIds.length} visitors identified`);

    const ingestStartedMs = performance.now();
    const ingest = await sendEvents(client, operator, secret, batches, progress);
    const ingestMs = performance.now() - ingestStartedMs;

    const drainStartedMs = performance.now();
    const final = await setClock(client, operator, lastMs + FINAL_CLOCK_MARGIN_MS);
    const drainMs = performance.now() - drainStartedMs;

    const outcome = await readOutcome({
      client,
      secret,
      tenantId,
      triggerId,
      db: nudge.db,
      sink,
      expectedRuns: expected.runs,
    });
    const trackBatchMs = client.msByOperation.get('trackBatch') ?? ingestMs;
    return {
      file: path.relative(process.cwd(), options.file) || options.file,
      storage: {
        postgres: config.databaseUrl ? 'DATABASE_URL' : 'embedded (PGlite, trial mode)',
        redis: config.redisUrl
          ? `REDIS_URL (prefix ${config.redisPrefix})`
          : 'in-process stand-ins',
      },
      tenantId,
      triggerId,
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
      },
      reference: countAbandonment(events),
      timing: {
        wallMs: performance.now() - startedMs,
        startupMs,
        setupMs,
        ingestMs,
        drainMs,
        eventsPerSecond: events.length / (ingestMs / 1000),
        trackBatchEventsPerSecond: events.length / (trackBatchMs / 1000),
      },
      isMatch:
        outcome.messages.sent === expected.reminders &&
        outcome.sink.forTenant === expected.reminders,
    };
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

/**
 * The replay's settings on top of the caller's environment: manual clock, an ephemeral
 * loopback port, the sink as SMTP server, and (unless given) a random operator token, a
 * fresh data folder, a random Redis key prefix, and LOG_LEVEL=warn.
 */
function replayEnvironment(
  base: NodeJS.ProcessEnv,
  smtpUrl: string,
): { env: NodeJS.ProcessEnv; temporaryDataDir: string | null } {
  const dataDir = base.NUDGE_DATA_DIR || mkdtempSync(path.join(os.tmpdir(), 'nudge-replay-'));
  return {
    temporaryDataDir: base.NUDGE_DATA_DIR ? null : dataDir,
    env: {
      ...base,
      NUDGE_CLOCK: 'manual',
      HOST: '127.0.0.1',
      PORT: '0',
      SMTP_URL: smtpUrl,
      LOG_LEVEL: base.LOG_LEVEL || 'warn',
      NUDGE_OPERATOR_TOKEN: base.NUDGE_OPERATOR_TOKEN || randomBytes(16).toString('hex'),
      NUDGE_DATA_DIR: dataDir,
      // The manual clock fires every due timer in its index; a prefix of its own keeps the
      // replay away from the timers of a deployment that shares the Redis.
      NUDGE_REDIS_PREFIX: base.NUDGE_REDIS_PREFIX || `replay-${randomBytes(4).toString('hex')}`,
    },
  };
}

/** Nudge's own logs go to stderr, so stdout carries only the summary (`--json` pipes). */
function stderrLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: 'nudge' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: ['email', '*.email', 'secret', '*.secret'], censor: '[redacted]' },
    },
    pino.destination({ dest: 2, sync: true }),
  );
}

function toTrackInput(event: RetailRocketEvent): TrackInput {
  return {
    customerExternalId: event.visitorId,
    event: event.event,
    occurredAt: new Date(event.timestampMs).toISOString(),
    properties:
      event.transactionId === null
        ? { itemId: event.itemId }
        : { itemId: event.itemId, transactionId: event.transactionId },
    messageId: `retailrocket:${event.rowHash}`,
  };
}

type Rejection = ReplaySummary['events']['rejections'][number];

const ms = (value: number) => `${Math.round(value)} ms`;
const isoNow = () => new Date().toISOString();

const USAGE = `usage: npm run replay -- [file] [--json]

Replays a RetailRocket events CSV (default: examples/data/retailrocket_events_sample.csv)
through an in-process Nudge on the manual clock and checks the cart reminders it sends.
With DATABASE_URL and REDIS_URL it uses those servers, otherwise trial mode.

  --json   print the summary as JSON instead of a table
Exit status: 0 when the reminders match, 1 on MISMATCH, 2 when the replay could not run.
`;

/** The CLI: returns the exit status. */
async function main(args: string[]): Promise<number> {
  const flags = args.filter((a) => a.startsWith('--'));
  const files = args.filter((a) => !a.startsWith('--'));
  if (flags.includes('--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const unknown = flags.filter((f) => f !== '--json');
  if (unknown.length > 0 || files.length > 1) {
    process.stderr.write(
      `replay: unexpected arguments: ${[...unknown, ...files.slice(1)].join(' ')}\n${USAGE}`,
    );
    return 2;
  }

  // `npm run` changes to the package folder; relative paths mean the caller's folder.
  const file = files[0]
    ? path.resolve(process.env.INIT_CWD ?? process.cwd(), files[0])
    : DEFAULT_REPLAY_FILE;
  if (!existsSync(file)) {
    process.stderr.write(`replay: no such file: ${file}\n`);
    return 2;
  }
  const summary = await runReplay({
    file,
    onProgress: (line) => process.stderr.write(`replay: ${line}\n`),
  });

  const isJson = flags.includes('--json');
  process.stdout.write(isJson ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
  if (!summary.isMatch)
    (isJson ? process.stderr : process.stdout).write(`\n${checkText(summary)}\n`);
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
