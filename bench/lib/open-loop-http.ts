import http from 'node:http';
import { runPaced } from './open-loop-pacer';
import { summarizeLatencies, type LatencySummary } from './latency-summary';
import { wallClockMs } from './wall-clock';

/**
 * Open-loop HTTP POSTs (B3): request `seq` goes out at its scheduled time whether or not
 * earlier ones were answered, over keep-alive connections (up to `maxSockets`; a request
 * waiting for a free socket counts its wait in its round trip). `body(seq, sentAtMs)` builds
 * each body at the moment it is sent, so it can carry its own send time.
 */
export interface OpenLoopHttpOptions {
  url: string;
  /** Headers of request `seq` (besides content-type and length). */
  headers: (seq: number) => Record<string, string>;
  ratePerSec: number;
  count: number;
  body: (seq: number, sentAtMs: number) => string;
  /** Whether an answer counts as a success. */
  isOk: (status: number, body: string) => boolean;
  maxSockets?: number;
  /** A request unanswered after this long fails (default 30 s). */
  timeoutMs?: number;
  /**
   * Stop sending once this many requests are unanswered: the server is so far behind that
   * going on would only grow its backlog (the run is then reported as saturated).
   */
  maxOutstanding?: number;
}

export interface OpenLoopHttpResult {
  /** Requests sent: `count`, or fewer when `maxOutstanding` stopped the run. */
  sent: number;
  /** Wall-clock send time of each request (ms). */
  sentAtMs: Float64Array;
  /** Send → complete answer, ms (NaN for a failed request). */
  roundTripMs: Float64Array;
  ok: number;
  failed: number;
  firstFailure: string | null;
  roundTrip: LatencySummary;
  /** Send time − scheduled time. */
  lag: LatencySummary;
}

export async function sendOpenLoop(options: OpenLoopHttpOptions): Promise<OpenLoopHttpResult> {
  const url = new URL(options.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 256 });
  const sentAtMs = new Float64Array(options.count);
  const roundTripMs = new Float64Array(options.count).fill(NaN);
  let ok = 0;
  let failed = 0;
  let firstFailure: string | null = null;
  let answered = 0;
  let expected = options.count;
  let allAnswered: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allAnswered = resolve));
  const settled = new Uint8Array(options.count);
  const settle = (seq: number, success: boolean, problem?: string) => {
    if (settled[seq]) return;
    settled[seq] = 1;
    if (success) {
      ok++;
      roundTripMs[seq] = wallClockMs() - sentAtMs[seq];
    } else {
      failed++;
      firstFailure ??= problem ?? 'failed';
    }
    if (++answered === expected) allAnswered();
  };

  const maxOutstanding = options.maxOutstanding ?? Infinity;
  const paced = await runPaced(options.count, options.ratePerSec, (seq) => {
    if (seq - answered >= maxOutstanding) return false;
    const sent = wallClockMs();
    sentAtMs[seq] = sent;
    const payload = options.body(seq, sent);
    const request = http.request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          ...options.headers(seq),
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
        timeout: options.timeoutMs ?? 30_000,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          const success = options.isOk(response.statusCode ?? 0, text);
          settle(
            seq,
            success,
            success ? undefined : `HTTP ${response.statusCode}: ${text.slice(0, 300)}`,
          );
        });
        response.on('error', (err) => settle(seq, false, err.message));
      },
    );
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', (err) => settle(seq, false, err.message));
    request.end(payload);
  });
  if (answered < paced.fired) {
    expected = paced.fired;
    await done;
  }
  agent.destroy();
  const answeredTrips = Array.from(roundTripMs).filter((v) => !Number.isNaN(v));
  return {
    sent: paced.fired,
    sentAtMs,
    roundTripMs,
    ok,
    failed,
    firstFailure,
    roundTrip: summarizeLatencies(answeredTrips),
    lag: paced.lag,
  };
}
