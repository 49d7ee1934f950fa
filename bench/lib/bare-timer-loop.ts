import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { runPinnedScript, spawnPinned } from './pinned-child';
import { deleteRedisKeys } from './redis-cleanup';
import type { LatenessSummary } from './timer-fires';

/**
 * The bare sorted-set claim loop of BASELINES §2c as a baseline for B4 and B5: a poller
 * child pinned to the system-under-test core (`bench/children/bare-timer-poller.ts`) and a
 * producer child pinned to the load core (`bench/children/bare-timer-producer.ts`), on one
 * sorted set under its own key prefix. No work per timer: this is what the machine allows.
 */

export interface BareLoopRun extends LatenessSummary {
  addedAfterDue: number;
  /** Last claim − window start, ms (the drain time when every timer is due at once). */
  spanMs: number;
  /** Timers claimed per second between window start and the last claim. */
  firesPerSec: number;
}

export class BareTimerLoop {
  readonly prefix = `nbench:bare:${process.pid}:${randomBytes(3).toString('hex')}`;
  private runs = 0;

  /** Adding cost seen so far, ms per timer. */
  private addMsPerTimer = 0.02;

  /**
   * How long before the first due time adding `count` timers should start (ms): 1.5× what
   * adding that many took last time, plus 0.3 s.
   */
  leadFor(count: number): number {
    return Math.round(300 + 1.5 * count * this.addMsPerTimer);
  }

  constructor(
    private readonly redisUrl: string,
    private readonly workDir: string,
    private readonly cores = { loop: 0, producer: 1 },
  ) {}

  private get key() {
    return `${this.prefix}:due`;
  }

  /** Adds `count` members due about a day from now, which never fire during the bench. */
  async preload(count: number): Promise<void> {
    if (count > 0) await this.produce(count, 86_400_000, 3_600_000, 'p');
  }

  /**
   * Starts the poller, adds `count` timers due at random over `windowMs` from `leadMs` after the producer is
   * ready, and
   * returns the poller's figures once all of them were claimed.
   */
  async run(count: number, leadMs: number, windowMs: number): Promise<BareLoopRun> {
    const tag = `r${++this.runs}_`;
    const poller = spawnPinned({
      core: this.cores.loop,
      script: 'bench/children/bare-timer-poller.ts',
      args: [this.redisUrl, this.key, String(count)],
      logFile: path.join(this.workDir, 'bare-timer-poller.log'),
    });
    try {
      await poller.nextJson(30_000, (v) => v.ready === true);
      const produced = await this.produce(count, leadMs, windowMs, tag);
      const result = await poller.nextJson(windowMs + leadMs + 120_000, (v) => 'p99' in v);
      const spanMs = result.lastClaimMs - produced.windowStartMs;
      return {
        count: result.count,
        p50: result.p50,
        p90: result.p90,
        p99: result.p99,
        max: result.max,
        addedAfterDue: Math.max(produced.addedAfterDue, result.addedAfterDue),
        spanMs,
        firesPerSec: count / (Math.max(spanMs, windowMs) / 1000),
      };
    } finally {
      await poller.stop();
    }
  }

  /** Adds `count` members due at random in the window, from the producer child. */
  async produce(count: number, leadMs: number, windowMs: number, tag: string) {
    const produced = await runPinnedScript<{
      windowStartMs: number;
      addMs: number;
      addedAfterDue: number;
    }>({
      core: this.cores.producer,
      script: 'bench/children/bare-timer-producer.ts',
      args: [this.redisUrl, this.key, String(count), String(leadMs), String(windowMs), tag],
      logFile: path.join(this.workDir, 'bare-timer-producer.log'),
      timeoutMs: 600_000,
    });
    if (count >= 1_000) this.addMsPerTimer = produced.addMs / count;
    return produced;
  }

  async clear(): Promise<void> {
    await deleteRedisKeys(this.redisUrl, this.prefix);
  }
}
