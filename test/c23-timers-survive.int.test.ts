import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import pino from 'pino';
import { createClient } from 'redis';
import { SmtpSink } from '../scripts/lib/smtp-sink';
import { startNudge } from '../src/app';
import { loadConfig } from '../src/config';
import type { Logger } from '../src/logger';
import { shardOf, type ClaimedTimer } from '../src/engine/timers/timer-index';
import { timerKeys } from '../src/engine/timers/timer-keys';
import { connectRedis, RedisEvictionPolicyError } from '../src/platform/redis';
import { describeWithRedis, OPERATOR_TOKEN, startTestNudge, TestNudge } from './support/harness';
import { killAll, spawnNudge, type NudgeProcess } from './support/nudge-process';
import { WebhookReceiver, webhookTenant } from './support/webhook-receiver';
import {
  MessageNode,
  createTrigger,
  identify,
  isoOf,
  listMessages,
  mailsTo,
  track,
  uniqueEmail,
} from './support/scenario';

/**
 * Field case C23 and the DESIGN.md guarantee "A timer fires even if a worker dies or Redis
 * restarts empty": PostgreSQL holds every pending timer, the Redis index is rebuilt from it,
 * an expired lease gives the timer back, and the one-message-per-step key turns repeated
 * claims into one send. Timers fire at their due time, never early.
 *
 * Journey: email now, email again after PT24H (SMS is not deliverable yet, see issue #4).
 */
const JOURNEY = {
  name: 'c23-journey',
  event: 'signed_up',
  steps: [
    { channel: 'EMAIL', template: { subject: 'Welcome', body: 'step one' } },
    { delay: 'PT24H', channel: 'EMAIL', template: { subject: 'A day later', body: 'step two' } },
  ],
};

const DAY_MS = 24 * 3_600_000;

type RedisClient = ReturnType<typeof createClient>;

function newPrefix(): string {
  return `c23-${randomBytes(4).toString('hex')}`;
}

/** A tenant with the journey and customers that entered at the given instants. */
async function enterJourney(
  t: TestNudge,
  entries: Array<{ externalId: string; at: string }>,
): Promise<{ tenantId: string; secret: string; emails: Map<string, string> }> {
  const { tenantId, secret } = await t.createTenant('t-c23');
  await t.setClock('2025-01-20T09:00:00.000Z');
  await createTrigger(t, secret, JOURNEY);
  const emails = new Map<string, string>();
  for (const { externalId, at } of [...entries].sort((a, b) => a.at.localeCompare(b.at))) {
    const email = uniqueEmail(externalId);
    emails.set(externalId, email);
    await identify(t, secret, externalId, email);
    await t.setClock(at);
    await track(t, secret, { customerExternalId: externalId, event: 'signed_up', occurredAt: at });
  }
  return { tenantId, secret, emails };
}

/** The customer's messages by step; fails unless there is at most one per step. */
async function messagesByStep(
  t: TestNudge,
  secret: string,
  externalId: string,
): Promise<MessageNode[]> {
  const messages = await listMessages(t, secret, { customerExternalId: externalId });
  const steps = messages.map((m) => m.stepIndex).sort();
  expect(steps).toEqual([...new Set(steps)]);
  return [...messages].sort((a, b) => a.stepIndex - b.stepIndex);
}

/** Asserts the customer has exactly `count` messages in `messages` and `count` mails in the sink. */
async function expectSentCount(
  t: TestNudge,
  secret: string,
  externalId: string,
  email: string,
  count: number,
) {
  const messages = await messagesByStep(t, secret, externalId);
  expect({ externalId, messages: messages.length }).toEqual({ externalId, messages: count });
  expect({ externalId, mails: (await mailsTo(t.smtp, email)).length }).toEqual({
    externalId,
    mails: count,
  });
  return messages;
}

