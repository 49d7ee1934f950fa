import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { runPinnedScript, spawnPinned } from './pinned-child';
import { deleteRedisKeys } from './redis-cleanup';
import type { LatenessSummary } from './timer-fires';

/**
 * BullMQ 6 as the peer a team would build instead (BASELINES §2, §7): one worker process
 * pinned to the system-under-test core (`bench/children/bullmq-timer-worker.ts`, concurrency
 * 50 unless told otherwise) and a producer pinned to the load core
 * (`bench/children/bullmq-timer-producer.ts`) adding delayed jobs with `addBulk`, on the
 * same Redis as Nudge under their own key prefix, through ioredis. Lateness = processor
 * start − due.
 */

export interface BullmqRun extends LatenessSummary {
  addedAfterDue: number;
  /** Last processor start − window start, ms (the drain time when all are due at once). */
  spanMs: number;
  firesPerSec: number;
}

export const BULLMQ_CONCURRENCY = 50;

interface ProducerResult {
  windowStartMs: number;
  addMs: number;
  addedAfterDue: number;
}

/**
 * BullMQ's connection options for `redisUrl`: BullMQ then makes its own ioredis clients,
 * its default and most common set-up (its node-redis adapter measured 2–3× worse p99 here).
 */
export function bullmqConnection(redisUrl: string) {
  const url = new URL(redisUrl);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    password: url.password ? decodeURIComponent(url.password) : undefined,
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    maxRetriesPerRequest: null,
  };
}

export class BullmqPeer {
  readonly prefix = `nbench:bullmq:${process.pid}:${randomBytes(3).toString('hex')}`;
  private readonly queue = 'timers';

  /** Adding cost seen so far, ms per timer. */
  private addMsPerTimer = 0.08;

  /**
   * How long before the first due time adding `count` timers should start (ms): 1.5× what
   * adding that many took last time, plus 0.5 s.
   */
  leadFor(count: number): number {
    return Math.round(500 + 1.5 * count * this.addMsPerTimer);
  }

  constructor(
    private readonly redisUrl: string,
    private readonly workDir: string,
    private readonly concurrency = BULLMQ_CONCURRENCY,
    private readonly cores = { worker: 0, producer: 1 },
  ) {}

  /** Adds `count` jobs delayed by about a day, which never fire during the bench. */
  async preload(count: number): Promise<{ addMs: number }> {
    if (count === 0) return { addMs: 0 };
    return this.produce(count, 86_400_000, 3_600_000);
  }

  /**
   * Starts the worker, adds `count` jobs due at random over `windowMs` from `leadMs` after the producer is
   * ready, and
   * returns the worker's figures once every one of them has started.
   */
  async run(count: number, leadMs: number, windowMs: number): Promise<BullmqRun> {
    const worker = spawnPinned({
      core: this.cores.worker,
      script: 'bench/children/bullmq-timer-worker.ts',
      args: [this.redisUrl, this.prefix, this.queue, String(count), String(this.concurrency)],
      logFile: path.join(this.workDir, 'bullmq-timer-worker.log'),
    });
    try {
      await worker.nextJson(30_000, (v) => v.ready === true);
      const produced = await this.produce(count, leadMs, windowMs);
      const result = await worker.nextJson(windowMs + leadMs + 300_000, (v) => 'p99' in v);
      const spanMs = result.lastStartMs - produced.windowStartMs;
      return {
        count: result.count,
        p50: result.p50,
        p90: result.p90,
        p99: result.p99,
        max: result.max,
        addedAfterDue: produced.addedAfterDue,
        spanMs,
        firesPerSec: count / (Math.max(spanMs, windowMs) / 1000),
      };
    } finally {
      await worker.stop();
    }
  }

  async produce(count: number, leadMs: number, windowMs: number) {
    const produced = await runPinnedScript<ProducerResult>({
      core: this.cores.producer,
      script: 'bench/children/bullmq-timer-producer.ts',
      args: [
        this.redisUrl,
        this.prefix,
        this.queue,
        String(count),
        String(leadMs),
        String(windowMs),
      ],
      logFile: path.join(this.workDir, 'bullmq-timer-producer.log'),
      timeoutMs: 900_000,
    });
    if (count >= 1_000) this.addMsPerTimer = produced.addMs / count;
    return produced;
  }

  async clear(): Promise<void> {
    await deleteRedisKeys(this.redisUrl, this.prefix);
  }
}
