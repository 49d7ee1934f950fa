import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import webpush from 'web-push';
import { startNudge, type Nudge } from '../../src/app';
import { loadConfig, type Config } from '../../src/config';
import { EmailOpener } from './email-opener';
import {
  identifyContacts,
  recordSmsConsents,
  registerPushSubscriptions,
  updateTenantSettings,
  type SmsConsentRecord,
} from './flow-operations';
import { GraphQLClient } from './graphql-client';
import { createCartReminderTrigger, createTenant, setClock, trackBatch } from './nudge-operations';
import { startPushService, type PushServicePeer } from './push-service';
import { DEFAULT_BATCH_LIMITS, cutBatches, type BatchLimits } from './replay-batches';
import { replayEnvironment, stderrLogger } from './replay-environment';
import {
  readRetailRocketEvents,
  sortForReplay,
  toTrackInput,
  type RetailRocketEvent,
} from './retailrocket-events';
import { startSmsProvider, type SmsProviderPeer } from './sms-provider';
import { SmtpSink } from './smtp-sink';
import {
  THREE_STEP_DESCRIPTION,
  THREE_STEP_SETTINGS,
  THREE_STEP_TRIGGER,
  THREE_STEP_ZONE,
  flowDueTimesOf,
  openStopsOf,
  syntheticContact,
  type SyntheticContact,
} from './three-step-flow';
import { readFlowOutcome } from './three-step-outcome';
import { failedFlowChecks, type ThreeStepSummary } from './three-step-summary';
import { readTriggerMetrics } from './three-step-metrics';

const HOUR_MS = 3_600_000;
const PER_REQUEST = 10;
const MAX_REJECTIONS_KEPT = 20;

/**
 * After the last event the clock moves this far: past the push at +48 h and an SMS at most
 * 24 h after an email that the quiet hours held until morning (under 60 h in all).
 */
const FINAL_CLOCK_MARGIN_MS = 72 * HOUR_MS;

/** Where tracking links in the emails point; the opener sends them to the service instead. */
const PUBLIC_URL = 'http://nudge.replay.example';
const SMS_FROM = '+15550000000';

/** What to replay, and against which environment (as for `runReplay`). */
export interface ThreeStepReplayOptions {
  /** A RetailRocket events CSV. */
  file: string;
  /**
   * The environment Nudge is configured from (default `process.env`). With DATABASE_URL and
   * REDIS_URL it uses those servers; without them, trial mode in a fresh temporary folder.
   */
  env?: NodeJS.ProcessEnv;
  /**
   * Default: `DEFAULT_BATCH_LIMITS`, cut before every instant a step may fall due or an
   * email be opened (`flowDueTimesOf`); limits without `deadlineOf` lose those cuts.
   */
  batchLimits?: BatchLimits;
  /** Receives a line now and then while the replay runs (the CLI prints them to stderr). */
  onProgress?: (line: string) => void;
  /**
   * Called with the summary while Nudge still runs (the dashboard screenshot reads the same
   * tenant through the page); whatever it throws fails the replay.
   */
  beforeStop?: (live: ReplayLive) => Promise<void>;
  /**
   * Called once Nudge runs, before the tenant exists, with the environment it was configured
   * from (tests start a second worker on the same servers and peers with it).
   */
  onStarted?: (env: NodeJS.ProcessEnv) => Promise<void>;
  /** Called once the tenant and its trigger exist, before any event (tests subscribe here). */
  onTenantReady?: (tenant: { url: string; secret: string; triggerId: string }) => Promise<void>;
  /** Called before each move of the manual clock with its target (a second worker keeps up). */
  beforeClockMove?: (toMs: number) => Promise<void>;
}

/** The replay's Nudge and tenant while they still run, for `beforeStop`. */
export interface ReplayLive {
  /** The GraphQL endpoint (the dashboard is beside it at `/dashboard`). */
  url: string;
  secret: string;
  summary: ThreeStepSummary;
}

/** What a run started, for `stopAll`: filled in as each piece comes up. */
interface Running {
  sink: SmtpSink;
  sms: SmsProviderPeer | null;
  push: PushServicePeer | null;
  nudge: Nudge | null;
  temporaryDataDir: string | null;
}

