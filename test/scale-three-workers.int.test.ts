import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { timerKeys } from '../src/engine/timers/timer-keys';
import { describeWithRedis, startTestNudge, type TestNudge } from './support/harness';
import { killAll, spawnNudge, type NudgeProcess } from './support/nudge-process';
import {
  connectTestRedis,
  deleteKeysWithPrefix,
  type RedisClient,
} from './support/timer-index-probe';
import { WebhookReceiver, webhookTenant } from './support/webhook-receiver';

/**
 * Three worker processes (`src/main.ts`, NUDGE_ROLE=worker) share one PostgreSQL and one Redis
 * prefix and work through 20,000 due timers; one of them is SIGKILLed mid-run. Every step must
 * be recorded once and reach the receiver at most once, and the dead worker's leased timers
 * must be taken over by the other two.
 *
 * The one accepted gap (README "Deliveries"): a message is recorded QUEUED before the provider
 * call, so a worker killed between its commit and the status update leaves that message QUEUED
 * (never sent twice). Such rows may only come from the killed worker, and at most as many as it
 * could have had in flight for one tenant.
 */
/** Due timers to work through; NUDGE_TEST_SCALE_TIMERS lowers it for a quick local run. */
const TOTAL = Number(process.env.NUDGE_TEST_SCALE_TIMERS ?? 20_000);
const BATCH = 1_000;
const WORKERS = 3;
const LEASE_MS = 2_000;
/** Deliveries in flight per tenant and worker process, set on the workers below. */
const IN_FLIGHT_PER_TENANT = 4;
const SHARDS = 4;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWithRedis(`three worker processes, ${TOTAL} due timers, one worker SIGKILLed`, () => {
  const prefix = `s3w-${randomBytes(4).toString('hex')}`;
  const workers: NudgeProcess[] = [];
  const receiver = new WebhookReceiver();
  let api: TestNudge;
  let pg: Client;
  let redis: RedisClient;
  /** Undone in afterAll even when the test fails half-way (a MONITOR connection, a poller). */
  const cleanups: Array<() => void> = [];

  /** Adds every worker's recent warnings, errors and exit status to a failure. */
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

  beforeAll(async () => {
    await receiver.start();
    pg = new Client({ connectionString: process.env.NUDGE_TEST_DATABASE_URL });
    await pg.connect();
    redis = await connectTestRedis();
    api = await startTestNudge({ prefix, env: { NUDGE_ROLE: 'api', NUDGE_CLOCK: 'system' } });
    for (let i = 0; i < WORKERS; i++) {
      workers.push(
        spawnNudge(`worker-${i + 1}`, {
          prefix,
          role: 'worker',
          env: {
            NUDGE_TIMER_LEASE_MS: String(LEASE_MS),
            NUDGE_TIMER_SHARDS: String(SHARDS),
            NUDGE_DELIVERY_PER_TENANT: String(IN_FLIGHT_PER_TENANT),
          },
        }),
      );
    }
    await withDiagnostics(() => Promise.all(workers.map((w) => w.ready(90_000))));
  }, 120_000);

  afterAll(async () => {
    for (const cleanup of cleanups) cleanup();
    await killAll(workers);
    await api?.stop().catch(() => undefined);
    await receiver.stop();
    if (redis?.isOpen) {
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
    }
    await pg?.end();
  });

  async function count(sql: string, params: unknown[]): Promise<number> {
    const { rows } = await pg.query<{ n: string }>(sql, params);
    return Number(rows[0].n);
  }

  async function timerStates(tenantId: string): Promise<Record<string, number>> {
    const { rows } = await pg.query<{ state: string; n: string }>(
      // Step timers; DELIVERY watchdogs of messages the victim left unsent wait their 5 min.
      `SELECT state, count(*) AS n FROM timers WHERE tenant_id = $1 AND kind = 'STEP'
       GROUP BY state`,
      [tenantId],
    );
    return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
  }

  /** Every leased timer id with its lease expiry, across shards. */
  async function leases(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (let shard = 0; shard < SHARDS; shard++) {
      for (const { value, score } of await redis.zRangeWithScores(
        timerKeys(prefix, shard).lease,
        0,
        -1,
      )) {
        out.set(value, score);
      }
    }
    return out;
  }

  it(
    'records and delivers each step once while one of three workers dies',
    async () => {
      await withDiagnostics(async () => {
        const [victim, ...survivors] = workers;
        const { tenantId, secret } = await webhookTenant(api, receiver, 'scale-three-workers', {
          name: 'scale ping',
          event: 'scale_ping',
          steps: [
            {
              delay: 'PT15S',
              channel: 'WEBHOOK',
              template: { body: 'ping {{ customer.externalId }}' },
            },
          ],
        });

        // Timers seen leased under two different claims (an expired lease, a re-indexed timer).
        const leaseScoreOf = new Map<string, number>();
        const leasedAgain = new Set<string>();
        let watching = true;
        cleanups.push(() => (watching = false));
        const watcher = (async () => {
          while (watching && redis.isOpen) {
            const current = await leases().catch(() => new Map<string, number>());
            for (const [id, score] of current) {
              const before = leaseScoreOf.get(id);
              if (before !== undefined && before !== score) leasedAgain.add(id);
              leaseScoreOf.set(id, score);
            }
            await sleep(50);
          }
        })();

        let sweepReindexed = 0;
        for (const worker of workers) {
          worker.onLog((entry) => {
            if (entry.msg === 'overdue timers re-indexed from PostgreSQL') {
              sweepReindexed += Number(entry.count ?? 0);
            }
          });
        }

        // 1,000 events per trackBatch, two calls at a time, each event entering one run whose
        // only step is due 15 s after an occurredAt spread over the 10 s before the call: due
        // times are random, and the first ones fall due while later batches are still coming in.
        const ingestStartedMs = Date.now();
        const sendBatch = async (first: number) => {
          const nowMs = Date.now();
          const size = Math.min(BATCH, TOTAL - first);
          const events = Array.from({ length: size }, (_, i) => ({
            customerExternalId: `scale-${first + i}`,
            event: 'scale_ping',
            occurredAt: new Date(nowMs - Math.floor(Math.random() * 10_000)).toISOString(),
            messageId: `scale-${first + i}`,
          }));
          const data = await api.ok<any>(
            secret,
            `mutation($e: [TrackInput!]!) {
             trackBatch(events: $e) { accepted duplicates rejected { index message } }
           }`,
            { e: events },
          );
          expect(data.trackBatch).toEqual({ accepted: size, duplicates: 0, rejected: [] });
        };
        for (let first = 0; first < TOTAL; first += 2 * BATCH) {
          await Promise.all([
            sendBatch(first),
            ...(first + BATCH < TOTAL ? [sendBatch(first + BATCH)] : []),
          ]);
        }
        const ingestMs = Date.now() - ingestStartedMs;
        expect(
          await count(`SELECT count(*) AS n FROM timers WHERE tenant_id = $1 AND kind = 'STEP'`, [
            tenantId,
          ]),
        ).toBe(TOTAL);

        // SIGKILL one worker while all three deliver and it holds leased timers it has not fired.
        // Who holds which lease: one claim (a Lua call) leases its timers with one score, the
        // lease expiry, which MONITOR shows as the call's last argument next to the caller's
        // address, and the victim's Redis connections are known by their local ports.
        const victimPorts = await victim.localTcpPorts();
        const claimPortOfScore = new Map<number, number>();
        const monitor = redis.duplicate();
        await monitor.connect();
        cleanups.push(() => monitor.destroy());
        await monitor.monitor((line: string) => {
          if (!line.includes('Claims due') || !line.includes(`"${prefix}:timers:`)) return;
          const port = /^\S+ \[\d+ [^\]]*:(\d+)\]/.exec(line)?.[1];
          const leaseUntil = /"(\d+)"$/.exec(line)?.[1];
          if (port && leaseUntil) claimPortOfScore.set(Number(leaseUntil), Number(port));
        });
        const victimLeasesIn = (current: Map<string, number>) =>
          [...current]
            .filter(([, score]) => victimPorts.has(claimPortOfScore.get(score) ?? -1))
            .map(([id]) => id);
        const messagesOf = () =>
          count('SELECT count(*) AS n FROM messages WHERE tenant_id = $1', [tenantId]);
        const busyDeadline = Date.now() + 120_000;
        for (;;) {
          const delivered = workers.map((w) => w.messageCounts.get('step delivered') ?? 0);
          const victimLeased = victimLeasesIn(await leases()).length;
          const messages = await messagesOf();
          if (delivered.every((n) => n >= 20) && victimLeased > 0 && messages >= TOTAL / 10) {
            break;
          }
          if (Date.now() > busyDeadline) {
            throw new Error(
              `workers never all got busy: delivered ${delivered.join(', ')}, messages ` +
                `${messages}, timers leased by the victim ${victimLeased} ` +
                `(its Redis ports ${[...victimPorts].join(', ')}, claims seen ` +
                `${claimPortOfScore.size})`,
            );
          }
          await sleep(10);
        }
        await victim.kill('SIGKILL');
        const killedAtMs = Date.now();
        const leasedAtKill = await leases();
        watching = false;
        await watcher;
        monitor.destroy();
        const victimLeased = victimLeasesIn(leasedAtKill);
        // Held = leased by the victim and not yet fired when it died (its open transaction, if
        // any, rolled back with its connections).
        const { rows: heldRows } = await pg.query<{ id: string }>(
          `SELECT id::text AS id FROM timers
         WHERE tenant_id = $1 AND id = ANY($2::bigint[])
           AND (state = 'PENDING' OR fired_at >= $3)`,
          [tenantId, victimLeased, new Date(killedAtMs)],
        );
        const victimHeld = heldRows.map((r) => r.id);
        const messagesAtKill = await messagesOf();
        const victimDelivered = victim.messageCounts.get('step delivered') ?? 0;

        // The two survivors finish: nothing of the tenant pending, and every delivery settled.
        const finishDeadline = Date.now() + 60_000 + TOTAL * 40;
        while ((await timerStates(tenantId)).PENDING) {
          if (Date.now() > finishDeadline) {
            throw new Error(`timers still pending: ${JSON.stringify(await timerStates(tenantId))}`);
          }
          await sleep(500);
        }
        const queuedOf = () =>
          count(`SELECT count(*) AS n FROM messages WHERE tenant_id = $1 AND status = 'QUEUED'`, [
            tenantId,
          ]);
        let stable = 0;
        let lastQueued = -1;
        const settleDeadline = Date.now() + 30_000;
        while (stable < 6 && Date.now() < settleDeadline) {
          const queued = await queuedOf();
          stable = queued === lastQueued ? stable + 1 : 0;
          lastQueued = queued;
          await sleep(250);
        }
        const doneMs = Date.now();

        // PostgreSQL, as the owner (system queries bypass row-level security).
        expect(await timerStates(tenantId)).toEqual({ DONE: TOTAL });
        const { rows: shape } = await pg.query<Record<string, string>>(
          `SELECT count(*) AS messages,
                count(DISTINCT (m.enrollment_id, m.step_index)) AS steps,
                count(*) FILTER (WHERE m.step_index <> 0) AS other_steps,
                count(*) FILTER (WHERE m.status NOT IN ('SENT', 'QUEUED', 'SENDING')) AS not_sent,
                count(*) FILTER (WHERE m.status IN ('QUEUED', 'SENDING') AND NOT EXISTS (
                  SELECT 1 FROM timers w WHERE w.tenant_id = m.tenant_id
                    AND w.enrollment_id = m.enrollment_id AND w.kind = 'DELIVERY'
                    AND w.step_index = m.step_index AND w.state = 'PENDING')) AS unwatched,
                (SELECT count(*) FROM enrollments e WHERE e.tenant_id = $1) AS enrollments,
                (SELECT count(*) FROM enrollments e
                  WHERE e.tenant_id = $1 AND e.state = 'COMPLETED') AS completed,
                (SELECT count(*) FROM timers t WHERE t.tenant_id = $1 AND t.kind = 'STEP') AS timers
         FROM messages m WHERE m.tenant_id = $1`,
          [tenantId],
        );
        expect(
          Object.fromEntries(Object.entries(shape[0]).map(([k, v]) => [k, Number(v)])),
        ).toEqual({
          messages: TOTAL,
          steps: TOTAL,
          other_steps: 0,
          not_sent: 0,
          // Every message the victim left unsent has a pending watchdog: none is lost.
          unwatched: 0,
          enrollments: TOTAL,
          completed: TOTAL,
          timers: TOTAL,
        });

        // The receiver: no step twice, nothing unknown, every SENT step exactly once.
        const { rows: messages } = await pg.query<{
          key: string;
          status: string;
          created_at: Date;
          timer_id: string;
        }>(
          `SELECT m.tenant_id || ':' || m.enrollment_id || ':' || m.step_index AS key, m.status,
                m.created_at, t.id::text AS timer_id
         FROM messages m
         JOIN timers t ON t.tenant_id = m.tenant_id AND t.enrollment_id = m.enrollment_id
           AND t.kind = 'STEP' AND t.step_index = m.step_index
         WHERE m.tenant_id = $1`,
          [tenantId],
        );
        expect(messages).toHaveLength(TOTAL);
        const received = receiver.countsWithPrefix(`${tenantId}:`);
        expect([...received].filter(([, n]) => n > 1)).toEqual([]);
        const keys = new Set(messages.map((m) => m.key));
        expect([...received.keys()].filter((k) => !keys.has(k))).toEqual([]);
        expect(messages.filter((m) => m.status === 'SENT' && !received.has(m.key))).toEqual([]);

        // The victim's leased timers were taken over: each fired once, and its message was
        // delivered once, by a survivor (the victim was dead before any of them committed; a
        // survivor may have started on one already, having claimed it too after a sweep).
        expect(victimHeld.length).toBeGreaterThan(0);
        const byTimer = new Map(messages.map((m) => [m.timer_id, m]));
        const takenOver = victimHeld.map((id) => byTimer.get(id)!);
        expect(takenOver.filter((m) => m.status !== 'SENT' || received.get(m.key) !== 1)).toEqual(
          [],
        );

        // Rows left QUEUED or SENDING: only the killed worker's (recorded before it died), no
        // more than it could have had in flight for this tenant, each under a watchdog (above).
        const queued = messages.filter((m) => m.status === 'QUEUED' || m.status === 'SENDING');
        expect(queued.filter((m) => m.created_at.getTime() >= killedAtMs)).toEqual([]);
        const queuedButReceived = queued.filter((m) => received.has(m.key)).length;
        console.info(
          `scale-three-workers ${JSON.stringify({
            timers: TOTAL,
            leaseMs: LEASE_MS,
            ingestMs,
            messagesAtKill,
            victimDelivered,
            survivorsDelivered: survivors.map((w) => w.messageCounts.get('step delivered') ?? 0),
            leasedAtKill: leasedAtKill.size,
            victimLeasedAtKill: victimLeased.length,
            victimHeldUnfired: victimHeld.length,
            seenLeasedTwice: leasedAgain.size,
            sweepReindexed,
            queued: queued.length,
            queuedButReceived,
            received: received.size,
            afterKillMs: doneMs - killedAtMs,
          })}`,
        );
        expect(queued.length).toBeLessThanOrEqual(IN_FLIGHT_PER_TENANT);
        expect(survivors.every((w) => !w.hasExited)).toBe(true);
      });
    },
    300_000 + TOTAL * 60,
  );
});
