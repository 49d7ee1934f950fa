import { BareTimerLoop } from '../lib/bare-timer-loop';
import { BULLMQ_CONCURRENCY, BullmqPeer } from '../lib/bullmq-peer';
import { NudgeTimerBench } from '../lib/nudge-timer-bench';
import { formatNumber as fmt } from '../lib/report';
import { describeTimerProbe } from '../lib/timer-probe';
import {
  goalRow,
  medianSample,
  type BenchOptions,
  type Sample,
  type Workload,
  type WorkloadResult,
} from '../lib/workload';

/**
 * B5, timer throughput: a batch of timers all due at the same instant; fires per second from
 * that instant until the last fire.
 *
 * - Nudge: STEP timers (see `timer-seed.ts`); a fire is durable when its transaction commits
 *   the timer row DONE (`fired_at`) and the message row; the webhook goes out after commit.
 *   The drain is observed for at most `observeMs`; timers still pending then are cancelled
 *   (censored) and the rate is fired / observed time.
 * - BullMQ 6, one worker at concurrency 50, jobs removed on completion; no work per job.
 * - The bare sorted-set claim loop (500 per claim); no work per timer.
 *
 * Same pinning as B4: each system under test on core 0 in turn, producers on core 1.
 */

const TUNED_POLL_MS = 5;

interface Sizes {
  due: number;
  observeMs: number;
  warmUp: number;
}

function sizesFor(quick: boolean): Sizes {
  return quick
    ? { due: 300, observeMs: 1_500, warmUp: 0 }
    : { due: 100_000, observeMs: 15_000, warmUp: 5_000 };
}

export const workload: Workload = {
  id: 'B5',
  title: 'Timer throughput: a batch all due at once',
  run,
};

async function run(options: BenchOptions): Promise<WorkloadResult> {
  const sizes = sizesFor(options.quick);
  const { log } = options;
  const nudge = new NudgeTimerBench({
    postgresUrl: options.postgresUrl,
    redisUrl: options.redisUrl,
    workDir: options.workDir,
    label: 'b5',
    pollMs: TUNED_POLL_MS,
    customers: options.quick ? 100 : 10_000,
  });
  const bullmq = new BullmqPeer(options.redisUrl, options.workDir);
  const bare = new BareTimerLoop(options.redisUrl, options.workDir);
  try {
    await nudge.start();
    const measure = async (due: number): Promise<Sample> => {
      const n = await nudge.run(due, nudge.leadFor(due), 0, sizes.observeMs);
      const b = await bullmq.run(due, bullmq.leadFor(due), 0);
      const z = await bare.run(due, bare.leadFor(due), 0);
      log(
        `B5: fires/s Nudge ${fmt(n.firesPerSec)} (${n.fired} of ${due} fired), BullMQ ` +
          `${fmt(b.firesPerSec)}, bare loop ${fmt(z.firesPerSec)}`,
      );
      return {
        nudgeFiresPerSec: n.firesPerSec,
        nudgeEngineBusy: n.engineBusy,
        nudgeEngineCpuMsPerFire: n.engineCpuMsPerFire,
        nudgeFired: n.fired,
        nudgeCensored: n.censored,
        nudgeSpanMs: n.spanMs,
        nudgeAddedAfterDue: n.addedAfterDue,
        nudgeLost: n.lost,
        nudgeDuplicates: n.duplicates,
        nudgeDeliveredP99Ms: n.deliveredP99,
        bullmqFiresPerSec: b.firesPerSec,
        bullmqDrainMs: b.spanMs,
        bullmqAddedAfterDue: b.addedAfterDue,
        bareFiresPerSec: z.firesPerSec,
        bareDrainMs: z.spanMs,
        bareAddedAfterDue: z.addedAfterDue,
      };
    };
    if (sizes.warmUp > 0) {
      log('B5: warm-up');
      await measure(sizes.warmUp);
    }
    const samples: Sample[] = [];
    for (let i = 0; i < options.runs; i++) {
      log(`B5: run ${i + 1} of ${options.runs}`);
      samples.push(await measure(sizes.due));
    }
    const f = medianSample(samples);
    const clean =
      f.nudgeAddedAfterDue === 0 &&
      f.bullmqAddedAfterDue === 0 &&
      f.bareAddedAfterDue === 0 &&
      f.nudgeLost === 0 &&
      f.nudgeDuplicates === 0;
    const rows = [
      goalRow(
        {
          id: 'B5',
          metric: 'fires/s, all due at once',
          product: f.nudgeFiresPerSec,
          baseline: f.bullmqFiresPerSec,
          baselineName: `BullMQ 6.7.6 drain, 1 worker × concurrency ${BULLMQ_CONCURRENCY}`,
          better: 'higher',
          goal: '≥ 3× BullMQ',
        },
        (ratio) => clean && ratio >= 3,
      ),
      goalRow(
        {
          id: 'B5',
          metric: 'fires/s, all due at once',
          product: f.nudgeFiresPerSec,
          baseline: f.bareFiresPerSec,
          baselineName: 'bare sorted-set claim loop drain (no work per timer)',
          better: 'higher',
          goal: '≥ 0.15× bare loop (BASELINES §5)',
        },
        (ratio) => clean && ratio >= 0.15,
      ),
    ];
    const notes = [
      `Per run ${sizes.due} timers due at the same instant in each system` +
        `${sizes.warmUp ? `, after a warm-up of ${sizes.warmUp}` : ''}; fires/s = timers fired ` +
        `/ (last fire − due instant).`,
      `Nudge: NUDGE_ROLE=all, NUDGE_TIMER_POLL_MS=${TUNED_POLL_MS}; each fire commits the ` +
        `timer row (DONE, fired_at) and the message row in one transaction, then delivers a ` +
        `webhook. Observed for at most ${sizes.observeMs / 1000} s: median ${fmt(f.nudgeFired)} ` +
        `fired, ${fmt(f.nudgeCensored)} censored (cancelled by the bench, not lost); at this rate ` +
        `the whole batch would take about ${fmt(sizes.due / f.nudgeFiresPerSec)} s. ` +
        `Webhook sent p99 ${fmt(f.nudgeDeliveredP99Ms)} ms after due. Engine core busy ` +
        `${fmt(f.nudgeEngineBusy * 100)}% of the drain, ${fmt(f.nudgeEngineCpuMsPerFire)} ms ` +
        `engine CPU per fire (deliveries included).`,
      `Drain times: BullMQ ${fmt(f.bullmqDrainMs)} ms, bare loop ${fmt(f.bareDrainMs)} ms.`,
      `Added after due (must be 0): Nudge ${f.nudgeAddedAfterDue}, BullMQ ${f.bullmqAddedAfterDue}, ` +
        `bare ${f.bareAddedAfterDue}. Nudge lost ${f.nudgeLost}, duplicated ${f.nudgeDuplicates}.`,
      `Pinning: each system under test on core 0 in turn; producers and the webhook receiver ` +
        `on core 1; PostgreSQL and Redis unpinned. BullMQ through ioredis.`,
      ...nudge.engineLabels().flatMap(describeTimerProbe),
    ];
    return { rows, figures: f, notes };
  } finally {
    await Promise.allSettled([nudge.stop(), bullmq.clear(), bare.clear()]);
  }
}
