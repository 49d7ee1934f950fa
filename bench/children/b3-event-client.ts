import { emitJson } from '../lib/pinned-child';
import { openSubscriberPool, type SubscriberPool } from '../lib/ws-subscriber-pool';
import { sendOpenLoop } from '../lib/open-loop-http';
import { summarizeLatencies } from '../lib/latency-summary';
import { wallClockMs } from '../lib/wall-clock';
import {
  DELAY_MS,
  DELAYED_EVENT,
  IMMEDIATE_EVENT,
  customerOf,
  kindOf,
  seqOf,
  tenantIndexOf,
} from '../lib/b3-event-plan';
import type { B3ClientResult, B3ClientSpec } from '../lib/b3-client-runs';

/**
 * Child script of B3 (run pinned to core 1 by `bench/lib/b3-client-runs.ts`).
 *
 * `events` mode: opens one `triggerFired` subscriber per tenant, proves each is live with a
 * probe event, then sends `events` `track` calls open loop at `ratePerSec` (the plan in
 * `b3-event-plan.ts`: even events fire at once, odd ones at occurredAt + 1 s; occurredAt is
 * the send time, truncated to the millisecond). Every firing received is matched to its event
 * by the customer's external id; the event's send time, the firing's `firedAt` and the receive
 * time give the latencies. Lost = accepted events without a firing received by the drain
 * deadline (late or lost); duplicates = firings beyond the first per event. When 2 s worth of requests are unanswered the client stops
 * sending (the server is saturated; the open loop would only grow its backlog) and reports
 * how many it sent.
 *
 * `roundTrips` mode: the same requests, open loop at the same rate, to a server that only
 * answers (the trivial-mutation floor); only answer times are measured.
 *
 * argv[2]: a `B3ClientSpec` as JSON. Prints one `B3ClientResult` line.
 */

const TRACK = 'mutation Track($input: TrackInput!) { track(input: $input) { eventId duplicate } }';
const SUBSCRIPTION =
  'subscription Fired { triggerFired { trigger { id } customer { externalId } firedAt } }';

interface FiringData {
  triggerFired?: {
    trigger?: { id?: string };
    customer?: { externalId?: string };
    firedAt?: string;
  };
}

