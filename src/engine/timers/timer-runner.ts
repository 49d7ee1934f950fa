import { ManualClock, type Clock } from '../../clock';
import type { Logger } from '../../logger';
import type { Database } from '../../platform/database';
import type { TimerIndex, ClaimedTimer } from './timer-index';
import type { TimerProcessor } from './timer-processor';

export interface TimerRunnerOptions {
  leaseMs: number;
  pollMs: number;
  /** How often PostgreSQL is checked for pending timers missing from the index. */
  sweepMs: number;
  claimBatch: number;
}

/**
 * Drives due timers. On the system clock it polls the index (claim with a lease, fire, ack)
 * and periodically re-indexes overdue pending timers from PostgreSQL, so a Redis that lost
 * its data, or a worker that died mid-claim, loses nothing. On the manual clock nothing runs
 * in the background: `advanceTo` fires everything due in due-time order, synchronously.
 */
export class TimerRunner {
  private stopped = true;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private lastSweepMs = 0;
  private serial: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Database,
    private readonly index: TimerIndex,
    private readonly processor: TimerProcessor,
    private readonly clock: Clock,
    private readonly options: TimerRunnerOptions,
    private readonly log: Logger,
  ) {}

  /** Re-adds every pending timer to the index (idempotent). Called at start. */
  async rebuildIndex(dueBeforeMs: number | null = null): Promise<number> {
    let afterId = '0';
    let total = 0;
    for (;;) {
      const batch = (await this.db.dataSource.query(
        `SELECT id, tenant_id, due_at FROM timers
         WHERE state = 'PENDING' AND id > $1 AND ($2::timestamptz IS NULL OR due_at <= $2)
         ORDER BY id LIMIT 5000`,
        [afterId, dueBeforeMs === null ? null : new Date(dueBeforeMs)],
      )) as Array<{ id: string; tenant_id: string; due_at: Date }>;
      if (batch.length === 0) return total;
      await this.index.schedule(
        batch.map((t) => ({ timerId: t.id, tenantId: t.tenant_id, dueAtMs: t.due_at.getTime() })),
      );
      total += batch.length;
      afterId = batch[batch.length - 1].id;
    }
  }

  /** Starts the background loop (system clock only). */
  start(): void {
    if (this.clock.kind === 'manual' || !this.stopped) return;
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.serial.catch(() => undefined);
  }

  /**
   * Called after new timers were committed. On the manual clock, fires what is due now
   * before returning; on the system clock, wakes the loop.
   */
  async kick(): Promise<void> {
    if (this.clock.kind === 'manual') {
      await this.advanceTo(this.clock.nowMs());
      return;
    }
    this.wake?.();
  }

  /**
   * Manual clock only: moves time to `targetMs`, firing every timer due on the way in
   * due-time order, each at its own due instant. Returns how many timers fired.
   */
  advanceTo(targetMs: number): Promise<number> {
    const clock = this.clock;
    if (!(clock instanceof ManualClock)) throw new Error('advanceTo needs the manual clock');
    const run = this.serial.then(async () => {
      await this.rebuildIndex(targetMs);
      let fired = 0;
      for (;;) {
        const nextMs = await this.index.earliestDueMs();
        if (nextMs === null || nextMs > targetMs) break;
        // Moving forward, an overdue timer (due before the current time) fires now, late;
        // moving backwards (e.g. a restarted process whose clock began at wall time), each
        // timer fires at its own due instant. Never beyond the target.
        const nowMs = clock.nowMs();
        clock.set(nowMs <= targetMs ? Math.max(nowMs, nextMs) : nextMs);
        const claimed: ClaimedTimer[] = [];
        for (let shard = 0; shard < this.index.shardCount; shard++) {
          claimed.push(
            ...(await this.index.claimDue(
              shard,
              clock.nowMs(),
              this.options.claimBatch,
              this.options.leaseMs,
            )),
          );
        }
        claimed.sort((a, b) => a.dueAtMs - b.dueAtMs || Number(a.timerId) - Number(b.timerId));
        for (const timer of claimed) {
          if ((await this.processor.fire(timer.timerId)) === 'fired') fired++;
          await this.index.ack(timer.shard, [timer.timerId]);
        }
      }
      clock.set(targetMs);
      return fired;
    });
    this.serial = run.catch(() => undefined);
    return run;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      let claimedAny = false;
      try {
        claimedAny = await this.pollOnce();
      } catch (err) {
        this.log.error({ err }, 'timer poll failed');
      }
      if (!claimedAny && !this.stopped) await this.sleep(this.options.pollMs);
    }
  }

  private async pollOnce(): Promise<boolean> {
    const nowMs = this.clock.nowMs();
    if (nowMs - this.lastSweepMs >= this.options.sweepMs) {
      this.lastSweepMs = nowMs;
      // Anything overdue by more than a poll or two should have fired: re-add it. A timer that
      // is in fact leased right now is harmless to re-add (its row lock and state decide).
      const reindexed = await this.rebuildIndex(nowMs - 1000);
      if (reindexed > 0)
        this.log.warn({ count: reindexed }, 'overdue timers re-indexed from PostgreSQL');
    }
    let claimedAny = false;
    for (let shard = 0; shard < this.index.shardCount && !this.stopped; shard++) {
      await this.index.requeueExpired(shard, nowMs);
      const claimed = await this.index.claimDue(
        shard,
        nowMs,
        this.options.claimBatch,
        this.options.leaseMs,
      );
      for (const timer of claimed) {
        try {
          await this.processor.fire(timer.timerId);
          await this.index.ack(shard, [timer.timerId]);
        } catch (err) {
          // Left leased: the lease expires and another attempt follows.
          this.log.error(
            { timerId: timer.timerId, err },
            'timer failed; will retry after its lease',
          );
        }
      }
      claimedAny ||= claimed.length > 0;
    }
    return claimedAny;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timeout = setTimeout(done, ms);
      function done() {
        clearTimeout(timeout);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }
}
