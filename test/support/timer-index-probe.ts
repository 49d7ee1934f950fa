import { createClient } from 'redis';
import { shardOf } from '../../src/engine/timers/timer-index';
import { timerKeys } from '../../src/engine/timers/timer-keys';
import type { Redis } from '../../src/platform/redis';

/**
 * Direct looks at (and damage to) one deployment's Redis timer index, for the suites that
 * prove the index is only an index: PostgreSQL holds every pending timer.
 */
export type RedisClient = Redis;

/** The shard count every suite runs with (the NUDGE_TIMER_SHARDS default). */
export const DEFAULT_SHARDS = 4;

export async function connectTestRedis(): Promise<RedisClient> {
  const url = process.env.NUDGE_TEST_REDIS_URL;
  if (!url) throw new Error('NUDGE_TEST_REDIS_URL is not set (needs a real Redis)');
  const client = createClient({ url });
  await client.connect();
  return client;
}

/**
 * Deletes every key of one deployment — what FLUSHDB does to a Redis the deployment has to
 * itself — without touching the keys of suites running alongside. Returns how many went.
 */
export async function deleteKeysWithPrefix(redis: RedisClient, prefix: string): Promise<number> {
  let deleted = 0;
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}:*`, COUNT: 1000 })) {
    if (keys.length > 0) deleted += await redis.del(keys);
  }
  return deleted;
}

/** The due-set score (due time, ms) of each of a tenant's timers; null where not indexed. */
export async function dueScores(
  redis: RedisClient,
  prefix: string,
  tenantId: string,
  timerIds: string[],
  shardCount = DEFAULT_SHARDS,
): Promise<Array<number | null>> {
  if (timerIds.length === 0) return [];
  const key = timerKeys(prefix, shardOf(tenantId, shardCount)).due;
  return redis.zmScore(key, timerIds);
}
