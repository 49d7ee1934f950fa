import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Redis } from '../../platform/redis';
import { ClaimedTimer, IndexedTimer, TimerIndex, shardOf } from './timer-index';
import { timerKeys } from './timer-keys';

const CLAIM_DUE = readFileSync(path.join(__dirname, 'lua', 'claimDue-2.lua'), 'utf8');
const RESTORE_MISSING = readFileSync(path.join(__dirname, 'lua', 'restoreMissing-1.lua'), 'utf8');
const REQUEUE_EXPIRED = readFileSync(path.join(__dirname, 'lua', 'requeueExpired-2.lua'), 'utf8');

/** The timer index in Redis: one due set and one lease set per shard. */
export class RedisTimerIndex implements TimerIndex {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    readonly shardCount: number,
  ) {}

  async schedule(timers: IndexedTimer[]): Promise<void> {
    if (timers.length === 0) return;
    const multi = this.redis.multi();
    for (const t of timers) {
      const keys = timerKeys(this.prefix, shardOf(t.tenantId, this.shardCount));
      multi.zAdd(keys.due, { score: t.dueAtMs, value: t.timerId });
    }
    await multi.exec();
  }

  async restore(timers: IndexedTimer[]): Promise<number> {
    const byShard = new Map<number, string[]>();
    for (const t of timers) {
      const shard = shardOf(t.tenantId, this.shardCount);
      const args = byShard.get(shard) ?? [];
      args.push(String(t.dueAtMs), t.timerId);
      byShard.set(shard, args);
    }
    let added = 0;
    for (const [shard, args] of byShard) {
      const keys = timerKeys(this.prefix, shard);
      added += Number(
        await this.redis.eval(RESTORE_MISSING, { keys: [keys.due, keys.lease], arguments: args }),
      );
    }
    return added;
  }

  async unschedule(timers: Array<Pick<IndexedTimer, 'timerId' | 'tenantId'>>): Promise<void> {
    if (timers.length === 0) return;
    const multi = this.redis.multi();
    for (const t of timers) {
      multi.zRem(timerKeys(this.prefix, shardOf(t.tenantId, this.shardCount)).due, t.timerId);
    }
    await multi.exec();
  }

  async claimDue(
    shard: number,
    nowMs: number,
    limit: number,
    leaseMs: number,
  ): Promise<ClaimedTimer[]> {
    const keys = timerKeys(this.prefix, shard);
    const reply = (await this.redis.eval(CLAIM_DUE, {
      keys: [keys.due, keys.lease],
      arguments: [String(nowMs), String(limit), String(nowMs + leaseMs)],
    })) as string[];
    const claimed: ClaimedTimer[] = [];
    for (let i = 0; i < reply.length; i += 2) {
      claimed.push({ timerId: reply[i], shard, dueAtMs: Number(reply[i + 1]) });
    }
    return claimed;
  }

  async ack(shard: number, timerIds: string[]): Promise<void> {
    if (timerIds.length === 0) return;
    await this.redis.zRem(timerKeys(this.prefix, shard).lease, timerIds);
  }

  async requeueExpired(shard: number, nowMs: number): Promise<number> {
    const keys = timerKeys(this.prefix, shard);
    return Number(
      await this.redis.eval(REQUEUE_EXPIRED, {
        keys: [keys.lease, keys.due],
        arguments: [String(nowMs), '1000'],
      }),
    );
  }

  async earliestDueMs(): Promise<number | null> {
    let earliest: number | null = null;
    for (let shard = 0; shard < this.shardCount; shard++) {
      const [first] = await this.redis.zRangeWithScores(timerKeys(this.prefix, shard).due, 0, 0);
      if (first && (earliest === null || first.score < earliest)) earliest = first.score;
    }
    return earliest;
  }

  async clear(): Promise<void> {
    const keys: string[] = [];
    for (let shard = 0; shard < this.shardCount; shard++) {
      const k = timerKeys(this.prefix, shard);
      keys.push(k.due, k.lease);
    }
    await this.redis.del(keys);
  }

  async close(): Promise<void> {}
}
