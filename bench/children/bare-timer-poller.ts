import { createClient } from 'redis';
import { emitJson } from '../lib/pinned-child';
import { summarise } from '../lib/timer-fires';

/**
 * The bare sorted-set timer (BASELINES §2c), the physical anchor for B4 and B5: one loop that
 * claims due members with an atomic script (`ZRANGEBYSCORE key -inf now LIMIT 0 500`, then
 * `ZREM` of exactly those), does no work per timer, and sleeps 5 ms whenever it got fewer
 * than 500. Members are `t<i>|<dueMs>|<addedMs>` (the producer's format); lateness is
 * claim time − due, and a member added after its due time is counted.
 *
 * Usage: bare-timer-poller.ts <redisUrl> <key> <expected>. Prints `{"ready":true}` once
 * connected, then one summary line when `expected` members were claimed.
 */

const CLAIM = `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #due > 0 then redis.call('ZREM', KEYS[1], unpack(due)) end
return due`;
const CLAIM_LIMIT = 500;
const IDLE_SLEEP_MS = 5;

async function main() {
  const [redisUrl, key, expectedText] = process.argv.slice(2);
  const expected = Number(expectedText);
  const redis = createClient({ url: redisUrl });
  redis.on('error', () => undefined);
  await redis.connect();
  emitJson({ ready: true });

  const lateness = new Float64Array(expected);
  let claimed = 0;
  let addedAfterDue = 0;
  let firstClaimMs = 0;
  let lastClaimMs = 0;
  let polls = 0;
  while (claimed < expected) {
    const now = Date.now();
    const members = (await redis.eval(CLAIM, {
      keys: [key],
      arguments: [String(now), String(CLAIM_LIMIT)],
    })) as string[];
    polls++;
    const at = Date.now();
    for (const member of members) {
      const [, due, added] = member.split('|');
      if (claimed < expected) lateness[claimed] = at - Number(due);
      if (Number(added) > Number(due)) addedAfterDue++;
      claimed++;
    }
    if (members.length > 0) {
      if (!firstClaimMs) firstClaimMs = at;
      lastClaimMs = at;
    }
    if (members.length < CLAIM_LIMIT) await new Promise((r) => setTimeout(r, IDLE_SLEEP_MS));
  }
  emitJson({ ...summarise(lateness), addedAfterDue, firstClaimMs, lastClaimMs, polls });
  redis.destroy();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
