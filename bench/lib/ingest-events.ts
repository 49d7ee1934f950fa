/**
 * The events B1, B2 and B8 send, defined once so the product and its baselines get the same
 * rows: `page_viewed` events from a pool of 10,000 customers, each with a unique `messageId`
 * (so every request stores new events) and three small properties (~60 bytes of JSON).
 * Also the request bodies the load generator sends, built per request from a sequence number.
 */

export const INGEST_EVENT_NAME = 'page_viewed';
export const CUSTOMER_POOL = 10_000;
/** Each bench trigger matches one `bucket` value, so each matches 1 event in 1,000. */
export const BUCKETS = 1_000;

export interface BenchEvent {
  customerIndex: number;
  event: string;
  properties: { path: string; bucket: number; value: number };
  messageId: string;
}

export function customerExternalId(index: number): string {
  return `cust-${index}`;
}

/**
 * Event number `seq` of the run tagged `runTag`. Customers are spread over the pool by a
 * multiplicative step, so consecutive events (and the events of one batch) mostly belong to
 * different customers, as in real traffic.
 */
export function benchEvent(runTag: string, seq: number): BenchEvent {
  return {
    customerIndex: (seq * 7919) % CUSTOMER_POOL,
    event: INGEST_EVENT_NAME,
    properties: { path: `/products/${seq % 5000}`, bucket: seq % BUCKETS, value: seq % 97 },
    messageId: `${runTag}-${seq}`,
  };
}

/** The `TrackInput` of an event, as a client sends it. */
export function trackInput(event: BenchEvent) {
  return {
    customerExternalId: customerExternalId(event.customerIndex),
    event: event.event,
    properties: event.properties,
    messageId: event.messageId,
  };
}

export const TRACK_QUERY =
  'mutation Track($input: TrackInput!) { track(input: $input) { eventId duplicate } }';
export const TRACK_BATCH_QUERY =
  'mutation TrackBatch($events: [TrackInput!]!) { trackBatch(events: $events) { accepted duplicates } }';

/** What a successful answer contains (the load generator counts other answers as errors). */
export const TRACK_OK = '"duplicate":false';
export const trackBatchOk = (batchSize: number) => `"accepted":${batchSize}`;

/** Body factory for `http-load-child.ts`: request `seq` tracks one event. */
export function trackBodies(params: { runTag: string }): (seq: number) => string {
  return (seq) =>
    JSON.stringify({
      query: TRACK_QUERY,
      variables: { input: trackInput(benchEvent(params.runTag, seq)) },
    });
}

/** Body factory for `http-load-child.ts`: request `seq` tracks events seq·n … seq·n+n−1. */
export function trackBatchBodies(params: {
  runTag: string;
  batchSize: number;
}): (seq: number) => string {
  return (seq) => {
    const events = new Array(params.batchSize);
    for (let k = 0; k < params.batchSize; k++) {
      events[k] = trackInput(benchEvent(params.runTag, seq * params.batchSize + k));
    }
    return JSON.stringify({ query: TRACK_BATCH_QUERY, variables: { events } });
  };
}
