import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { describeWithRedis, startTestNudge, type TestNudge } from './support/harness';
import {
  connectTestRedis,
  deleteKeysWithPrefix,
  dueScores,
  type RedisClient,
} from './support/timer-index-probe';
import { WebhookReceiver, webhookTenant } from './support/webhook-receiver';

/**
 * The Redis timer index loses everything (FLUSHDB, or a Redis without persistence that
 * restarted) while 1,000 timers are pending. PostgreSQL holds every pending timer, so each one
 * must still fire exactly once, and at its own due time: never early, never as "due now".
 *
 * "FLUSHDB" here deletes every key of this suite's prefix only: other suites may share the
 * Redis, and a deployment's keys are exactly its prefix's.
 */
const COUNT = 1_000;
const MINUTE = 60_000;

const iso = (ms: number) => new Date(ms).toISOString();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWithRedis('the Redis timer index flushed while 1,000 timers are pending', () => {
  const receiver = new WebhookReceiver();
  const running = new Set<TestNudge>();
  const prefixes: string[] = [];
  let redis: RedisClient;
  let pg: Client;

  beforeAll(async () => {
    await receiver.start();
    redis = await connectTestRedis();
    pg = new Client({ connectionString: process.env.NUDGE_TEST_DATABASE_URL });
    await pg.connect();
  });
  afterEach(async () => {
    for (const t of running) await t.stop();
    running.clear();
  });
  afterAll(async () => {
    for (const prefix of prefixes) await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    await pg.end();
    await receiver.stop();
  });

  function newPrefix(): string {
    const prefix = `flush-${randomBytes(4).toString('hex')}`;
    prefixes.push(prefix);
    return prefix;
  }

  async function start(prefix: string, env: Record<string, string> = {}): Promise<TestNudge> {
    const t = await startTestNudge({ prefix, env });
    running.add(t);
    return t;
  }

  async function stop(t: TestNudge): Promise<void> {
    running.delete(t);
    await t.stop();
  }

  /** A tenant whose trigger sends one WEBHOOK `delay` after each `flush_ping`. */
  function tenantWithDelayedHook(t: TestNudge, name: string, delay: string) {
    return webhookTenant(t, receiver, name, {
      name: 'delayed hook',
      event: 'flush_ping',
      steps: [{ delay, channel: 'WEBHOOK', template: { body: 'due {{ customer.externalId }}' } }],
    });
  }

  /**
   * 1,000 customers each send `flush_ping` once, at random instants of the `spreadMs` before
   * `atMs`, in one trackBatch. Returns each customer's due time, computed here from the input.
   */
  async function enterAll(
    t: TestNudge,
    secret: string,
    atMs: number,
    spreadMs: number,
    delayMs: number,
  ): Promise<Map<string, number>> {
    const due = new Map<string, number>();
    const events = Array.from({ length: COUNT }, (_, i) => {
      const occurredAtMs = atMs - Math.floor(Math.random() * spreadMs);
      due.set(`flush-${i}`, occurredAtMs + delayMs);
      return {
        customerExternalId: `flush-${i}`,
        event: 'flush_ping',
        occurredAt: iso(occurredAtMs),
        messageId: `flush-${i}`,
      };
    });
    const data = await t.ok<any>(
      secret,
      `mutation($e: [TrackInput!]!) { trackBatch(events: $e) { accepted rejected { message } } }`,
      { e: events },
    );
    expect(data.trackBatch).toEqual({ accepted: COUNT, rejected: [] });
    return due;
  }

  async function pendingTimers(tenantId: string): Promise<Array<{ id: string; dueMs: number }>> {
    const { rows } = await pg.query<{ id: string; due_at: Date }>(
      `SELECT id::text AS id, due_at FROM timers
       WHERE tenant_id = $1 AND state = 'PENDING' AND kind = 'STEP'`,
      [tenantId],
    );
    return rows.map((r) => ({ id: r.id, dueMs: r.due_at.getTime() }));
  }

  async function messageCount(tenantId: string, status: string | null = null): Promise<number> {
    const { rows } = await pg.query<{ n: string }>(
      'SELECT count(*) AS n FROM messages WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2)',
      [tenantId, status],
    );
    return Number(rows[0].n);
  }

  /** Deletes the deployment's keys and proves the tenant's timers are gone from the index. */
  async function flush(prefix: string, tenantId: string): Promise<void> {
    const pending = await pendingTimers(tenantId);
    expect(pending).toHaveLength(COUNT);
    expect(await deleteKeysWithPrefix(redis, prefix)).toBeGreaterThan(0);
    const left = await dueScores(
      redis,
      prefix,
      tenantId,
      pending.map((p) => p.id),
    );
    expect(left.filter((score) => score !== null)).toEqual([]);
  }

  /**
   * Every customer got exactly one message, scheduled for its own due time and sent then
   * (`exact`) or later, every timer is DONE, and the receiver saw each step exactly once.
   * Returns the lateness (sentAt - scheduledFor) of each message.
   */
  async function expectEachFiredOnce(
    tenantId: string,
    due: Map<string, number>,
    exact: boolean,
  ): Promise<number[]> {
    const { rows: timers } = await pg.query<{ state: string; n: string }>(
      `SELECT kind || ':' || state AS state, count(*) AS n FROM timers WHERE tenant_id = $1
       GROUP BY 1`,
      [tenantId],
    );
    // Each step fired once, and each message's delivery watchdog was stood down by its send.
    expect(Object.fromEntries(timers.map((r) => [r.state, Number(r.n)]))).toEqual({
      'STEP:DONE': COUNT,
      'DELIVERY:DONE': COUNT,
    });
    const { rows } = await pg.query<{
      external_id: string;
      status: string;
      scheduled_for: Date;
      sent_at: Date | null;
      key: string;
    }>(
      `SELECT c.external_id, m.status, m.scheduled_for, m.sent_at,
              m.tenant_id || ':' || m.enrollment_id || ':' || m.step_index AS key
       FROM messages m JOIN customers c ON c.id = m.customer_id
       WHERE m.tenant_id = $1`,
      [tenantId],
    );
    expect(rows).toHaveLength(COUNT);
    expect(new Set(rows.map((r) => r.external_id)).size).toBe(COUNT);
    const wrong = rows.filter((r) => {
      const scheduledMs = r.scheduled_for.getTime();
      const sentMs = r.sent_at?.getTime() ?? Number.NaN;
      return (
        r.status !== 'SENT' ||
        scheduledMs !== due.get(r.external_id) ||
        !(exact ? sentMs === scheduledMs : sentMs >= scheduledMs)
      );
    });
    expect(wrong).toEqual([]);
    const received = receiver.countsWithPrefix(`${tenantId}:`);
    expect(received.size).toBe(COUNT);
    expect(rows.filter((r) => received.get(r.key) !== 1)).toEqual([]);
    return rows.map((r) => r.sent_at!.getTime() - r.scheduled_for.getTime());
  }

  it('flushed while the service runs: each timer fires once, at its due time, and none early', async () => {
    const prefix = newPrefix();
    const t = await start(prefix);
    const { tenantId, secret } = await tenantWithDelayedHook(t, 'flush-running', 'PT1H');
    const t0 = Date.parse('2024-03-04T08:00:00.000Z');
    await t.setClock(iso(t0));
    const due = await enterAll(t, secret, t0, 10 * MINUTE, 60 * MINUTE);

    const indexed = await pendingTimers(tenantId);
    const scores = await dueScores(
      redis,
      prefix,
      tenantId,
      indexed.map((p) => p.id),
    );
    expect(scores).toEqual(indexed.map((p) => p.dueMs));
    await flush(prefix, tenantId);

    const dueTimes = [...due.values()].sort((a, b) => a - b);
    const [earliest, latest] = [dueTimes[0], dueTimes[dueTimes.length - 1]];
    await t.setClock(iso(earliest - 1));
    expect(await messageCount(tenantId)).toBe(0);
    const middle = dueTimes[COUNT / 2];
    await t.setClock(iso(middle));
    expect(await messageCount(tenantId)).toBe(dueTimes.filter((ms) => ms <= middle).length);
    await t.setClock(iso(latest));

    const lateness = await expectEachFiredOnce(tenantId, due, true);
    expect(Math.max(...lateness)).toBe(0);
  }, 180_000);

  it('flushed while the service is down: the restarted service fires each timer once, at its due time', async () => {
    const prefix = newPrefix();
    const before = await start(prefix);
    const { tenantId, secret } = await tenantWithDelayedHook(before, 'flush-restart', 'PT2H');
    const t0 = Date.parse('2024-03-05T08:00:00.000Z');
    await before.setClock(iso(t0));
    const due = await enterAll(before, secret, t0, 30 * MINUTE, 120 * MINUTE);
    await stop(before);
    await flush(prefix, tenantId);

    // Start-up rebuilds the index from PostgreSQL, with the original due times.
    const after = await start(prefix);
    const pending = await pendingTimers(tenantId);
    expect(pending).toHaveLength(COUNT);
    expect(
      await dueScores(
        redis,
        prefix,
        tenantId,
        pending.map((p) => p.id),
      ),
    ).toEqual(pending.map((p) => p.dueMs));

    const dueTimes = [...due.values()].sort((a, b) => a - b);
    await after.setClock(iso(dueTimes[0] - 1));
    expect(await messageCount(tenantId)).toBe(0);
    await after.setClock(iso(dueTimes[COUNT - 1]));

    const lateness = await expectEachFiredOnce(tenantId, due, true);
    expect(Math.max(...lateness)).toBe(0);
  }, 180_000);

  it('on the system clock, the periodic sweep restores a flushed index: each timer fires once, never early', async () => {
    const prefix = newPrefix();
    const t = await start(prefix, { NUDGE_CLOCK: 'system', NUDGE_TIMER_POLL_MS: '20' });
    const { tenantId, secret } = await tenantWithDelayedHook(t, 'flush-system', 'PT30S');
    // Due 25-30 s from now: time enough to enter and flush before any is due.
    const due = await enterAll(t, secret, Date.now(), 5_000, 30_000);
    await flush(prefix, tenantId);
    expect(await messageCount(tenantId)).toBe(0);

    // Nothing but the sweep (every 10 s, for timers overdue by more than 1 s) can bring the
    // timers back into the index.
    const latestDue = Math.max(...due.values());
    const deadline = latestDue + 90_000;
    while ((await messageCount(tenantId, 'SENT')) < COUNT && Date.now() < deadline) {
      await sleep(250);
    }

    const lateness = await expectEachFiredOnce(tenantId, due, false);
    console.info(
      `redis-flush system clock: lateness after the flush min ${Math.min(...lateness)} ms, ` +
        `max ${Math.max(...lateness)} ms`,
    );
  }, 180_000);
});
