import path from 'node:path';
import { runPinnedScript } from './pinned-child';
import type { LatencySummary } from './latency-summary';

/**
 * The parent's side of `bench/children/fanout-client.ts` (B7, and B3's delivery floor): runs
 * the client pinned to core 1 against a server (Nudge or the plain graphql-ws baseline) whose
 * firings arrive on a Redis pub/sub channel. The client runs a list of phases, each with its
 * own set of subscribers: a `deliver` phase publishes firings at a fixed rate on the channel
 * and measures their delivery; an `idle` phase opens subscribers, lets them sit, and reads the
 * server's resident memory before and after (from /proc, by pid).
 */

export interface FanoutPhase {
  name: string;
  mode: 'deliver' | 'idle';
  subscribers: number;
  /** deliver: firings published per second, and how many in all. */
  ratePerSec?: number;
  firings?: number;
  /** deliver: how long after the last publish stragglers are awaited (ms). */
  drainTimeoutMs?: number;
  /** idle: how long to wait before reading the server's memory, and again after all are live (ms). */
  settleMs?: number;
}

export interface FanoutClientSpec {
  /** `ws://…/graphql` */
  wsUrl: string;
  /** `connectionParams.authorization` (`Bearer <secret>`); null for the baseline. */
  authorization: string | null;
  redisUrl: string;
  /** Where the server listens for firings (Nudge: `<prefix>:bus:trigger-fired`). */
  channel: string;
  /** Tenant the firings belong to (Nudge routes by it). */
  tenantId: string;
  /** The server's pid, for its memory in idle phases. */
  serverPid: number;
  phases: FanoutPhase[];
}

export interface FanoutPhaseResult {
  name: string;
  subscribers: number;
  /** Ms to open every socket and get each `connection_ack`. */
  openMs: number;
  /** Ms of probing until every subscription was live. */
  probeMs: number;
  closedEarly: number;
  problems: string[];
  // deliver phases
  published: number;
  expected: number;
  /** Distinct (subscriber, firing) pairs received. */
  delivered: number;
  lost: number;
  duplicates: number;
  /** Messages that were neither a firing of this phase nor a probe. */
  unexpected: number;
  /** Receive time − publish time (ms), over every delivery. */
  latency: LatencySummary;
  /** Deliveries / (last receive − first publish). */
  deliveriesPerSec: number;
  offeredPerSec: number;
  /** How late publishes went out against their schedule (ms). */
  publishLagMaxMs: number;
  // idle phases
  serverRssBeforeBytes: number;
  serverRssAfterBytes: number;
  clientRssAfterBytes: number;
}

/** Runs the phases in order from a client pinned to core 1; one result per phase. */
export async function runFanoutClient(
  spec: FanoutClientSpec,
  workDir: string,
  timeoutMs: number,
): Promise<FanoutPhaseResult[]> {
  const { phases } = await runPinnedScript<{ phases: FanoutPhaseResult[] }>({
    core: 1,
    script: path.join('bench', 'children', 'fanout-client.ts'),
    args: [JSON.stringify(spec)],
    logFile: path.join(workDir, 'fanout-client.log'),
    timeoutMs,
  });
  return phases;
}
