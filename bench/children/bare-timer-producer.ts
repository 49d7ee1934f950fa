import { createClient } from 'redis';
import { emitJson } from '../lib/pinned-child';

/**
 * Producer of the bare sorted-set timer (BASELINES §7): ZADDs `count` members
 * `t<i>|<dueMs>|<addedMs>` scored by their due time, 1,000 per command, a few commands in
 * flight. Due times are uniform at random in [windowStartMs, windowStartMs + windowMs), where
 * the window starts `leadMs` after the producer is connected (so its start-up does not eat
 * the lead).
 *
 * Usage: bare-timer-producer.ts <redisUrl> <key> <count> <leadMs> <windowMs> [tag].
 * `tag` keeps the members of separate calls apart. Prints
 * `{ windowStartMs, addMs, addedAfterDue }`.
 */

const PER_COMMAND = 1_000;
const IN_FLIGHT = 8;

async function main() {
  const [redisUrl, key, countText, leadText, windowText, tag = 'w'] = process.argv.slice(2);
  const count = Number(countText);
  const windowMs = Number(windowText);
  const redis = createClient({ url: redisUrl });
  redis.on('error', () => undefined);
  await redis.connect();
  const windowStartMs = Date.now() + Number(leadText);

  const started = Date.now();
  let next = 0;
  let addedAfterDue = 0;
  const worker = async () => {
    while (next < count) {
      const from = next;
      next += PER_COMMAND;
      const addedMs = Date.now();
      const members = [];
      for (let i = from; i < Math.min(from + PER_COMMAND, count); i++) {
        const dueMs = windowStartMs + Math.floor(Math.random() * windowMs);
        if (dueMs < addedMs) addedAfterDue++;
        members.push({ score: dueMs, value: `t${tag}${i}|${dueMs}|${addedMs}` });
      }
      await redis.zAdd(key, members);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  emitJson({ windowStartMs, addMs: Date.now() - started, addedAfterDue });
  redis.destroy();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
