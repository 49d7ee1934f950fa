import { Worker } from 'bullmq';
import { bullmqConnection } from '../lib/bullmq-peer';
import { emitJson } from '../lib/pinned-child';
import { summarise } from '../lib/timer-fires';

/**
 * The BullMQ peer's worker for B4 and B5 (BASELINES §7 "BullMQ peer"): one Worker with the
 * given concurrency whose processor only records `Date.now() − job.data.due` when it starts
 * (lateness). Jobs are removed on completion (the producer sets it). BullMQ talks to Redis
 * through ioredis, its default client.
 *
 * Usage: bullmq-timer-worker.ts <redisUrl> <prefix> <queue> <expected> <concurrency>.
 * Prints `{"ready":true}` when the worker is connected, then one summary line when
 * `expected` jobs have started.
 */

async function main() {
  const [redisUrl, prefix, queue, expectedText, concurrencyText] = process.argv.slice(2);
  const expected = Number(expectedText);
  const connection = bullmqConnection(redisUrl);

  const lateness = new Float64Array(expected);
  let started = 0;
  let firstStartMs = 0;
  let lastStartMs = 0;
  let finish: () => void = () => undefined;
  const allStarted = new Promise<void>((resolve) => (finish = resolve));
  const worker = new Worker(
    queue,
    async (job) => {
      const now = Date.now();
      if (started < expected) lateness[started] = now - Number(job.data.due);
      if (!firstStartMs) firstStartMs = now;
      lastStartMs = now;
      if (++started === expected) finish();
    },
    { connection, prefix, concurrency: Number(concurrencyText) },
  );
  worker.on('error', (err) => console.error('worker error', err));
  await worker.waitUntilReady();
  emitJson({ ready: true });
  await allStarted;
  emitJson({ ...summarise(lateness), firstStartMs, lastStartMs });
  await worker.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
