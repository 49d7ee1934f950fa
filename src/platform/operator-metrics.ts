import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Label values of `nudge_http_request_duration_seconds`: a small fixed set, never free text. */
export type HttpRoute = 'graphql' | 'engagement' | 'healthz' | 'metrics' | 'dashboard' | 'other';
export type OperationType = 'query' | 'mutation' | 'subscription' | 'none';
export type RequestOutcome = 'ok' | 'error';

/** Seconds: 1 ms to 10 s for request-sized work. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds: 10 ms to 1 h for how late a timer fired. */
const LATENESS_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];

/**
 * The operator's Prometheus metrics (`GET /metrics`). Each Nudge instance owns its own
 * Registry, so two instances in one process (tests) never share or double-register series.
 *
 * No label ever carries a tenant id, customer id, trigger id or an operation's name: labels
 * are drawn from small fixed sets (route, operation type, outcome, channel, timer outcome),
 * which keeps cardinality bounded whatever tenants do.
 */
export class OperatorMetrics {
  readonly registry = new Registry();

  readonly httpRequestSeconds = new Histogram({
    name: 'nudge_http_request_duration_seconds',
    help: 'HTTP requests by route, GraphQL operation type and outcome',
    labelNames: ['route', 'operation', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly ingestSeconds = new Histogram({
    name: 'nudge_event_ingest_duration_seconds',
    help: 'Engine time to store and react to tracked events, per call (track or trackBatch)',
    labelNames: ['operation', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly ingestedEvents = new Counter({
    name: 'nudge_events_received_total',
    help: 'Events received through track and trackBatch (before deduplication)',
    registers: [this.registry],
  });

  readonly timerSeconds = new Histogram({
    name: 'nudge_timer_processing_duration_seconds',
    help: 'Engine time to fire one claimed timer, by outcome',
    labelNames: ['outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly timerLatenessSeconds = new Histogram({
    name: 'nudge_timer_lateness_seconds',
    help: 'Claim time minus due time of timers, on the engine clock',
    buckets: LATENESS_BUCKETS,
    registers: [this.registry],
  });

  readonly deliverySeconds = new Histogram({
    name: 'nudge_delivery_duration_seconds',
    help: 'Provider call per message, by channel and outcome',
    labelNames: ['channel', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  /**
   * @param countPendingTimers read at scrape time (one indexed count in PostgreSQL); its
   *   failure leaves the gauge at its last value rather than failing the scrape.
   */
  constructor(countPendingTimers: () => Promise<number>) {
    new Gauge({
      name: 'nudge_timers_pending',
      help: 'Timers waiting to fire (PostgreSQL, state PENDING), read at scrape time',
      registers: [this.registry],
      async collect() {
        try {
          this.set(await countPendingTimers());
        } catch {
          // The scrape still answers; a stale value beats no metrics at all.
        }
      },
    });
    // Standard names (process_cpu_seconds_total, nodejs_heap_size_used_bytes, …) so stock
    // Node.js dashboards work unchanged.
    collectDefaultMetrics({ register: this.registry });
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