function expectSentAt(message: MessageNode, dueIso: string) {
  expect(message.status).toBe('SENT');
  expect(isoOf(message.scheduledFor)).toBe(isoOf(dueIso));
  expect(isoOf(message.sentAt!)).toBe(isoOf(dueIso));
}

async function flushPrefix(redis: RedisClient, prefix: string): Promise<number> {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(keys);
  return keys.length;
}

async function indexedTimerCount(redis: RedisClient, prefix: string): Promise<number> {
  let total = 0;
  for (const key of await redis.keys(`${prefix}:timers:*:due`)) total += await redis.zCard(key);
  return total;
}

describeWithRedis('C23 timers survive a restart with an emptied Redis', () => {
  let smtp: SmtpSink;
  let redis: RedisClient;
  const running = new Set<TestNudge>();
  const prefixes: string[] = [];

  beforeAll(async () => {
    smtp = new SmtpSink();
    await smtp.start();
    redis = createClient({ url: process.env.NUDGE_TEST_REDIS_URL });
    await redis.connect();
  });
  afterEach(async () => {
    for (const t of running) await t.stop();
    running.clear();
  });
  afterAll(async () => {
    for (const prefix of prefixes) await flushPrefix(redis, prefix);
    await redis.quit();
    await smtp.stop();
  });

  async function start(prefix: string): Promise<TestNudge> {
    const t = await startTestNudge({ prefix, smtp });
    running.add(t);
    return t;
  }

  async function stop(t: TestNudge): Promise<void> {
    running.delete(t);
    await t.stop();
  }

  /**
   * The journey's first run: cust-23001, 23003 and 23004 enter at 2025-01-20T10:00Z,
   * cust-23002 at 16:00Z; step 0 goes out; at 2025-01-21T09:50Z every worker dies with the
   * step-1 timers pending, and Redis loses every key of the deployment.
   */
  async function runUntilCrashAndEmptyRedis(prefix: string) {
    const before = await start(prefix);
    const tenant = await enterJourney(before, [
      { externalId: 'cust-23001', at: '2025-01-20T10:00:00.000Z' },
      { externalId: 'cust-23003', at: '2025-01-20T10:00:00.000Z' },
      { externalId: 'cust-23004', at: '2025-01-20T10:00:00.000Z' },
      { externalId: 'cust-23002', at: '2025-01-20T16:00:00.000Z' },
    ]);
    await before.setClock('2025-01-21T09:50:00.000Z');
    for (const [externalId, email] of tenant.emails) {
      await expectSentCount(before, tenant.secret, externalId, email, 1);
    }
    expect(await indexedTimerCount(redis, prefix)).toBeGreaterThanOrEqual(tenant.emails.size);

    await stop(before);
    expect(await flushPrefix(redis, prefix)).toBeGreaterThan(0);
    expect(await redis.keys(`${prefix}:*`)).toEqual([]);
    return tenant;
  }

  it('restarted at 10:10Z after the crash, it sends each overdue step-1 email once, and not the one due at 16:00Z', async () => {
    const prefix = newPrefix();
    prefixes.push(prefix);
    const { secret, emails } = await runUntilCrashAndEmptyRedis(prefix);

    const after = await start(prefix);
    await after.setClock('2025-01-21T10:10:00.000Z');

    await expectSentCount(after, secret, 'cust-23002', emails.get('cust-23002')!, 1);
    for (const externalId of ['cust-23001', 'cust-23003', 'cust-23004']) {
      const [, second] = await expectSentCount(
        after,
        secret,
        externalId,
        emails.get(externalId)!,
        2,
      );
      expect(second.status).toBe('SENT');
      expect(isoOf(second.scheduledFor)).toBe('2025-01-21T10:00:00.000Z');
      expect(Date.parse(second.sentAt!)).toBeGreaterThanOrEqual(
        Date.parse('2025-01-21T10:00:00.000Z'),
      );
      expect(Date.parse(second.sentAt!)).toBeLessThanOrEqual(
        Date.parse('2025-01-21T10:10:00.000Z'),
      );
    }

    await after.setClock('2025-01-21T16:00:00.000Z');
    const [, late] = await expectSentCount(
      after,
      secret,
      'cust-23002',
      emails.get('cust-23002')!,
      2,
    );
    expectSentAt(late, '2025-01-21T16:00:00.000Z');
  });

  it('after a restart with an emptied Redis every pending step is sent exactly once, at its due time and not 1 ms early', async () => {
    const prefix = newPrefix();
    prefixes.push(prefix);
    const { secret, emails } = await runUntilCrashAndEmptyRedis(prefix);

    const after = await start(prefix);
    await after.setClock('2025-01-21T09:59:59.999Z');
    for (const [externalId, email] of emails)
      await expectSentCount(after, secret, externalId, email, 1);

    await after.setClock('2025-01-21T10:00:00.000Z');
    for (const externalId of ['cust-23001', 'cust-23003', 'cust-23004']) {
      const [, second] = await expectSentCount(
        after,
        secret,
        externalId,
        emails.get(externalId)!,
        2,
      );
      expectSentAt(second, '2025-01-21T10:00:00.000Z');
    }

    await after.setClock('2025-01-21T15:59:59.999Z');
    await expectSentCount(after, secret, 'cust-23002', emails.get('cust-23002')!, 1);
    await after.setClock('2025-01-21T16:00:00.000Z');
    const [, late] = await expectSentCount(
      after,
      secret,
      'cust-23002',
      emails.get('cust-23002')!,
      2,
    );
    expectSentAt(late, '2025-01-21T16:00:00.000Z');

    await after.setClock('2025-01-25T00:00:00.000Z');
    for (const [externalId, email] of emails) {
      const [first, second] = await expectSentCount(after, secret, externalId, email, 2);
      expect(Date.parse(second.sentAt!) - Date.parse(first.sentAt!)).toBeGreaterThanOrEqual(DAY_MS);
    }
  });

  it('a pending timer missing from the index while the service runs (lost between commit and enqueue) fires at its due time', async () => {
    const prefix = newPrefix();
    prefixes.push(prefix);
    const t = await start(prefix);
    const { secret, emails } = await enterJourney(t, [
      { externalId: 'cust-23003', at: '2025-01-20T10:00:00.000Z' },
    ]);
    const email = emails.get('cust-23003')!;
    expect(await indexedTimerCount(redis, prefix)).toBeGreaterThan(0);

    expect(await flushPrefix(redis, prefix)).toBeGreaterThan(0);
    await t.setClock('2025-01-21T09:59:59.999Z');
    await expectSentCount(t, secret, 'cust-23003', email, 1);
    await t.setClock('2025-01-22T00:00:00.000Z');
    const [, second] = await expectSentCount(t, secret, 'cust-23003', email, 2);
    expectSentAt(second, '2025-01-21T10:00:00.000Z');
  });
});

