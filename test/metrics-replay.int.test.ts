import { randomBytes } from 'node:crypto';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { Database } from '../src/platform/database';
import { DEFAULT_REPLAY_FILE, runThreeStepReplay } from '../scripts/replay';
import { failedMetricsChecks, type MetricsFigures } from '../scripts/lib/three-step-metrics';
import type { ThreeStepSummary } from '../scripts/lib/three-step-summary';
import { OPERATOR_TOKEN, describeWithRedis } from './support/harness';
import { COUNTS_FIELDS, expectedTotals, recountFromRawTables } from './support/metrics-recount';
import { killAll, spawnNudge, type NudgeProcess } from './support/nudge-process';

/**
 * Issue #5: after a replay of the real RetailRocket sample through the three-step flow
 * (email, SMS, push to local peers), `triggerMetrics` equals a recount from the raw tables —
 * also when a second worker process that did much of the work is SIGKILLed mid-run, its
 * transactions cut off wherever they were. A `metricsUpdated` subscriber watching the replay
 * sees the funnel advance and ends on the same totals.
 */
const REPLAY_TIMEOUT_MS = 600_000;
/** The clock move during which the second worker dies (of about 870). */
const KILL_AT_MOVE = 300;

function replayEnv(prefix: string, operatorToken: string): NodeJS.ProcessEnv {
  return {
    DATABASE_URL: process.env.NUDGE_TEST_DATABASE_URL,
    REDIS_URL: process.env.NUDGE_TEST_REDIS_URL,
    NUDGE_OPERATOR_TOKEN: operatorToken,
    NUDGE_REDIS_PREFIX: prefix,
    LOG_LEVEL: process.env.NUDGE_TEST_LOG_LEVEL ?? 'silent',
  };
}

