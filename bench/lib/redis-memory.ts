import { createClient } from 'redis';

/**
 * Redis `used_memory` for the memory workload (B6). The Redis server is shared (other tests
 * may write to it at the same moment), so a reading waits until lazily freed objects are
 * gone (`lazyfree_pending_objects` = 0: an UNLINKed big key is freed in the background) and
 * takes the median of a few samples; the caller repeats the measurement and reports the
 * spread.
 */
export async function usedMemoryBytes(redisUrl: string): Promise<number> {
  const redis = createClient({ url: redisUrl });
  redis.on('error', () => undefined);
  await redis.connect();
  try {
    const field = (info: string, name: string) =>
      Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? NaN);
    for (let waited = 0; waited < 10_000; waited += 100) {
      if (field(await redis.info('memory'), 'lazyfree_pending_objects') === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const samples: number[] = [];
    for (let i = 0; i < 3; i++) {
      samples.push(field(await redis.info('memory'), 'used_memory'));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return samples.sort((a, b) => a - b)[1];
  } finally {
    redis.destroy();
  }
}