describe('C23 timers fire neither early nor twice', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('a PT24H delay is never executed as 0: the steps are at least 24 h apart', async () => {
    const { secret, emails } = await enterJourney(t, [
      { externalId: 'cust-23006', at: '2025-01-20T10:00:00.000Z' },
    ]);
    const email = emails.get('cust-23006')!;

    await t.setClock('2025-01-21T09:59:59.999Z');
    const [first] = await expectSentCount(t, secret, 'cust-23006', email, 1);
    expectSentAt(first, '2025-01-20T10:00:00.000Z');

    await t.setClock('2025-01-25T00:00:00.000Z');
    const [, second] = await expectSentCount(t, secret, 'cust-23006', email, 2);
    expectSentAt(second, '2025-01-21T10:00:00.000Z');
    expect(Date.parse(second.sentAt!) - Date.parse(first.sentAt!)).toBeGreaterThanOrEqual(DAY_MS);
  });

  it('a timer claimed by a worker that crashed before acking is sent exactly once after the lease expires, and a stale re-claim sends nothing', async () => {
    const { tenantId, secret, emails } = await enterJourney(t, [
      { externalId: 'cust-23005', at: '2025-01-20T10:00:00.000Z' },
    ]);
    const email = emails.get('cust-23005')!;
    const dueMs = Date.parse('2025-01-21T10:00:00.000Z');
    const leaseMs = t.nudge.config.timerLeaseMs;
    const shard = shardOf(tenantId, t.nudge.timerIndex.shardCount);
    await t.setClock('2025-01-21T09:59:59.999Z');

    const crashedClaim: ClaimedTimer[] = await t.nudge.timerIndex.claimDue(
      shard,
      dueMs,
      100,
      leaseMs,
    );
    const ours = crashedClaim.filter((c) => c.dueAtMs === dueMs);
    expect(ours.length).toBeGreaterThanOrEqual(1);
    await expectSentCount(t, secret, 'cust-23005', email, 1);

    await t.setClock(new Date(dueMs + leaseMs + 1_000).toISOString());
    const [, second] = await expectSentCount(t, secret, 'cust-23005', email, 2);
    expect(second.status).toBe('SENT');
    expect(isoOf(second.scheduledFor)).toBe(isoOf(new Date(dueMs).toISOString()));
    expect(Date.parse(second.sentAt!)).toBeGreaterThanOrEqual(dueMs);
    expect(Date.parse(second.sentAt!)).toBeLessThanOrEqual(dueMs + leaseMs + 1_000);

    await t.nudge.timerIndex.schedule(
      ours.map((c) => ({ timerId: c.timerId, tenantId, dueAtMs: c.dueAtMs })),
    );
    await t.setClock(new Date(dueMs + 2 * leaseMs + 2_000).toISOString());
    await t.setClock('2025-01-25T00:00:00.000Z');
    await expectSentCount(t, secret, 'cust-23005', email, 2);
  });
});

