import { createClient } from 'redis';
import { BareTimerLoop } from '../lib/bare-timer-loop';
import { BullmqPeer } from '../lib/bullmq-peer';
import { NudgeTimerBench } from '../lib/nudge-timer-bench';
import { usedMemoryBytes } from '../lib/redis-memory';
import { formatNumber as fmt } from '../lib/report';
import {
  goalRow,
  median,
  medianSample,
  type BenchOptions,
  type Sample,
  type Workload,
  type WorkloadResult,
} from '../lib/workload';

/**
 * B6, memory per pending timer.
 *
 * - Nudge, Redis: with N STEP timers pending in PostgreSQL and the index deleted, an engine
 *   starts and rebuilds the index (its own `rebuildIndex`); bytes per timer = Redis
 *   `used_memory` after − before, divided by N. The start-up time with N pending minus the
 *   start-up time with none is the rebuild time.
 * - Nudge, engine RSS: resident memory of a freshly started engine, idle for a few seconds,
 *   with no timers pending and with N pending (flat means it keeps nothing per timer).
 * - BullMQ 6: delayed jobs (a day) with the data a team would store to find the work
 *   (`{ due, tenantId, enrollmentId, stepIndex }`), removed on completion.
 * - Bare member: `t<i>|<due>|<added>` (about 30 bytes) in one sorted set.
 *
 * Redis is shared with whatever else runs on the machine, so every figure is a median of
 * the repetitions and the notes give the spread.
 */

interface Sizes {
  pending: number;
  bullmqJobs: number;
  idleMs: number;
}

function sizesFor(quick: boolean): Sizes {
  return quick
    ? { pending: 5_000, bullmqJobs: 5_000, idleMs: 500 }
    : { pending: 1_000_000, bullmqJobs: 500_000, idleMs: 3_000 };
}

export const workload: Workload = {
  id: 'B6',
  title: 'Memory per pending timer: Redis bytes and engine RSS',
  run,
};

