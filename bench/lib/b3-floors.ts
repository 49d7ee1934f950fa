import path from 'node:path';
import { runPinnedScript } from './pinned-child';
import { runFanoutClient } from './fanout-client-runs';
import { runB3Client } from './b3-client-runs';
import type { LatencySummary } from './latency-summary';
import type { PlainGraphqlWsProcess } from './plain-graphql-ws-process';

/**
 * The measured floors of B3 (what the event → triggerFired path cannot beat on this machine),
 * each from a client pinned to core 1 against a server pinned to core 0:
 * (a) round trip of a trivial `track` on Nudge's own HTTP integration, open loop at B3's rate;
 * (b) one single-row INSERT committed from Node (`pg`, sequential);
 * (d) delivery by a plain graphql-ws server to one subscriber at B3's firing rate, the firings
 *     published on Redis like Nudge's bus.
 * Floor (c), the timer poll interval, is configuration, not measured here.
 */

export interface B3Floors {
  roundTrip: LatencySummary;
  commit: LatencySummary;
  wsDelivery: LatencySummary;
}

export interface B3FloorOptions {
  trivialGraphqlUrl: string;
  secrets: string[];
  /** A scratch database for the commit floor's table (created and dropped there). */
  databaseUrl: string;
  plainWs: PlainGraphqlWsProcess;
  redisUrl: string;
  ratePerSec: number;
  seconds: number;
  commits: number;
  /** Run the three at once (quick mode: fast, but they disturb each other). */
  concurrently: boolean;
  workDir: string;
}

export async function measureB3Floors(options: B3FloorOptions): Promise<B3Floors> {
  const events = Math.round(options.ratePerSec * options.seconds);
  const timeoutMs = options.seconds * 1000 + 60_000;
  const roundTrip = async () => {
    const result = await runB3Client(
      {
        mode: 'roundTrips',
        url: options.trivialGraphqlUrl,
        wsUrl: '',
        secrets: options.secrets,
        runTag: 'b3floor',
        ratePerSec: options.ratePerSec,
        events,
        triggers: [],
        drainTimeoutMs: 0,
      },
      options.workDir,
      timeoutMs,
    );
    if (result.trackFailed) throw new Error(`trivial track failed: ${result.firstFailure}`);
    return result.trackRoundTrip;
  };
  const commit = async () =>
    (
      await runPinnedScript<{ commit: LatencySummary }>({
        core: 1,
        script: path.join('bench', 'children', 'pg-commit-floor.ts'),
        args: [options.databaseUrl, String(options.commits)],
        logFile: path.join(options.workDir, 'pg-commit-floor.log'),
        timeoutMs: 60_000,
      })
    ).commit;
  const wsDelivery = async () => {
    const [delivery] = await runFanoutClient(
      {
        wsUrl: options.plainWs.wsUrl,
        authorization: null,
        redisUrl: options.redisUrl,
        channel: options.plainWs.channel,
        tenantId: 'b3-floor',
        serverPid: options.plainWs.child.pid,
        phases: [
          {
            name: 'ws floor',
            mode: 'deliver',
            subscribers: 1,
            ratePerSec: options.ratePerSec,
            firings: events,
            drainTimeoutMs: 5000,
          },
        ],
      },
      options.workDir,
      timeoutMs,
    );
    if (delivery.lost || delivery.duplicates) {
      throw new Error(`plain graphql-ws floor lost ${delivery.lost}, dup ${delivery.duplicates}`);
    }
    return delivery.latency;
  };

  if (options.concurrently) {
    const [a, b, d] = await Promise.all([roundTrip(), commit(), wsDelivery()]);
    return { roundTrip: a, commit: b, wsDelivery: d };
  }
  return { roundTrip: await roundTrip(), commit: await commit(), wsDelivery: await wsDelivery() };
}
