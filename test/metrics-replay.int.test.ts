import { randomBytes } from 'node:crypto';
import { Database } from '../src/platform/database';
import { DEFAULT_REPLAY_FILE, runThreeStepReplay } from '../scripts/replay';
import { failedMetricsChecks, type MetricsFigures } from '../scripts/lib/three-step-metrics';
import type { ThreeStepSummary } from '../scripts/lib/three-step-summary';
import { OPERATOR_TOKEN, describeWithRedis } from './support/harness';
import { expectedTotals, recountFromRawTables } from './support/metrics-recount';
import { killAll, spawnNudge, type NudgeProcess } from './support/nudge-process';

/**
 * Issue #5: after a replay of the real RetailRocket sample through the three-step flow
 * (email, SMS, push to local peers), `triggerMetrics` equals a recount from the raw tables —
 * also when a second worker process that did much of the work is SIGKILLed mid-run, its
 * transactions cut off wherever they were.
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
    'triggerMetrics equals a recount from the raw tables and the replay’s own figures',
    async () => {
      const summary = await runThreeStepReplay({
        file: DEFAULT_REPLAY_FILE,
        env: replayEnv(`mr${randomBytes(4).toString('hex')}`, randomBytes(16).toString('hex')),
      });
      expect(summary.isMatch).toBe(true);
      await expectMetricsEqualRecount(summary);
      expect(summary.metrics.totals).toMatchObject({ eligible: 261, entries: 236 });
      expect(summary.metrics.totals.sent).toBe(231);
      expect(summary.metrics.totals.conversions).toBe(41);
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