/** Sending stops once this many seconds' worth of requests are unanswered (saturation). */
const MAX_BACKLOG_SEC = 2;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function trackBody(
  customerExternalId: string,
  event: string,
  occurredAtMs: number,
  messageId: string,
) {
  return JSON.stringify({
    query: TRACK,
    variables: {
      input: {
        customerExternalId,
        event,
        occurredAt: new Date(Math.floor(occurredAtMs)).toISOString(),
        messageId,
      },
    },
  });
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2]) as B3ClientSpec;
  const tenants = spec.secrets.length;
  const n = spec.events;
  const firstReceiveMs = new Float64Array(n).fill(NaN);
  const firedAtMs = new Float64Array(n).fill(NaN);
  const firingsPerEvent = new Uint16Array(n);
  let misrouted = 0;
  let unexpected = 0;
  let received = 0;
  const probeSeen = new Uint8Array(tenants);
  const probePrefix = `${spec.runTag}-probe-`;

  let pool: SubscriberPool | null = null;
  if (spec.mode === 'events') {
    pool = await openSubscriberPool({
      url: spec.wsUrl,
      count: tenants,
      connectionParams: (t) => ({ authorization: `Bearer ${spec.secrets[t]}` }),
      query: SUBSCRIPTION,
      onNext(tenant, data, receivedAtMs) {
        const firing = (data as FiringData)?.triggerFired;
        const customer = firing?.customer?.externalId;
        if (customer?.startsWith(probePrefix)) {
          probeSeen[tenant] = 1;
          return;
        }
        const seq = seqOf(spec.runTag, customer);
        if (seq === null || seq >= n) {
          unexpected++;
          return;
        }
        received++;
        const kind = kindOf(seq);
        const expectedTenant = tenantIndexOf(seq, tenants);
        if (tenant !== expectedTenant || firing?.trigger?.id !== spec.triggers[tenant][kind]) {
          misrouted++;
        }
        if (firingsPerEvent[seq]++ === 0) {
          firstReceiveMs[seq] = receivedAtMs;
          firedAtMs[seq] = Date.parse(firing?.firedAt ?? '');
        }
      },
    });
    await proveSubscribersLive(spec, probeSeen, probePrefix);
  }

  const sent = await sendOpenLoop({
    url: spec.url,
    ratePerSec: spec.ratePerSec,
    count: n,
    headers: (seq) => ({ authorization: `Bearer ${spec.secrets[tenantIndexOf(seq, tenants)]}` }),
    body: (seq, sentAtMs) =>
      trackBody(
        customerOf(spec.runTag, seq),
        kindOf(seq) === 'immediate' ? IMMEDIATE_EVENT : DELAYED_EVENT,
        sentAtMs,
        `${spec.runTag}-${seq}`,
      ),
    maxOutstanding: Math.max(200, spec.ratePerSec * MAX_BACKLOG_SEC),
    isOk: (status, body) =>
      status === 200 && body.includes('"eventId"') && !body.includes('"errors"'),
  });

  const accepted = (seq: number) => !Number.isNaN(sent.roundTripMs[seq]);
  let expectedFirings = 0;
  for (let seq = 0; seq < n; seq++) if (accepted(seq)) expectedFirings++;
  if (pool) {
    const deadline = wallClockMs() + DELAY_MS + spec.drainTimeoutMs;
    const allIn = () => {
      for (let seq = 0; seq < n; seq++)
        if (accepted(seq) && firingsPerEvent[seq] === 0) return false;
      return true;
    };
    while (!allIn() && wallClockMs() < deadline) await sleep(20);
    await sleep(200); // a duplicate, if any, would come right behind
  }

  const immediate: number[] = [];
  const immediateToFiredAt: number[] = [];
  const immediateFiredAtToReceive: number[] = [];
  const delayedLateness: number[] = [];
  const delayedReceiveLateness: number[] = [];
  let lost = 0;
  let duplicates = 0;
  for (let seq = 0; seq < n && pool; seq++) {
    if (firingsPerEvent[seq] > 1) duplicates += firingsPerEvent[seq] - 1;
    if (!accepted(seq)) continue;
    if (firingsPerEvent[seq] === 0) {
      lost++;
      continue;
    }
    const sentAt = sent.sentAtMs[seq];
    if (kindOf(seq) === 'immediate') {
      immediate.push(firstReceiveMs[seq] - sentAt);
      immediateToFiredAt.push(firedAtMs[seq] - Math.floor(sentAt));
      immediateFiredAtToReceive.push(firstReceiveMs[seq] - firedAtMs[seq]);
    } else {
      const dueMs = Math.floor(sentAt) + DELAY_MS;
      delayedLateness.push(firedAtMs[seq] - dueMs);
      delayedReceiveLateness.push(firstReceiveMs[seq] - dueMs);
    }
  }

  const result: B3ClientResult = {
    offered: n,
    sent: sent.sent,
    trackOk: sent.ok,
    trackFailed: sent.failed,
    firstFailure: sent.firstFailure,
    trackRoundTrip: sent.roundTrip,
    sendLag: sent.lag,
    immediate: summarizeLatencies(immediate),
    immediateToFiredAt: summarizeLatencies(immediateToFiredAt),
    immediateFiredAtToReceive: summarizeLatencies(immediateFiredAtToReceive),
    delayedLateness: summarizeLatencies(delayedLateness),
    delayedReceiveLateness: summarizeLatencies(delayedReceiveLateness),
    expectedFirings: pool ? expectedFirings : 0,
    receivedFirings: received,
    lost,
    duplicates,
    misrouted,
    unexpected,
    problems: pool?.problems ?? [],
  };
  await pool?.close();
  emitJson(result);
  process.exit(0);
}

/** Tracks a probe event per tenant (re-sent each second) until its subscriber sees it. */
async function proveSubscribersLive(
  spec: B3ClientSpec,
  probeSeen: Uint8Array,
  probePrefix: string,
): Promise<void> {
  const started = wallClockMs();
  for (let attempt = 0; probeSeen.includes(0); attempt++) {
    if (wallClockMs() - started > 30_000) throw new Error('subscribers saw no probe in 30 s');
    for (let t = 0; t < spec.secrets.length; t++) {
      if (probeSeen[t]) continue;
      const response = await fetch(spec.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${spec.secrets[t]}` },
        body: trackBody(
          `${probePrefix}${t}`,
          IMMEDIATE_EVENT,
          Date.now(),
          `${probePrefix}${t}-${attempt}`,
        ),
      });
      const text = await response.text();
      if (!response.ok || text.includes('"errors"')) throw new Error(`probe track failed: ${text}`);
    }
    for (let waited = 0; waited < 1000 && probeSeen.includes(0); waited += 10) await sleep(10);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`b3 client failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