describeWithRedis('#5 metrics after the three-step replay of the real sample', () => {
  let db: Database;
  const workers: NudgeProcess[] = [];

  beforeAll(async () => {
    db = await Database.connect({ url: process.env.NUDGE_TEST_DATABASE_URL!, poolSize: 2 });
  });
  afterAll(async () => {
    await killAll(workers);
    await db.close();
  });

  /** triggerMetrics (read by the replay through the API) against a recount of the rows. */
  async function expectMetricsEqualRecount(summary: ThreeStepSummary): Promise<void> {
    const m: MetricsFigures = summary.metrics;
    const recount = await recountFromRawTables(
      db,
      summary.tenantId,
      summary.triggerId,
      new Date(m.from),
      new Date(m.to),
    );
    expect(m.totals).toEqual(expectedTotals(recount));
    expect(
      m.steps.map((s) => ({
        step: s.step,
        channel: s.channel,
        variant: s.variant,
        sent: s.counts.sent,
        opened: s.counts.opened,
        failed: s.counts.failed,
        suppressed: s.counts.suppressed,
        conversions: s.counts.conversions,
      })),
    ).toEqual(recount.steps);
    // And the replay's own count from messages, decisions and enrollments agrees.
    expect(failedMetricsChecks(summary)).toEqual([]);
  }

  it(
    'triggerMetrics equals a recount from the raw tables and the replay’s own figures; a live subscriber sees the funnel advance to the same totals',
    async () => {
      const updates: Array<{ totals: Record<string, any>; change: Record<string, any> }> = [];
      let client: Client | null = null;
      let lastTotals: unknown = null;
      const summary = await runThreeStepReplay({
        file: DEFAULT_REPLAY_FILE,
        env: replayEnv(`mr${randomBytes(4).toString('hex')}`, randomBytes(16).toString('hex')),
        onTenantReady: async ({ url, secret, triggerId }) => {
          client = createClient({
            url: url.replace(/^http/, 'ws'),
            webSocketImpl: WebSocket,
            connectionParams: { authorization: `Bearer ${secret}` },
            retryAttempts: 0,
          });
          await new Promise<void>((resolve, reject) => {
            client!.subscribe<{ metricsUpdated: (typeof updates)[number] }>(
              {
                query: `subscription($id: ID!) { metricsUpdated(triggerId: $id) {
                  totals { ${COUNTS_FIELDS} } change { ${COUNTS_FIELDS} } } }`,
                variables: { id: triggerId },
              },
              {
                next: (result) => {
                  if (result.data) updates.push(result.data.metricsUpdated);
                  resolve();
                },
                error: reject,
                complete: () => undefined,
              },
            );
          });
        },
        beforeStop: async ({ summary: live }) => {
          // The last coalesced update lands within about a second of the last change.
          for (let i = 0; i < 50; i++) {
            lastTotals = updates[updates.length - 1]?.totals ?? null;
            if (JSON.stringify(lastTotals) === JSON.stringify(live.metrics.totals)) break;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
          await client?.dispose();
        },
      });
      expect(summary.isMatch).toBe(true);
      await expectMetricsEqualRecount(summary);
      expect(summary.metrics.totals).toMatchObject({ eligible: 261, entries: 236 });
      expect(summary.metrics.totals.sent).toBe(231);
      expect(summary.metrics.totals.conversions).toBe(41);

      // The subscriber: a snapshot of nothing, then the funnel moving forward, then the end.
      expect(updates[0].totals).toMatchObject({ eligible: 0, entries: 0, sent: 0 });
      expect(updates.length).toBeGreaterThan(5);
      for (let i = 1; i < updates.length; i++) {
        for (const name of ['eligible', 'entries', 'sent', 'opened', 'conversions']) {
          expect(updates[i].totals[name]).toBeGreaterThanOrEqual(updates[i - 1].totals[name]);
          expect(updates[i].change[name]).toBe(
            updates[i].totals[name] - updates[i - 1].totals[name],
          );
        }
      }
      expect(lastTotals).toEqual(summary.metrics.totals);
    },
    REPLAY_TIMEOUT_MS,
  );

  it(
    'still equal when a second worker that fires most timers is SIGKILLed mid-run',
    async () => {
      const prefix = `mk${randomBytes(4).toString('hex')}`;
      let worker: NudgeProcess | null = null;
      let workerUrl = '';
      let moves = 0;
      let killedAtMs: number | null = null;
      const setWorkerClock = async (toMs: number) => {
        const response = await fetch(workerUrl, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${OPERATOR_TOKEN}`,
          },
          body: JSON.stringify({
            query: 'mutation($to: DateTime!) { setClock(to: $to) { timersFired } }',
            variables: { to: new Date(toMs).toISOString() },
          }),
        });
        return (await response.json()) as { data?: { setClock: { timersFired: number } } };
      };
      let workerFired = 0;

      const summary = await runThreeStepReplay({
        file: DEFAULT_REPLAY_FILE,
        env: replayEnv(prefix, OPERATOR_TOKEN),
        onStarted: async (env) => {
          const channels = [
            'SMTP_URL',
            'NUDGE_PUBLIC_URL',
            'NUDGE_SMS_API_URL',
            'TWILIO_ACCOUNT_SID',
            'TWILIO_AUTH_TOKEN',
            'NUDGE_SMS_FROM',
            'VAPID_PUBLIC_KEY',
            'VAPID_PRIVATE_KEY',
            'VAPID_SUBJECT',
          ];
          worker = spawnNudge('replay-worker', {
            prefix,
            role: 'worker',
            env: {
              NUDGE_CLOCK: 'manual',
              ...Object.fromEntries(channels.map((name) => [name, env[name] ?? ''])),
            },
          });
          workers.push(worker);
          const ready = await worker.ready(90_000);
          workerUrl = String(ready.url);
        },
        beforeClockMove: async (toMs) => {
          if (!worker || worker.hasExited) return;
          moves++;
          if (moves < KILL_AT_MOVE) {
            const answer = await setWorkerClock(toMs);
            workerFired += answer.data?.setClock.timersFired ?? 0;
            return;
          }
          // Cut off while it works: its clock move fires timers, deliveries are under way.
          const cutOff = setWorkerClock(toMs).catch(() => undefined);
          await new Promise((resolve) => setTimeout(resolve, 40));
          await worker.kill('SIGKILL');
          killedAtMs = toMs;
          await cutOff;
        },
      });

      expect(killedAtMs).not.toBeNull();
      expect(workerFired).toBeGreaterThan(50);
      await expectMetricsEqualRecount(summary);
      expect(summary.metrics.totals.entries).toBe(summary.enrollments.total);
      expect(summary.metrics.totals.sent).toBeGreaterThan(0);
    },
    REPLAY_TIMEOUT_MS,
  );
});
