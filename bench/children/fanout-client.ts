import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { emitJson, rssOf } from '../lib/pinned-child';
import { openSubscriberPool } from '../lib/ws-subscriber-pool';
import { runPaced } from '../lib/open-loop-pacer';
import { summarizeLatencies } from '../lib/latency-summary';
import { wallClockMs } from '../lib/wall-clock';
import type { FanoutClientSpec, FanoutPhase, FanoutPhaseResult } from '../lib/fanout-client-runs';

/**
 * Child script (run pinned to core 1 by `bench/lib/fanout-client-runs.ts`): the clients and
 * the publisher of the fan-out measurements. For each phase it opens that phase's graphql-ws
 * subscriptions to `triggerFired`, then (deliver) publishes firings in Nudge's bus format on
 * a Redis channel — the server under test, Nudge or the plain baseline, turns each into one
 * `next` per subscriber — or (idle) lets them sit and reads the server's memory. Sockets are
 * closed at the end of each phase.
 *
 * Each firing's `triggerName` carries `f|<seq>|<publish wall-clock ms>`, so every delivery
 * gives its latency (receive − publish, same machine clock) and its (subscriber, seq) pair,
 * from which lost and duplicate deliveries are counted. Before measuring, probes
 * (`probe|…`) are published until every subscriber has received one: graphql-ws does not
 * acknowledge a subscription, so this is how we know all are live.
 *
 * argv[2]: a `FanoutClientSpec` as JSON. Prints `{"phases":[FanoutPhaseResult…]}`.
 */

const QUERY = `subscription Fired {
  triggerFired { trigger { id name } customer { externalId } firedAt enrollmentId }
}`;

interface FiringData {
  triggerFired?: { trigger?: { name?: string } };
}

type Publish = (triggerName: string, atMs: number) => void;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function runPhase(
  spec: FanoutClientSpec,
  phase: FanoutPhase,
  publish: Publish,
): Promise<FanoutPhaseResult> {
  const subscribers = phase.subscribers;
  const firings = phase.mode === 'deliver' ? (phase.firings ?? 0) : 0;
  const probed = new Uint8Array(subscribers);
  let probedCount = 0;
  const seen = new Uint8Array(subscribers * firings);
  const latencies = new Float64Array(subscribers * firings);
  let delivered = 0;
  let duplicates = 0;
  let unexpected = 0;
  let lastReceiveMs = 0;

  if (phase.mode === 'idle') await sleep(phase.settleMs ?? 1000); // let start-up garbage go
  const serverRssBeforeBytes = phase.mode === 'idle' ? rssOf(spec.serverPid) : 0;
  const pool = await openSubscriberPool({
    url: spec.wsUrl,
    count: subscribers,
    connectionParams: () => (spec.authorization ? { authorization: spec.authorization } : {}),
    query: QUERY,
    onNext(index, data, receivedAtMs) {
      const name = (data as FiringData)?.triggerFired?.trigger?.name ?? '';
      const [kind, seqText, sentText] = name.split('|');
      if (kind === 'probe') {
        if (!probed[index]) {
          probed[index] = 1;
          probedCount++;
        }
        return;
      }
      const seq = Number(seqText);
      if (kind !== 'f' || !(seq >= 0 && seq < firings)) {
        unexpected++;
        return;
      }
      const slot = index * firings + seq;
      if (seen[slot]) {
        duplicates++;
        return;
      }
      seen[slot] = 1;
      latencies[delivered++] = receivedAtMs - Number(sentText);
      lastReceiveMs = receivedAtMs;
    },
  });

  try {
    // Publish a probe; publish another only once deliveries have stopped for 500 ms.
    const probeStarted = wallClockMs();
    while (probedCount < subscribers) {
      if (wallClockMs() - probeStarted > 60_000) {
        throw new Error(`only ${probedCount} of ${subscribers} subscriptions became live in 60 s`);
      }
      publish(`probe|0|0`, wallClockMs());
      let last = probedCount;
      let quietSince = wallClockMs();
      while (probedCount < subscribers && wallClockMs() - quietSince < 500) {
        await sleep(10);
        if (probedCount !== last) {
          last = probedCount;
          quietSince = wallClockMs();
        }
      }
    }
    const probeMs = wallClockMs() - probeStarted;

    const common = {
      name: phase.name,
      subscribers,
      openMs: pool.openMs,
      probeMs,
      problems: pool.problems,
    };
    if (phase.mode === 'idle') {
      await sleep(phase.settleMs ?? 1000);
      return {
        ...common,
        closedEarly: pool.closedEarly(),
        ...emptyDelivery(),
        serverRssBeforeBytes,
        serverRssAfterBytes: rssOf(spec.serverPid),
        clientRssAfterBytes: process.memoryUsage.rss(),
      };
    }

    await sleep(100); // late probe deliveries, if any, arrive before the measured firings
    const expected = subscribers * firings;
    const ratePerSec = phase.ratePerSec ?? 1;
    const paced = await runPaced(firings, ratePerSec, (seq) => {
      const now = wallClockMs();
      publish(`f|${seq}|${now}`, now);
    });
    const deadline = paced.endedAtMs + (phase.drainTimeoutMs ?? 5000);
    while (delivered < expected && wallClockMs() < deadline) await sleep(5);
    await sleep(50); // a duplicate, if the server sent one, would arrive right behind
    return {
      ...common,
      closedEarly: pool.closedEarly(),
      published: firings,
      expected,
      delivered,
      lost: expected - delivered,
      duplicates,
      unexpected,
      latency: summarizeLatencies(latencies.subarray(0, delivered)),
      deliveriesPerSec: delivered / ((lastReceiveMs - paced.startedAtMs) / 1000),
      offeredPerSec: subscribers * ratePerSec,
      publishLagMaxMs: paced.lag.max,
      serverRssBeforeBytes: 0,
      serverRssAfterBytes: 0,
      clientRssAfterBytes: process.memoryUsage.rss(),
    };
  } finally {
    await pool.close();
  }
}

function emptyDelivery() {
  return {
    published: 0,
    expected: 0,
    delivered: 0,
    lost: 0,
    duplicates: 0,
    unexpected: 0,
    latency: summarizeLatencies([]),
    deliveriesPerSec: NaN,
    offeredPerSec: 0,
    publishLagMaxMs: NaN,
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as FanoutClientSpec;
  const publisher = createClient({ url: spec.redisUrl });
  publisher.on('error', (err: Error) => process.stderr.write(`redis: ${err.message}\n`));
  await publisher.connect();
  const triggerId = randomUUID();
  const publishFailures: string[] = [];
  const publish: Publish = (triggerName, atMs) => {
    const firing = {
      tenantId: spec.tenantId,
      triggerId,
      triggerName,
      customerExternalId: 'bench-customer',
      enrollmentId: randomUUID(),
      firedAt: new Date(atMs).toISOString(),
    };
    publisher
      .publish(spec.channel, JSON.stringify(firing))
      .catch((err: Error) => publishFailures.push(err.message));
  };

  const phases: FanoutPhaseResult[] = [];
  for (const phase of spec.phases) {
    const result = await runPhase(spec, phase, publish);
    result.problems.push(...publishFailures.splice(0, 5));
    phases.push(result);
  }
  await publisher.quit();
  emitJson({ phases });
  process.exit(0);
}

main().catch((err: Error) => {
  process.stderr.write(`fanout client failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
