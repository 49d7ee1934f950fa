import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { SmtpSink } from '../scripts/lib/smtp-sink';
import { shardOf, type ClaimedTimer } from '../src/engine/timers/timer-index';
import { describeWithRedis, startTestNudge, TestNudge } from './support/harness';
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