/**
 * C23 item 3: the enrollment, its state and its timer row commit in one PostgreSQL
 * transaction, and the Redis index entry is added after the commit. A crash between the two
 * leaves a pending timer that no index knows; start-up reconciliation must restore it at its
 * original due time, so it fires then, not "immediately" at restart.
 */
describeWithRedis('C23 a step timer lost between commit and enqueue, then a restart', () => {
  let smtp: SmtpSink;
  let redis: RedisClient;
  let pg: Client;
  const running = new Set<TestNudge>();
  const prefixes: string[] = [];

  beforeAll(async () => {
    smtp = new SmtpSink();
    await smtp.start();
    redis = createClient({ url: process.env.NUDGE_TEST_REDIS_URL });
    await redis.connect();
    pg = new Client({ connectionString: process.env.NUDGE_TEST_DATABASE_URL });
    await pg.connect();
  });
  afterEach(async () => {
    for (const t of running) await t.stop();
    running.clear();
  });
  afterAll(async () => {
    for (const prefix of prefixes) await flushPrefix(redis, prefix);
    await redis.quit();
    await pg.end();
    await smtp.stop();
  });

  async function start(prefix: string): Promise<TestNudge> {
    const t = await startTestNudge({ prefix, smtp });
    running.add(t);
    return t;
  }

  it('the restart re-indexes the timer at its original due time; it fires then and not 1 ms early', async () => {
    const prefix = newPrefix();
    prefixes.push(prefix);
    const before = await start(prefix);
    const { tenantId, secret, emails } = await enterJourney(before, [
      { externalId: 'cust-23003', at: '2025-01-20T10:00:00.000Z' },
    ]);
    const email = emails.get('cust-23003')!;
    const dueMs = Date.parse('2025-01-21T10:00:00.000Z');
    const { rows } = await pg.query<{ id: string; due_at: Date }>(
      `SELECT t.id::text AS id, t.due_at FROM timers t
       JOIN enrollments e ON e.tenant_id = t.tenant_id AND e.id = t.enrollment_id
       JOIN customers c ON c.tenant_id = e.tenant_id AND c.id = e.customer_id
       WHERE t.tenant_id = $1 AND c.external_id = $2 AND t.kind = 'STEP' AND t.step_index = 1
         AND t.state = 'PENDING'`,
      [tenantId, 'cust-23003'],
    );
    expect(rows.map((r) => r.due_at.getTime())).toEqual([dueMs]);
    const timerId = rows[0].id;
    const dueKey = timerKeys(prefix, shardOf(tenantId, before.nudge.timerIndex.shardCount)).due;
    expect(await redis.zScore(dueKey, timerId)).toBe(dueMs);

    // The crash: the index never got the entry (removed here), and the process is gone.
    expect(await redis.zRem(dueKey, timerId)).toBe(1);
    running.delete(before);
    await before.stop();
    expect(await redis.zScore(dueKey, timerId)).toBeNull();

    const after = await start(prefix);
    expect(await redis.zScore(dueKey, timerId)).toBe(dueMs);
    await after.setClock('2025-01-21T09:59:59.999Z');
    await expectSentCount(after, secret, 'cust-23003', email, 1);
    await after.setClock('2025-01-21T10:00:00.000Z');
    const [, second] = await expectSentCount(after, secret, 'cust-23003', email, 2);
    expectSentAt(second, '2025-01-21T10:00:00.000Z');
  });
});