async function run(options: BenchOptions): Promise<WorkloadResult> {
  const sizes = sizesFor(options.quick);
  const { log, redisUrl } = options;
  const nudge = new NudgeTimerBench({
    postgresUrl: options.postgresUrl,
    redisUrl,
    workDir: options.workDir,
    label: 'b6',
    pollMs: 50,
    customers: options.quick ? 100 : 10_000,
  });
  const bullmq = new BullmqPeer(redisUrl, options.workDir);
  const bare = new BareTimerLoop(redisUrl, options.workDir);
  const idle = () => new Promise((resolve) => setTimeout(resolve, sizes.idleMs));
  try {
    await nudge.start();
    // Engines with nothing pending (the genuine enrollment's one timer aside).
    const empty: Sample[] = [];
    for (let i = 0; i < options.runs; i++) {
      const startMs = await nudge.restartEngine(50);
      await idle();
      empty.push({ startMs, rssBytes: nudge.engineRssBytes() });
    }
    log(`B6: seeding ${sizes.pending} pending timers in PostgreSQL`);
    const seeded = await nudge.preload(sizes.pending, true);

    const samples: Sample[] = [];
    for (let i = 0; i < options.runs; i++) {
      log(`B6: run ${i + 1} of ${options.runs}`);
      await nudge.clearIndex();
      const beforeNudge = await usedMemoryBytes(redisUrl);
      const watch = watchIndexFill(redisUrl, nudge.indexDueKey());
      const startMs = await nudge.restartEngine(50);
      const rebuildMs = await watch.stop();
      const afterNudge = await usedMemoryBytes(redisUrl);
      const indexed = await nudge.indexedCount();
      await idle();
      const rssBytes = nudge.engineRssBytes();

      const beforeBullmq = await usedMemoryBytes(redisUrl);
      await bullmq.preload(sizes.bullmqJobs);
      const afterBullmq = await usedMemoryBytes(redisUrl);
      await bullmq.clear();

      const beforeBare = await usedMemoryBytes(redisUrl);
      await bare.preload(sizes.pending);
      const afterBare = await usedMemoryBytes(redisUrl);
      await bare.clear();

      samples.push({
        nudgeBytesPerTimer: (afterNudge - beforeNudge) / sizes.pending,
        nudgeIndexed: indexed,
        nudgeStartMs: startMs,
        nudgeRebuildMs: rebuildMs,
        nudgeRssBytes: rssBytes,
        bullmqBytesPerJob: (afterBullmq - beforeBullmq) / sizes.bullmqJobs,
        bareBytesPerMember: (afterBare - beforeBare) / sizes.pending,
      });
      log(
        `B6: bytes per pending timer: Nudge ${fmt(samples[i].nudgeBytesPerTimer)}, BullMQ ` +
          `${fmt(samples[i].bullmqBytesPerJob)}, bare ${fmt(samples[i].bareBytesPerMember)}`,
      );
    }

    const f = medianSample(samples);
    const emptyRssBytes = median(empty.map((s) => s.rssBytes));
    const emptyStartMs = median(empty.map((s) => s.startMs));
    const rssGrowthPerTimer = (f.nudgeRssBytes - emptyRssBytes) / sizes.pending;
    const figures = {
      ...f,
      emptyRssBytes,
      emptyStartMs,
      rssGrowthBytesPerTimer: rssGrowthPerTimer,
    };
    const rows = [
      goalRow(
        {
          id: 'B6',
          metric: 'Redis bytes per pending timer',
          product: f.nudgeBytesPerTimer,
          baseline: f.bullmqBytesPerJob,
          baselineName: 'BullMQ 6.7.6 delayed job with comparable data',
          better: 'lower',
          goal: '≤ 0.5× BullMQ and ≤ 200 B',
        },
        (ratio) => ratio >= 2 && f.nudgeBytesPerTimer <= 200,
      ),
      goalRow(
        {
          id: 'B6',
          metric: 'Redis bytes per pending timer',
          product: f.nudgeBytesPerTimer,
          baseline: f.bareBytesPerMember,
          baselineName: 'bare sorted-set member (~30 B string)',
          better: 'lower',
          goal: '≤ 200 B (bare member for scale)',
        },
        () => f.nudgeBytesPerTimer <= 200,
      ),
      goalRow(
        {
          id: 'B6',
          metric: `engine RSS MB with ${fmt(sizes.pending)} pending`,
          product: f.nudgeRssBytes / 2 ** 20,
          baseline: emptyRssBytes / 2 ** 20,
          baselineName: 'the same engine with no timers pending',
          better: 'lower',
          goal: 'flat (≤ 10 B growth per pending timer)',
        },
        () => rssGrowthPerTimer <= 10,
      ),
    ];
    const spread = (key: string) =>
      samples.map((s) => fmt(s[key])).join(' / ') + (samples.length > 1 ? ' (per run)' : '');
    const notes = [
      `${fmt(sizes.pending)} Nudge timers pending (STEP timers of real enrollments, seeded in ` +
        `PostgreSQL in ${fmt((seeded?.insertMs ?? 0) / 1000)} s), ${fmt(sizes.bullmqJobs)} BullMQ ` +
        `delayed jobs, ${fmt(sizes.pending)} bare members; ${samples.length} repetitions, medians.`,
      `Redis bytes per timer: Nudge ${spread('nudgeBytesPerTimer')}, BullMQ ` +
        `${spread('bullmqBytesPerJob')}, bare ${spread('bareBytesPerMember')}. The Redis server ` +
        `is shared with other work on the machine: the spread is that noise.`,
      `Nudge's index member is the timer id (a decimal bigint, here up to ` +
        `${String(sizes.pending + 1).length} digits) scored by its due time; nothing else per ` +
        `timer is in Redis. Index after the rebuild: ${fmt(f.nudgeIndexed)} members.`,
      `Engine RSS (idle ${sizes.idleMs / 1000} s after start): ${fmt(emptyRssBytes / 2 ** 20)} MB ` +
        `with nothing pending, ${fmt(f.nudgeRssBytes / 2 ** 20)} MB with ${fmt(sizes.pending)} ` +
        `pending (${fmt(rssGrowthPerTimer)} B per timer; runs: ${spread('nudgeRssBytes')} B).`,
      `Index rebuild at start from PostgreSQL (first to last member in Redis): ` +
        `${fmt(f.nudgeRebuildMs)} ms for ${fmt(sizes.pending)} timers (runs: ` +
        `${spread('nudgeRebuildMs')}); engine start-up ${fmt(f.nudgeStartMs)} ms with them ` +
        `pending vs ${fmt(emptyStartMs)} ms with none.`,
      `Pinning: the Nudge engine on core 0, BullMQ and bare producers on core 1; PostgreSQL and ` +
        `Redis unpinned. BullMQ through ioredis.`,
    ];
    return { rows, figures, notes };
  } finally {
    await Promise.allSettled([nudge.stop(), bullmq.clear(), bare.clear()]);
  }
}

/**
 * Polls the size of an index due set every 20 ms while an engine starts; `stop()` returns
 * the time from its first member to its largest size (the rebuild), ms.
 */
function watchIndexFill(redisUrl: string, key: string): { stop(): Promise<number> } {
  const redis = createClient({ url: redisUrl });
  redis.on('error', () => undefined);
  let stopped = false;
  let firstMs = 0;
  let fullMs = 0;
  let largest = 0;
  const polling = (async () => {
    await redis.connect();
    while (!stopped) {
      const size = await redis.zCard(key);
      const now = Date.now();
      if (size > 0 && !firstMs) firstMs = now;
      if (size > largest) {
        largest = size;
        fullMs = now;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    redis.destroy();
  })();
  return {
    async stop() {
      stopped = true;
      await polling;
      return fullMs - firstMs;
    },
  };
}