/** The replay's tenant, once set up. */
interface FlowTenant {
  tenantId: string;
  secret: string;
  triggerId: string;
  /** Push subscriptions registered (one per visitor that has one). */
  subscriptions: number;
  /** Timers fired by the first `setClock` (none, unless the database holds old ones). */
  timersFired: number;
}

/**
 * Replays a RetailRocket events file through the three-step cart flow of issue #4 (see
 * three-step-flow.ts) on a Nudge started in-process on the manual clock, with real local
 * peers: EMAIL to an SMTP sink, SMS to a Twilio-style provider, PUSH to a Web Push service.
 * Visitors with an add-to-cart get synthetic, deterministic contact data, consent and push
 * subscriptions; a deterministic share of the cart emails is opened by "a person" (the open
 * pixel, fetched with a browser user agent). Then it reads, per step, what was sent, skipped
 * and suppressed and why, and the conversions, and checks the sends against what each peer
 * received. Stops the peers and Nudge (and removes the temporary data folder it made) on
 * success and on error. Throws on a bad file, a bad environment or any GraphQL error; a
 * mismatch is not an error, it is `isMatch: false`.
 */
export async function runThreeStepReplay(
  options: ThreeStepReplayOptions,
): Promise<ThreeStepSummary> {
  const startedMs = performance.now();
  const progress = options.onProgress ?? (() => undefined);
  const events = sortForReplay(readRetailRocketEvents(options.file));
  if (events.length === 0) throw new Error(`${options.file}: no events to replay`);
  const limits = options.batchLimits ?? { ...DEFAULT_BATCH_LIMITS, deadlineOf: flowDueTimesOf };
  const batches = cutBatches(events, limits);
  const stops = [...new Set(events.flatMap(openStopsOf))].sort((a, b) => a - b);
  const contacts = [
    ...new Set(events.filter((e) => e.event === 'addtocart').map((e) => e.visitorId)),
  ].map(syntheticContact);
  const firstMs = events[0].timestampMs;
  const lastMs = events[events.length - 1].timestampMs;

  const running: Running = {
    sink: new SmtpSink(),
    sms: null,
    push: null,
    nudge: null,
    temporaryDataDir: null,
  };
  try {
    const { nudge, config, env, sms, push } = await startWithPeers(running, options.env);
    await options.onStarted?.(env);
    const client = new GraphQLClient(nudge.url);
    const operator = config.operatorToken;
    const startupMs = performance.now() - startedMs;
    progress(`nudge started (${nudge.isTrial ? 'trial mode' : 'servers'}) with SMS and push peers`);

    const setupStartedMs = performance.now();
    const tenant = await setUpTenant(client, operator, push, contacts, firstMs);
    const setupMs = performance.now() - setupStartedMs;
    progress(`tenant ${tenant.tenantId}: trigger created, ${contacts.length} visitors identified`);
    await options.onTenantReady?.({
      url: nudge.url,
      secret: tenant.secret,
      triggerId: tenant.triggerId,
    });

    const opener = new EmailOpener(running.sink, tenant.tenantId, PUBLIC_URL, nudge.url);
    const clock = new ClockDriver(client, operator, stops, opener, firstMs - 1000);
    clock.beforeMove = options.beforeClockMove ?? null;
    const ingestStartedMs = performance.now();
    const counts = await sendEvents(client, tenant.secret, batches, clock, progress);
    const ingestMs = performance.now() - ingestStartedMs;

    const drainStartedMs = performance.now();
    await clock.moveTo(lastMs + FINAL_CLOCK_MARGIN_MS);
    const drainMs = performance.now() - drainStartedMs;

    const outcome = await readFlowOutcome({
      client,
      secret: tenant.secret,
      tenantId: tenant.tenantId,
      triggerId: tenant.triggerId,
      steps: THREE_STEP_TRIGGER.steps,
      visitorIds: contacts.map((c) => c.visitorId),
      db: nudge.db,
      sink: running.sink,
      sms,
      push,
    });
    const metrics = await readTriggerMetrics(
      client,
      tenant.secret,
      tenant.triggerId,
      firstMs - 1000,
      lastMs + FINAL_CLOCK_MARGIN_MS + 1,
    );
    const summary: Omit<ThreeStepSummary, 'isMatch'> = {
      file: path.relative(process.cwd(), options.file) || options.file,
      variant: 'three-step',
      rule: THREE_STEP_DESCRIPTION,
      storage: {
        postgres: config.databaseUrl ? 'DATABASE_URL' : 'embedded (PGlite, trial mode)',
        redis: config.redisUrl
          ? `REDIS_URL (prefix ${config.redisPrefix})`
          : 'in-process stand-ins',
      },
      tenantId: tenant.tenantId,
      tenantTimezone: THREE_STEP_ZONE,
      triggerId: tenant.triggerId,
      csv: {
        rows: events.length,
        visitors: new Set(events.map((e) => e.visitorId)).size,
        firstEventAt: new Date(firstMs).toISOString(),
        lastEventAt: new Date(lastMs).toISOString(),
      },
      events: { sent: events.length, ...counts },
      contacts: {
        identified: contacts.length,
        withPhone: contacts.filter((c) => c.phone !== null).length,
        smsGranted: contacts.filter((c) => c.sms === 'granted').length,
        smsRevoked: contacts.filter((c) => c.sms === 'revoked').length,
        smsNoRecord: contacts.filter((c) => c.sms === 'none').length,
        withPushSubscription: tenant.subscriptions,
      },
      opens: { chosen: opener.chosen, pixelsFetched: opener.pixelsFetched },
      ...outcome,
      metrics,
      httpCalls: { total: client.calls, byOperation: Object.fromEntries(client.callsByOperation) },
      timersFired: tenant.timersFired + clock.timersFired,
      clockStops: clock.stopsMade,
      timing: { wallMs: performance.now() - startedMs, startupMs, setupMs, ingestMs, drainMs },
    };
    const finished = { ...summary, isMatch: failedFlowChecks(summary).length === 0 };
    await options.beforeStop?.({ url: nudge.url, secret: tenant.secret, summary: finished });
    return finished;
  } finally {
    await stopAll(running);
  }
}

