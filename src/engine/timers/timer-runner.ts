import { ManualClock, type Clock } from '../../clock';
import type { Logger } from '../../logger';
import type { Database } from '../../platform/database';
import type { TimerIndex, ClaimedTimer } from './timer-index';
import { TimerFirePool, type FireGate } from './timer-fire-pool';
import type { TimerProcessor } from './timer-processor';

export interface TimerRunnerOptions {
  leaseMs: number;
  pollMs: number;
  /** How often PostgreSQL is checked for pending timers missing from the index. */
  sweepMs: number;
  claimBatch: number;
  /** Timer transactions in flight at once on the system clock (each holds a connection). */
  concurrency: number;
}

/** Expired leases are looked for at most this often (a lease lasts far longer). */
const REQUEUE_EVERY_MS = 1_000;

/**
 * Drives due timers. On the system clock it claims due timers in batches (with a lease) and
 * hands them to a bounded pool of concurrent fires (`TimerFirePool`: fire, then ack), claiming
 * more while the pool has room; when nothing is due it sleeps until the earliest indexed due
 * time or `pollMs`, whichever comes first, and a `kick` (new timers committed here) wakes it.
 * It periodically re-indexes overdue pending timers missing from the index, so a Redis that
 * lost its data, or a worker that died mid-claim, loses nothing. On the manual clock nothing
 * runs in the background: `advanceTo` fires everything due in due-time order, synchronously.
 */
export class TimerRunner {
  private stopped = true;
  private wake: (() => void) | null = null;
  /** A kick arrived since the current turn began: the next sleep is skipped. */
  private kicked = false;
  private loop: Promise<void> | null = null;
  private lastSweepMs = 0;
  private lastRequeueMs = 0;
  private serial: Promise<unknown> = Promise.resolve();
  private readonly pool: TimerFirePool;
  /** Most timers claimed at once: enough to keep the pool busy, few enough to fire in time. */
  private readonly claimLimit: number;

  constructor(
    private readonly db: Database,
    private readonly index: TimerIndex,
    private readonly processor: TimerProcessor,
    private readonly clock: Clock,
    private readonly options: TimerRunnerOptions,
    private readonly log: Logger,
    gate: FireGate | null = null,
  ) {
    const concurrency = Math.max(1, options.concurrency);
    this.claimLimit = Math.min(options.claimBatch, 8 * concurrency);
    this.pool = new TimerFirePool(index, processor, concurrency, 4 * concurrency, gate, log);
  }

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
    await this.pool.drain();
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
    this.kicked = true;
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
      let sleepMs = this.options.pollMs;
      this.kicked = false;
      try {
        sleepMs = await this.pollOnce();
      } catch (err) {
        this.log.error({ err }, 'timer poll failed');
      }
      if (this.stopped) break;
      if (sleepMs === 0) await this.pool.whenRoom();
      else if (!this.kicked) await this.sleep(sleepMs);
    }
  }

  /**
   * One turn of the loop: housekeeping when due, then a claim of as many due timers as the
   * pool has room for. Returns how long to sleep: 0 when it claimed (claim again as soon as
   * the pool has room), else until the earliest indexed due time, at most `pollMs`.
   */
  private async pollOnce(): Promise<number> {
    const nowMs = this.clock.nowMs();
    if (nowMs - this.lastSweepMs >= this.options.sweepMs) {
      this.lastSweepMs = nowMs;
      const restored = await this.restoreMissing(nowMs - 1000);
      if (restored > 0)
        this.log.warn({ count: restored }, 'overdue timers re-indexed from PostgreSQL');
    }
    if (nowMs - this.lastRequeueMs >= Math.min(REQUEUE_EVERY_MS, this.options.leaseMs / 4)) {
      this.lastRequeueMs = nowMs;
      for (let shard = 0; shard < this.index.shardCount; shard++) {
        await this.index.requeueExpired(shard, nowMs);
      }
    }
    const room = this.pool.room(this.claimLimit);
    if (room === 0) return 0;
    // Every shard at once (one round trip: the client pipelines them), each up to `room`.
    const shards = Array.from({ length: this.index.shardCount }, (_, shard) => shard);
    const perShard = await Promise.all(
      shards.map((shard) => this.index.claimDue(shard, nowMs, room, this.options.leaseMs)),
    );
    const claimed = perShard.flat();
    if (claimed.length > 0) {
      const metas = await this.processor.lookup(claimed.map((t) => t.timerId));
      this.pool.add(claimed, metas);
      return 0;
    }
    if (this.pool.size > 0) return Math.min(this.options.pollMs, 5);
    const nextMs = await this.index.earliestDueMs();
    if (nextMs === null) return this.options.pollMs;
    return Math.max(1, Math.min(this.options.pollMs, nextMs - this.clock.nowMs()));
  }

  /**
   * The sweep: pending timers overdue before `dueBeforeMs` that are missing from the index
   * (neither due nor leased there) are added back. Unlike `rebuildIndex` it leaves timers a
   * live worker holds alone, so a backlog is never claimed twice.
   */
  private async restoreMissing(dueBeforeMs: number): Promise<number> {
    let afterId = '0';
    let total = 0;
    for (;;) {
      const batch = (await this.db.dataSource.query(
        `SELECT id, tenant_id, due_at FROM timers
         WHERE state = 'PENDING' AND id > $1 AND due_at <= $2
         ORDER BY id LIMIT 5000`,
        [afterId, new Date(dueBeforeMs)],
      )) as Array<{ id: string; tenant_id: string; due_at: Date }>;
      if (batch.length === 0) return total;
      total += await this.index.restore(
        batch.map((t) => ({ timerId: t.id, tenantId: t.tenant_id, dueAtMs: t.due_at.getTime() })),
      );
      afterId = batch[batch.length - 1].id;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timeout = setTimeout(done, ms);
      const wake = () => {
        if (this.wake === wake) this.wake = null;
        clearTimeout(timeout);
        resolve();
      };
      function done() {
        wake();
      }
      this.wake = wake;
    });
  }
}
