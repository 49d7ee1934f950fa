import { createClient } from 'redis';
import type { Logger } from '../logger';

function newClient(url: string) {
  return createClient({ url });
}

/** One alias for the node-redis client type (its generics are strict; STACK.md #17). */
export type Redis = ReturnType<typeof newClient>;

export interface RedisSafetyOptions {
  /**
   * `NUDGE_REDIS_ALLOW_EVICTION`: start even when Redis may evict Nudge's keys (a warn line
   * says so). Off by default: such a Redis refuses start-up.
   */
  allowEviction?: boolean;
  /** Where the warnings go: the override in use, or an eviction policy that cannot be read. */
  log?: Pick<Logger, 'warn'>;
}

/**
 * Start-up refused because Redis may evict keys (C23): a timer whose index entry is evicted
 * fires only once the periodic PostgreSQL sweep re-indexes it, late. Names the policy and the
 * fix.
 */
export class RedisEvictionPolicyError extends Error {
  constructor(readonly policy: string) {
    super(
      `redis maxmemory-policy is "${policy}", which lets Redis evict any key, including ` +
        `Nudge's timer index and leases; set "maxmemory-policy noeviction" on the Redis ` +
        `server (CONFIG SET maxmemory-policy noeviction, and in redis.conf), or set ` +
        `NUDGE_REDIS_ALLOW_EVICTION=true to start anyway`,
    );
    this.name = 'RedisEvictionPolicyError';
  }
}

/**
 * Policies under which Redis never evicts a key without a TTL. Nudge sets no TTL on any key,
 * so `noeviction` and every `volatile-*` policy keep its keys; anything else (`allkeys-*`, or
 * a policy this version does not know) may drop them.
 */
export function evictionPolicyKeepsNudgeKeys(policy: string): boolean {
  return policy === 'noeviction' || policy.startsWith('volatile-');
}

/**
 * Connects a node-redis client; errors after connect go to `onError`. Then reads the server's
 * `maxmemory-policy`: a policy that may evict Nudge's keys refuses start-up with
 * `RedisEvictionPolicyError` unless `allowEviction` is set (then a warn line); a server that
 * refuses `CONFIG GET` (managed Redis) gets a warn line and the connection is used as is.
 */
export async function connectRedis(
  url: string,
  onError: (err: Error) => void,
  options: RedisSafetyOptions = {},
): Promise<Redis> {
  const client = newClient(url);
  client.on('error', onError);
  await client.connect();
  try {
    await checkEvictionPolicy(client, options);
  } catch (err) {
    client.destroy();
    throw err;
  }
  return client;
}

async function checkEvictionPolicy(client: Redis, options: RedisSafetyOptions): Promise<void> {
  let policy: string | undefined;
  try {
    policy = (await client.configGet('maxmemory-policy'))['maxmemory-policy'];
  } catch (err) {
    options.log?.warn(
      { code: 'REDIS_CONFIG_UNREADABLE', err },
      'could not read the redis eviction policy (CONFIG GET refused); ' +
        'make sure the server runs with maxmemory-policy noeviction',
    );
    return;
  }
  if (policy === undefined) {
    options.log?.warn(
      { code: 'REDIS_CONFIG_UNREADABLE' },
      'redis did not report its eviction policy; ' +
        'make sure the server runs with maxmemory-policy noeviction',
    );
    return;
  }
  if (evictionPolicyKeepsNudgeKeys(policy)) return;
  if (!options.allowEviction) throw new RedisEvictionPolicyError(policy);
  options.log?.warn(
    { code: 'REDIS_EVICTION_ALLOWED', policy },
    `redis maxmemory-policy is "${policy}" and may evict timer keys; starting anyway because ` +
      'NUDGE_REDIS_ALLOW_EVICTION=true (evicted timers fire late, after the next sweep)',
  );
}