/**
 * Starts the SMTP sink, the SMS provider and the push service, then Nudge on the manual
 * clock configured to use them (fresh SMS credentials and VAPID keys each time), on top of
 * `base` (default `process.env`). Records each piece in `running` as it comes up.
 */
async function startWithPeers(
  running: Running,
  base: NodeJS.ProcessEnv = process.env,
): Promise<{
  nudge: Nudge;
  config: Config;
  env: NodeJS.ProcessEnv;
  sms: SmsProviderPeer;
  push: PushServicePeer;
}> {
  const smtpUrl = await running.sink.start();
  const smsAccount = {
    accountSid: `AC${randomBytes(16).toString('hex')}`,
    authToken: randomBytes(16).toString('hex'),
  };
  const sms = (running.sms = await startSmsProvider(smsAccount));
  const push = (running.push = await startPushService());
  const vapid = webpush.generateVAPIDKeys();
  const prepared = replayEnvironment(base, smtpUrl, {
    NUDGE_PUBLIC_URL: PUBLIC_URL,
    NUDGE_SMS_API_URL: sms.url,
    TWILIO_ACCOUNT_SID: smsAccount.accountSid,
    TWILIO_AUTH_TOKEN: smsAccount.authToken,
    NUDGE_SMS_FROM: SMS_FROM,
    VAPID_PUBLIC_KEY: vapid.publicKey,
    VAPID_PRIVATE_KEY: vapid.privateKey,
    VAPID_SUBJECT: 'mailto:replay@nudge.example',
  });
  running.temporaryDataDir = prepared.temporaryDataDir;
  const config = loadConfig(prepared.env);
  const nudge = (running.nudge = await startNudge(config, {
    log: stderrLogger(config.logLevel),
  }));
  return { nudge, config, env: prepared.env, sms, push };
}

/**
 * Creates the tenant (settings: quiet hours, cap) and the trigger, sets the clock to just
 * before the first event, and tells Nudge about the visitors: identify (email, phone), SMS
 * consent, push subscriptions with the local push service.
 */
