import path from 'node:path';
import { runPinnedScript } from './pinned-child';
import type { LatencySummary } from './latency-summary';
import type { B3Triggers } from './b3-event-plan';

/**
 * The parent's side of `bench/children/b3-event-client.ts`: one open-loop `track` run from a
 * child pinned to core 1. Against Nudge (`events`) the child also holds one graphql-ws
 * `triggerFired` subscriber per tenant and matches every firing to its event; against the
 * trivial server (`roundTrips`) it only times the answers (floor (a) of B3).
 */

export interface B3ClientSpec {
  mode: 'events' | 'roundTrips';
  /** `http://…/graphql` */
  url: string;
  /** `ws://…/graphql` (events mode). */
  wsUrl: string;
  /** One ADMIN secret per tenant, in tenant order. */
  secrets: string[];
  /** Names this run's customers and message ids. */
  runTag: string;
  ratePerSec: number;
  events: number;
  triggers: B3Triggers[];
  /** How long after the last send missing firings are awaited (beyond the 1 s delay). */
  drainTimeoutMs: number;
}

export interface B3ClientResult {
  /** Requests the run was to send. */
  offered: number;
  /**
   * Requests sent: fewer than offered when the server fell 2 s of requests behind and the
   * client stopped (saturation: the open loop would only have grown the backlog).
   */
  sent: number;
  trackOk: number;
  trackFailed: number;
  firstFailure: string | null;
  /** `track` send → answer (ms). */
  trackRoundTrip: LatencySummary;
  /** Send time − scheduled time (ms): how far the generator fell behind. */
  sendLag: LatencySummary;
  /** Immediate events: subscriber receive time − `track` send time. */
  immediate: LatencySummary;
  /** Immediate events: payload `firedAt` − send time (1 ms resolution; the engine's part). */
  immediateToFiredAt: LatencySummary;
  /** Immediate events: receive time − payload `firedAt` (publish and delivery). */
  immediateFiredAtToReceive: LatencySummary;
  /** Delayed events: payload `firedAt` − due time (occurredAt + 1 s); 1 ms resolution. */
  delayedLateness: LatencySummary;
  /** Delayed events: receive time − due time. */
  delayedReceiveLateness: LatencySummary;
  /** Firings of this run per event: expected one for each accepted `track`. */
  expectedFirings: number;
  receivedFirings: number;
  /** Accepted events whose firing did not arrive by the drain deadline (lost, or late). */
  lost: number;
  duplicates: number;
  /** Firings on the wrong tenant's subscriber or of the wrong trigger. */
  misrouted: number;
  /** Firings for no event of this run (probes excluded). */
  unexpected: number;
  problems: string[];
}

export function runB3Client(
  spec: B3ClientSpec,
  workDir: string,
  timeoutMs: number,
): Promise<B3ClientResult> {
  return runPinnedScript<B3ClientResult>({
    core: 1,
    script: path.join('bench', 'children', 'b3-event-client.ts'),
    args: [JSON.stringify(spec)],
    logFile: path.join(workDir, 'b3-event-client.log'),
    timeoutMs,
  });
}
