import { createClient } from 'redis';

/** Deletes every Redis key that starts with `prefix` (SCAN + UNLINK); returns how many. */
export async function deleteRedisKeys(redisUrl: string, prefix: string): Promise<number> {
  if (prefix.length < 4) throw new Error(`refusing to delete keys by the short prefix "${prefix}"`);
  const client = createClient({ url: redisUrl });
  client.on('error', () => undefined);
  await client.connect();
  let deleted = 0;
  try {
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) deleted += await client.unlink(keys);
    }
  } finally {
    client.destroy();
  }
  return deleted;
}