/**
 * C23 items 1, 2 and 4 on the real clock, with the worker as its own process: it is SIGKILLed
 * before a step is due and restarted after, while an API-only instance (no timer loop) stays
 * up. The overdue step goes out once, after the restart, and its lateness (sentAt -
 * scheduledFor) is on the message; a step due after the restart waits for its own time; an
 * idle worker with one pending timer fires it on time.
 */
describeWithRedis('C23 on the system clock, with the only worker process SIGKILLed', () => {
  const prefix = newPrefix();
  const receiver = new WebhookReceiver();
  const workers: NudgeProcess[] = [];
  let api: TestNudge;
  let pg: Client;
  let redis: RedisClient;

  const HOOK_JOURNEY = {
    name: 'c23-hooks',
    event: 'signed_up',
    steps: [
      { channel: 'WEBHOOK', template: { body: 'step one {{ customer.externalId }}' } },
      { delay: 'PT24H', channel: 'WEBHOOK', template: { body: 'step two' } },
    ],
  };

  beforeAll(async () => {
    await receiver.start();
    pg = new Client({ connectionString: process.env.NUDGE_TEST_DATABASE_URL });
    await pg.connect();
    redis = createClient({ url: process.env.NUDGE_TEST_REDIS_URL });
    await redis.connect();
    api = await startTestNudge({ prefix, env: { NUDGE_ROLE: 'api', NUDGE_CLOCK: 'system' } });
  });
  afterAll(async () => {
    await killAll(workers);
    await api?.stop().catch(() => undefined);
    await receiver.stop();
    if (redis?.isOpen) {
      await flushPrefix(redis, prefix);
      await redis.quit();
    }
    await pg?.end();
  });

  /** Adds the workers' recent warnings, errors and exit status to a failure. */
  async function withDiagnostics<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (err) {
      if (err instanceof Error) {
        err.message += `\n\nworker output:\n${workers.map((w) => w.output()).join('\n')}`;
      }
      throw err;
    }
  }

  async function startWorker(): Promise<NudgeProcess> {
    const worker = spawnNudge(`c23-worker-${workers.length + 1}`, { prefix });
    workers.push(worker);
    await worker.ready(90_000);
    return worker;
  }

  interface StepRow {
    step_index: number;
    status: string;
    scheduled_for: Date;
    sent_at: Date | null;
    key: string;
  }

  async function messagesOf(tenantId: string, externalId: string): Promise<StepRow[]> {
    const { rows } = await pg.query<StepRow>(
      `SELECT m.step_index, m.status, m.scheduled_for, m.sent_at,
              m.tenant_id || ':' || m.enrollment_id || ':' || m.step_index AS key
       FROM messages m JOIN customers c ON c.tenant_id = m.tenant_id AND c.id = m.customer_id
       WHERE m.tenant_id = $1 AND c.external_id = $2 ORDER BY m.step_index`,
      [tenantId, externalId],
    );
    return rows;
  }

  /** Polls until `externalId` has a SENT message for `stepIndex` (or the deadline passes). */
  async function sentStep(
    tenantId: string,
    externalId: string,
    stepIndex: number,
    untilMs: number,
  ) {
    for (;;) {
      const rows = await messagesOf(tenantId, externalId);
      const step = rows.find((r) => r.step_index === stepIndex && r.status === 'SENT');
      if (step || Date.now() > untilMs) return step ?? null;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('killed before a step is due and restarted after it: the step is sent once, on restart, with its lateness on the message; a step due later waits for its time', async () => {
    await withDiagnostics(async () => {
      const worker = await startWorker();
      const { tenantId, secret } = await webhookTenant(api, receiver, 't-c23-system', HOOK_JOURNEY);
      // Entered almost 24 h ago: step 0 is due at once, step 1 in 15 s (cust-23001) and in
      // 45 s (cust-23002, due after the restart below).
      const nowMs = Date.now();
      const due = new Map([
        ['cust-23001', nowMs + 15_000],
        ['cust-23002', nowMs + 45_000],
      ]);
      for (const [externalId, dueMs] of due) {
        await track(api, secret, {
          customerExternalId: externalId,
          event: 'signed_up',
          occurredAt: new Date(dueMs - DAY_MS).toISOString(),
        });
      }
      for (const externalId of due.keys()) {
        expect(await sentStep(tenantId, externalId, 0, Date.now() + 30_000)).not.toBeNull();
      }

      // Every worker dies before cust-23001's step 1 is due, and stays dead until 5 s after.
      await worker.kill('SIGKILL');
      const due1 = due.get('cust-23001')!;
      expect(Date.now()).toBeLessThan(due1);
      await new Promise((resolve) => setTimeout(resolve, due1 + 5_000 - Date.now()));
      expect((await messagesOf(tenantId, 'cust-23001')).map((m) => m.step_index)).toEqual([0]);

      const restartedAtMs = Date.now();
      await startWorker();
      const overdue = await sentStep(tenantId, 'cust-23001', 1, Date.now() + 60_000);
      expect(overdue).not.toBeNull();
      expect(overdue!.scheduled_for.getTime()).toBe(due1);
      expect(overdue!.sent_at!.getTime()).toBeGreaterThanOrEqual(restartedAtMs);
      const latenessMs = overdue!.sent_at!.getTime() - overdue!.scheduled_for.getTime();
      expect(latenessMs).toBeGreaterThanOrEqual(restartedAtMs - due1);

      const due2 = due.get('cust-23002')!;
      const onTime = await sentStep(tenantId, 'cust-23002', 1, due2 + 60_000);
      expect(onTime).not.toBeNull();
      expect(onTime!.scheduled_for.getTime()).toBe(due2);
      expect(onTime!.sent_at!.getTime()).toBeGreaterThanOrEqual(due2);

      for (const externalId of due.keys()) {
        const rows = await messagesOf(tenantId, externalId);
        expect(rows.map((r) => [r.step_index, r.status, receiver.count(r.key)])).toEqual([
          [0, 'SENT', 1],
          [1, 'SENT', 1],
        ]);
      }
      console.info(
        `C23 system clock: step 1 of cust-23001 due ${new Date(due1).toISOString()}, worker ` +
          `restarted ${restartedAtMs - due1} ms after, sent ${latenessMs} ms late; cust-23002 ` +
          `sent ${onTime!.sent_at!.getTime() - due2} ms after its due time ` +
          `(restart was ${due2 - restartedAtMs} ms before it)`,
      );
    });
  }, 240_000);

  it('an idle worker with one pending timer and no other traffic fires it on time (within 5 s)', async () => {
    await withDiagnostics(async () => {
      if (!workers.some((w) => !w.hasExited)) await startWorker();
      const { tenantId, secret } = await webhookTenant(api, receiver, 't-c23-idle', {
        name: 'c23-idle',
        event: 'signed_up',
        steps: [{ delay: 'PT10S', channel: 'WEBHOOK', template: { body: 'only one' } }],
      });
      const occurredAtMs = Date.now();
      await track(api, secret, {
        customerExternalId: 'cust-23004',
        event: 'signed_up',
        occurredAt: new Date(occurredAtMs).toISOString(),
      });
      const dueMs = occurredAtMs + 10_000;
      const sent = await sentStep(tenantId, 'cust-23004', 0, dueMs + 60_000);
      expect(sent).not.toBeNull();
      expect(sent!.scheduled_for.getTime()).toBe(dueMs);
      const latenessMs = sent!.sent_at!.getTime() - dueMs;
      expect(latenessMs).toBeGreaterThanOrEqual(0);
      expect(latenessMs).toBeLessThanOrEqual(5_000);
      expect(receiver.count(sent!.key)).toBe(1);
    });
  }, 180_000);
});

/**
 * C23 item 5: Nudge's timer index and leases live in Redis without a TTL. A server whose
 * `maxmemory-policy` may evict any key (`allkeys-*`) refuses start-up, naming the policy and
 * the fix, unless the operator accepts it with NUDGE_REDIS_ALLOW_EVICTION=true. The policy is
 * changed on the shared test Redis only for the moment of a start (maxmemory is 0 there, so
 * nothing is evicted meanwhile) and always restored.
 */
describeWithRedis('C23 a Redis whose eviction policy may drop keys', () => {
  let admin: RedisClient;
  let smtp: SmtpSink;
  let originalPolicy: string;

  beforeAll(async () => {
    admin = createClient({ url: process.env.NUDGE_TEST_REDIS_URL });
    await admin.connect();
    originalPolicy = (await admin.configGet('maxmemory-policy'))['maxmemory-policy'];
    smtp = new SmtpSink();
    await smtp.start();
  });
  afterAll(async () => {
    await admin.configSet('maxmemory-policy', originalPolicy);
    await admin.quit();
    await smtp.stop();
  });

  async function withPolicy<T>(policy: string, work: () => Promise<T>): Promise<T> {
    await admin.configSet('maxmemory-policy', policy);
    try {
      return await work();
    } finally {
      await admin.configSet('maxmemory-policy', originalPolicy);
    }
  }

  /** A logger that keeps every line, for asserting on warnings. */
  function capturingLogger(lines: Array<Record<string, unknown>>): Logger {
    return pino(
      { level: 'info' },
      { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) },
    );
  }

  /** The configuration startTestNudge would build, plus `extra`. */
  function configWith(prefix: string, extra: Record<string, string>) {
    return loadConfig({
      DATABASE_URL: process.env.NUDGE_TEST_DATABASE_URL,
      REDIS_URL: process.env.NUDGE_TEST_REDIS_URL,
      NUDGE_OPERATOR_TOKEN: OPERATOR_TOKEN,
      NUDGE_CLOCK: 'manual',
      PORT: '0',
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      NUDGE_REDIS_PREFIX: prefix,
      NUDGE_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'nudge-c23-')),
      NUDGE_KEY_PEPPER: 'test-pepper-0123456789',
      ...(process.env.NUDGE_TEST_DB_POOL_SIZE
        ? { NUDGE_DB_POOL_SIZE: process.env.NUDGE_TEST_DB_POOL_SIZE }
        : {}),
      ...extra,
    });
  }

  it.each(['allkeys-lru', 'allkeys-lfu', 'allkeys-random'])(
    'refuses to start under maxmemory-policy %s, naming the policy and the fix',
    async (policy) => {
      let refusal: unknown = null;
      await withPolicy(policy, async () => {
        try {
          const t = await startTestNudge({ prefix: newPrefix(), smtp });
          await t.stop();
        } catch (err) {
          refusal = err;
        }
      });
      expect(refusal).toBeInstanceOf(RedisEvictionPolicyError);
      const message = (refusal as Error).message;
      expect(message).toContain(`redis maxmemory-policy is "${policy}"`);
      expect(message).toContain('set "maxmemory-policy noeviction"');
      expect(message).toContain('NUDGE_REDIS_ALLOW_EVICTION=true');
    },
  );

  it.each(['noeviction', 'volatile-lru', 'volatile-ttl'])(
    'starts under maxmemory-policy %s: Nudge sets no TTL, so none of its keys can be evicted',
    async (policy) => {
      await withPolicy(policy, async () => {
        const t = await startTestNudge({ prefix: newPrefix(), smtp });
        await t.stop();
      });
    },
  );

  it('starts under allkeys-lru with NUDGE_REDIS_ALLOW_EVICTION=true, and says so in a warn line', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const config = configWith(newPrefix(), { NUDGE_REDIS_ALLOW_EVICTION: 'true' });
    expect(config.redisAllowEviction).toBe(true);
    // startNudge must pass `{ allowEviction: config.redisAllowEviction, log }` to connectRedis.
    const nudge = await withPolicy('allkeys-lru', () =>
      startNudge(config, { log: capturingLogger(lines) }),
    );
    await nudge.stop();
    const warnings = lines.filter((l) => l.code === 'REDIS_EVICTION_ALLOWED');
    expect(warnings.map((l) => [l.level, l.policy])).toEqual([[40, 'allkeys-lru']]);
  });

  it('connectRedis: the override lets an evicting Redis through with one warn line', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const log = capturingLogger(lines);
    const url = process.env.NUDGE_TEST_REDIS_URL!;
    const client = await withPolicy('allkeys-lru', async () => {
      await expect(connectRedis(url, () => undefined, { log })).rejects.toThrow(
        RedisEvictionPolicyError,
      );
      return connectRedis(url, () => undefined, { allowEviction: true, log });
    });
    try {
      expect(await client.ping()).toBe('PONG');
    } finally {
      client.destroy();
    }
    expect(lines.map((l) => [l.level, l.code, l.policy])).toEqual([
      [40, 'REDIS_EVICTION_ALLOWED', 'allkeys-lru'],
    ]);
  });

  it('connectRedis: a Redis that refuses CONFIG GET (managed Redis) gets a warn line and is used', async () => {
    const user = `nudge-c23-${randomBytes(4).toString('hex')}`;
    await admin.aclSetUser(user, ['on', 'nopass', '~*', '&*', '+@all', '-config']);
    const lines: Array<Record<string, unknown>> = [];
    try {
      const url = new URL(process.env.NUDGE_TEST_REDIS_URL!);
      url.username = user;
      url.password = 'unused';
      const client = await connectRedis(url.toString(), () => undefined, {
        log: capturingLogger(lines),
      });
      try {
        expect(await client.ping()).toBe('PONG');
      } finally {
        client.destroy();
      }
    } finally {
      await admin.aclDelUser(user);
    }
    expect(lines.map((l) => [l.level, l.code])).toEqual([[40, 'REDIS_CONFIG_UNREADABLE']]);
  });

  it('NUDGE_REDIS_ALLOW_EVICTION is true or false (default false); anything else stops start-up', () => {
    expect(configWith('p', {}).redisAllowEviction).toBe(false);
    expect(configWith('p', { NUDGE_REDIS_ALLOW_EVICTION: 'false' }).redisAllowEviction).toBe(false);
    expect(() => configWith('p', { NUDGE_REDIS_ALLOW_EVICTION: 'yes' })).toThrow(
      'NUDGE_REDIS_ALLOW_EVICTION: expected true or false',
    );
  });
});