async function setUpTenant(
  client: GraphQLClient,
  operator: string,
  push: PushServicePeer,
  contacts: readonly SyntheticContact[],
  firstMs: number,
): Promise<FlowTenant> {
  const name = `replay three-step ${new Date().toISOString()}`;
  const { tenantId, secret } = await createTenant(client, operator, name, THREE_STEP_ZONE);
  await updateTenantSettings(client, secret, THREE_STEP_SETTINGS);
  const { timersFired } = await setClock(client, operator, firstMs - 1000);
  const triggerId = await createCartReminderTrigger(client, secret, THREE_STEP_TRIGGER);
  await identifyContacts(client, secret, contacts, PER_REQUEST);
  await recordSmsConsents(client, secret, smsConsentRecords(contacts, firstMs), PER_REQUEST);
  const subscriptions = contacts
    .filter((c) => c.hasPush)
    .map((c) => ({ visitorId: c.visitorId, ...push.newSubscription() }));
  await registerPushSubscriptions(client, secret, subscriptions, PER_REQUEST);
  return { tenantId, secret, triggerId, subscriptions: subscriptions.length, timersFired };
}

/** Stops whatever `running` holds, Nudge first, and removes the temporary data folder. */
async function stopAll(running: Running): Promise<void> {
  await running.nudge?.stop();
  await running.sink.stop();
  await running.sms?.close();
  await running.push?.close();
  if (running.temporaryDataDir) {
    rmSync(running.temporaryDataDir, { recursive: true, force: true });
  }
}

/**
 * SMS marketing consent as three-step-flow.ts assigns it: grants two days before the first
 * event; for the revoked ones the revocation (a STOP) a day later, still before the data.
 */
function smsConsentRecords(
  contacts: readonly SyntheticContact[],
  firstMs: number,
): SmsConsentRecord[] {
  const grantedMs = firstMs - 48 * HOUR_MS;
  const revokedMs = firstMs - 24 * HOUR_MS;
  return contacts.flatMap((c): SmsConsentRecord[] => {
    if (c.sms === 'none') return [];
    const grant = { visitorId: c.visitorId, isGranted: true, occurredAtMs: grantedMs };
    if (c.sms === 'granted') return [grant];
    return [grant, { visitorId: c.visitorId, isGranted: false, occurredAtMs: revokedMs }];
  });
}

/**
 * Moves the manual clock, stopping on the way at every instant in `stops` (an email going
 * out, and its open an hour later), and lets the opener act after every move.
 */
class ClockDriver {
  timersFired = 0;
  /** Runs before every move (`ThreeStepReplayOptions.beforeClockMove`). */
  beforeMove: ((toMs: number) => Promise<void>) | null = null;
  /** `setClock` calls made for a stop rather than for a batch or the end. */
  stopsMade = 0;
  private next = 0;

  constructor(
    private readonly client: GraphQLClient,
    private readonly operator: string,
    private readonly stops: readonly number[],
    private readonly opener: EmailOpener,
    private nowMs: number,
  ) {}

  /** Every due timer up to `targetMs` fires (inside the `setClock` calls) before it returns. */
  async moveTo(targetMs: number): Promise<void> {
    for (; this.next < this.stops.length && this.stops[this.next] < targetMs; this.next++) {
      if (this.stops[this.next] <= this.nowMs) continue;
      await this.set(this.stops[this.next]);
      this.stopsMade++;
    }
    if (targetMs > this.nowMs) await this.set(targetMs);
  }

  private async set(toMs: number): Promise<void> {
    await this.beforeMove?.(toMs);
    this.timersFired += (await setClock(this.client, this.operator, toMs)).timersFired;
    this.nowMs = toMs;
    await this.opener.afterClockMove(toMs);
  }
}

type EventCounts = Omit<ThreeStepSummary['events'], 'sent'>;

/** Sends the batches in order; before each, the clock moves to 1 ms before its first event. */
async function sendEvents(
  client: GraphQLClient,
  secret: string,
  batches: RetailRocketEvent[][],
  clock: ClockDriver,
  progress: (line: string) => void,
): Promise<EventCounts> {
  const counts: EventCounts = { accepted: 0, duplicates: 0, rejected: 0, rejections: [] };
  for (const [i, batch] of batches.entries()) {
    await clock.moveTo(batch[0].timestampMs - 1);
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
  return counts;
}
