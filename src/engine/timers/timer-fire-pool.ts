import type { Logger } from '../../logger';
import type { ClaimedTimer, TimerIndex } from './timer-index';
import type { TimerMeta, TimerProcessor } from './timer-processor';

/**
 * Holds back fires of a tenant whose deliveries are at their limit (`DeliveryQueue.admits`):
 * `firing` is how many of its timers this pool is firing now.
 */
export interface FireGate {
  admits(tenantId: string, firing: number): boolean;
  /** Calls `listener` whenever a tenant may have been freed. */
  onFreed(listener: () => void): void;
}

/**
 * Fires claimed timers on the system clock with bounded concurrency: up to `concurrency`
 * timer transactions are in flight at once, each on its own pooled connection, so the round
 * trips of one fire overlap with the others' instead of adding up, and PostgreSQL flushes
 * the commits of concurrent fires together. Acks (lease releases) are sent only after a
 * fire's transaction committed, gathered per shard into one `ZREM` per turn of the event
 * loop. A fire that throws stays leased: its lease expires and another attempt follows.
 *
 * Claimed timers wait here in claim order (due order per shard). A tenant the gate holds
 * back waits while the others' timers go ahead. The runner claims more only while fewer than
 * `concurrency` could start and fewer than `maxWaiting` wait, so a process holds few timers,
 * each for far less than its lease, even while a tenant is held back.
 */
export class TimerFirePool {
  private readonly waiting: Array<{ timer: ClaimedTimer; meta: TimerMeta | undefined }> = [];
  private active = 0;
  private readonly firingByTenant = new Map<string, number>();
  private readonly acks = new Map<number, string[]>();
  private ackFlush: Promise<void> | null = null;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly roomWaiters: Array<() => void> = [];

  constructor(
    private readonly index: TimerIndex,
    private readonly processor: TimerProcessor,
    private readonly concurrency: number,
    private readonly maxWaiting: number,
    private readonly gate: FireGate | null,
    private readonly log: Logger,
  ) {
    gate?.onFreed(() => {
      if (this.waiting.length === 0) return;
      this.pump();
      if (this.hasRoom) this.release(this.roomWaiters);
    });
  }

  /** Timers claimed but not yet fired (waiting or in flight). */
  get size(): number {
    return this.waiting.length + this.active;
  }

  /** True while fewer timers could start than can be fired at once: time to claim more. */
  get hasRoom(): boolean {
    if (this.waiting.length >= this.maxWaiting) return false;
    let ready = 0;
    for (const { meta } of this.waiting) if (this.admits(meta)) ready++;
    return ready < this.concurrency;
  }

  /**
   * How many timers to claim now: none while `concurrency` or more could start (or
   * `maxWaiting` wait), else up to `limit`, enough to refill the waiting line. Claiming in
   * batches keeps claims (Redis round trips) few.
   */
  room(limit: number): number {
    return this.hasRoom ? Math.min(limit, this.maxWaiting - this.waiting.length) : 0;
  }

  /** Queues claimed timers (with their looked-up rows, when known) and starts firing. */
  add(timers: ClaimedTimer[], metas: Map<string, TimerMeta>): void {
    for (const timer of timers) this.waiting.push({ timer, meta: metas.get(timer.timerId) });
    this.pump();
  }

  /** Resolves once fewer timers wait than can be fired at once (or at once if so). */
  whenRoom(): Promise<void> {
    if (this.hasRoom) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Resolves when every queued timer has been fired and acked. */
  async drain(): Promise<void> {
    if (this.size > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    await this.ackFlush;
  }

  private admits(meta: TimerMeta | undefined): boolean {
    if (!meta || !this.gate) return true;
    return this.gate.admits(meta.tenant_id, this.firingByTenant.get(meta.tenant_id) ?? 0);
  }

  private pump(): void {
    for (let i = 0; i < this.waiting.length && this.active < this.concurrency; ) {
      const next = this.waiting[i];
      if (!this.admits(next.meta)) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      const tenantId = next.meta?.tenant_id;
      if (tenantId) this.firingByTenant.set(tenantId, (this.firingByTenant.get(tenantId) ?? 0) + 1);
      this.active++;
      void this.fireOne(next.timer, next.meta).finally(() => {
        this.active--;
        if (tenantId) this.firingByTenant.set(tenantId, this.firingByTenant.get(tenantId)! - 1);
        this.pump();
        if (this.hasRoom) this.release(this.roomWaiters);
        if (this.size === 0) this.release(this.idleWaiters);
      });
    }
  }

  private async fireOne(timer: ClaimedTimer, meta: TimerMeta | undefined): Promise<void> {
    try {
      await this.processor.fire(timer.timerId, meta);
      this.queueAck(timer);
    } catch (err) {
      // Left leased: the lease expires and another attempt follows.
      this.log.error({ timerId: timer.timerId, err }, 'timer failed; will retry after its lease');
    }
  }

  private queueAck(timer: ClaimedTimer): void {
    const ids = this.acks.get(timer.shard);
    if (ids) ids.push(timer.timerId);
    else this.acks.set(timer.shard, [timer.timerId]);
    this.ackFlush ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      this.flushAcks(),
    );
  }

  private async flushAcks(): Promise<void> {
    const batches = [...this.acks.entries()];
    this.acks.clear();
    this.ackFlush = null;
    await Promise.all(
      batches.map(([shard, ids]) =>
        this.index.ack(shard, ids).catch((err: Error) =>
          // Harmless: the lease expires, the timer is claimed again and skipped (not PENDING).
          this.log.warn({ err, count: ids.length }, 'timer ack failed; leases will expire'),
        ),
      ),
    );
  }

  private release(waiters: Array<() => void>): void {
    for (const resolve of waiters.splice(0)) resolve();
  }
}
