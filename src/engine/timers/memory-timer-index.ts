import { ClaimedTimer, IndexedTimer, TimerIndex, shardOf } from './timer-index';

/**
 * In-process stand-in for the Redis timer index (trial mode: one process). Same semantics:
 * claim moves due ids to a lease map; expired leases return.
 */
export class MemoryTimerIndex implements TimerIndex {
  private readonly due: Array<Map<string, number>>;
  private readonly leases: Array<Map<string, number>>;

  constructor(readonly shardCount: number) {
    this.due = Array.from({ length: shardCount }, () => new Map());
    this.leases = Array.from({ length: shardCount }, () => new Map());
  }

  async schedule(timers: IndexedTimer[]): Promise<void> {
    for (const t of timers)
      this.due[shardOf(t.tenantId, this.shardCount)].set(t.timerId, t.dueAtMs);
  }

  async restore(timers: IndexedTimer[]): Promise<number> {
    let added = 0;
    for (const t of timers) {
      const shard = shardOf(t.tenantId, this.shardCount);
      if (this.due[shard].has(t.timerId) || this.leases[shard].has(t.timerId)) continue;
      this.due[shard].set(t.timerId, t.dueAtMs);
      added++;
    }
    return added;
  }

  async unschedule(timers: Array<Pick<IndexedTimer, 'timerId' | 'tenantId'>>): Promise<void> {
    for (const t of timers) this.due[shardOf(t.tenantId, this.shardCount)].delete(t.timerId);
  }

  async claimDue(
    shard: number,
    nowMs: number,
    limit: number,
    leaseMs: number,
  ): Promise<ClaimedTimer[]> {
    const dueNow = [...this.due[shard].entries()]
      .filter(([, dueAtMs]) => dueAtMs <= nowMs)
      .sort((a, b) => a[1] - b[1] || a[0].localeCompare(b[0]))
      .slice(0, limit);
    for (const [timerId] of dueNow) {
      this.due[shard].delete(timerId);
      this.leases[shard].set(timerId, nowMs + leaseMs);
    }
    return dueNow.map(([timerId, dueAtMs]) => ({ timerId, shard, dueAtMs }));
  }

  async ack(shard: number, timerIds: string[]): Promise<void> {
    for (const id of timerIds) this.leases[shard].delete(id);
  }

  async requeueExpired(shard: number, nowMs: number): Promise<number> {
    let count = 0;
    for (const [timerId, leaseUntilMs] of this.leases[shard]) {
      if (leaseUntilMs > nowMs) continue;
      this.leases[shard].delete(timerId);
      if (!this.due[shard].has(timerId)) this.due[shard].set(timerId, nowMs);
      count++;
    }
    return count;
  }

  async earliestDueMs(): Promise<number | null> {
    let earliest: number | null = null;
    for (const shard of this.due) {
      for (const dueAtMs of shard.values()) {
        if (earliest === null || dueAtMs < earliest) earliest = dueAtMs;
      }
    }
    return earliest;
  }

  async clear(): Promise<void> {
    for (const m of [...this.due, ...this.leases]) m.clear();
  }

  async close(): Promise<void> {}
}
