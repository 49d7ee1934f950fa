import { Queue } from 'bullmq';
import { bullmqConnection } from '../lib/bullmq-peer';
import { emitJson } from '../lib/pinned-child';

/**
 * The BullMQ peer's producer for B4, B5 and B6: adds `count` delayed jobs with `addBulk`,
 * 1,000 per call, a few calls in flight, each job due at random in [windowStartMs,
 * windowStartMs + windowMs) (`delay` = due − now when its call is built) and removed on
 * completion. The window starts `leadMs` after the queue is ready (so the producer's own
 * start-up does not eat the lead). Job data is `{ due, tenantId, enrollmentId, stepIndex }`: what a team would
 * store to find the work when the job fires (comparable to Nudge's timer row, which Nudge
 * keeps in PostgreSQL and not in Redis).
 *
 * Usage: bullmq-timer-producer.ts <redisUrl> <prefix> <queue> <count> <leadMs> <windowMs>.
 * Prints `{ windowStartMs, addMs, addedAfterDue }`.
 */

const PER_CALL = 1_000;
const IN_FLIGHT = 4;
const TENANT_ID = '3f0c8f5e-2b8e-4c8a-9a53-0d6f7c1e2b44';

async function main() {
  const [redisUrl, prefix, queueName, countText, leadText, windowText] = process.argv.slice(2);
  const count = Number(countText);
  const windowMs = Number(windowText);
  const connection = bullmqConnection(redisUrl);
  const queue = new Queue(queueName, { connection, prefix });
  await queue.waitUntilReady();
  const windowStartMs = Date.now() + Number(leadText);

  const started = Date.now();
  let next = 0;
  let addedAfterDue = 0;
  const caller = async () => {
    while (next < count) {
      const from = next;
      next += PER_CALL;
      const now = Date.now();
      const jobs = [];
      for (let i = from; i < Math.min(from + PER_CALL, count); i++) {
        const due = windowStartMs + Math.floor(Math.random() * windowMs);
        if (due < now) addedAfterDue++;
        jobs.push({
          name: 'step',
          data: { due, tenantId: TENANT_ID, enrollmentId: crypto.randomUUID(), stepIndex: 0 },
          opts: { delay: Math.max(0, due - now), removeOnComplete: true },
        });
      }
      await queue.addBulk(jobs);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, caller));
  emitJson({ windowStartMs, addMs: Date.now() - started, addedAfterDue });
  await queue.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
