import { randomBytes } from 'node:crypto';
import { connectRedis, type Redis } from '../src/platform/redis';
import { MemoryTimerIndex } from '../src/engine/timers/memory-timer-index';
import { RedisTimerIndex } from '../src/engine/timers/redis-timer-index';
import { shardOf, type TimerIndex } from '../src/engine/timers/timer-index';
import { hasRealRedis } from './support/harness';

const TENANT = '6a0f9a52-0000-4000-8000-000000000001';

/** The same contract for both implementations of the index. */
function indexContract(
  name: string,
  make: () => Promise<{ index: TimerIndex; cleanup(): Promise<void> }>,
) {
  describe(`${name} timer index`, () => {
    let index: TimerIndex;
    let cleanup: () => Promise<void>;
    let shard: number;

    beforeEach(async () => {
      ({ index, cleanup } = await make());
      shard = shardOf(TENANT, index.shardCount);
    });
    afterEach(async () => cleanup());

    it('claims only due timers, in due order, and never the same timer twice', async () => {
      await index.schedule([
        { timerId: '3', tenantId: TENANT, dueAtMs: 300 },
        { timerId: '1', tenantId: TENANT, dueAtMs: 100 },
        { timerId: '2', tenantId: TENANT, dueAtMs: 200 },
      ]);
      const [a, b] = await Promise.all([
        index.claimDue(shard, 250, 10, 1000),
        index.claimDue(shard, 250, 10, 1000),
      ]);
      const claimed = [...a, ...b].map((c) => c.timerId);
      expect(claimed.sort()).toEqual(['1', '2']);
      expect(a.length === 0 || b.length === 0).toBe(true);
      expect((a.length ? a : b).map((c) => c.dueAtMs)).toEqual([100, 200]);
      expect(await index.earliestDueMs()).toBe(300);
    });

    it('returns a timer whose lease expired, and not one that was acknowledged', async () => {
      await index.schedule([
        { timerId: '10', tenantId: TENANT, dueAtMs: 100 },
        { timerId: '11', tenantId: TENANT, dueAtMs: 100 },
      ]);
      await index.claimDue(shard, 100, 10, 500);
      await index.ack(shard, ['10']);
      expect(await index.requeueExpired(shard, 599)).toBe(0);
      expect(await index.requeueExpired(shard, 600)).toBe(1);
      const again = await index.claimDue(shard, 600, 10, 500);
      expect(again.map((c) => c.timerId)).toEqual(['11']);
    });

    it('moves a rescheduled timer instead of keeping two entries', async () => {
      await index.schedule([{ timerId: '20', tenantId: TENANT, dueAtMs: 100 }]);
      await index.schedule([{ timerId: '20', tenantId: TENANT, dueAtMs: 900 }]);
      expect(await index.claimDue(shard, 500, 10, 100)).toEqual([]);
      expect(await index.earliestDueMs()).toBe(900);
      await index.unschedule([{ timerId: '20', tenantId: TENANT }]);
      expect(await index.earliestDueMs()).toBeNull();
    });
  });
}

indexContract('in-process', async () => ({
  index: new MemoryTimerIndex(4),
  cleanup: async () => undefined,
}));

if (hasRealRedis()) {
  indexContract('Redis', async () => {
    const redis: Redis = await connectRedis(process.env.NUDGE_TEST_REDIS_URL!, () => undefined);
    const index = new RedisTimerIndex(redis, `t${randomBytes(4).toString('hex')}`, 4);
    return {
      index,
      async cleanup() {
        await index.clear();
        redis.destroy();
      },
    };
  });
} else {
  describe('Redis timer index', () => {
    it.skip('needs a real Redis at redis://127.0.0.1:6379 — not reachable, suite did not run', () =>
      undefined);
  });
}
