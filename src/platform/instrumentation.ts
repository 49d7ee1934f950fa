import type { ChannelAdapter } from '../engine/channels/channel';
import type { IngestService } from '../engine/ingestion/ingest.service';
import type { TimerIndex } from '../engine/timers/timer-index';
import type { TimerProcessor } from '../engine/timers/timer-processor';
import type { Database } from './database';
import type { OperatorMetrics } from './operator-metrics';

/*
 * Operator metrics are measured at the seams the composition root already owns: the channel
 * adapters it hands to delivery, the timer index and processor it hands to the runner, the
 * ingest service it hands to resolvers. The engine itself stays free of metrics code.
 */

const seconds = (startedNs: bigint) => Number(process.hrtime.bigint() - startedNs) / 1e9;

/** Wraps an adapter so each provider call is timed by channel and outcome. */
export function timedAdapter(adapter: ChannelAdapter, metrics: OperatorMetrics): ChannelAdapter {
  return {
    channel: adapter.channel,
    retriesAreIdempotent: adapter.retriesAreIdempotent,
    async deliver(message) {
      const started = process.hrtime.bigint();
      let outcome = 'error';
      try {
        const result = await adapter.deliver(message);
        outcome = result.ok ? 'ok' : result.permanent ? 'permanent' : 'transient';
        return result;
      } finally {
        metrics.deliverySeconds.observe({ channel: adapter.channel, outcome }, seconds(started));
      }
    },
    close: adapter.close?.bind(adapter),
  };
}

/**
 * Times `track` and `trackBatch` on this service instance. A `track` that goes through
 * `trackBatch` is observed once, as `track`.
 */
export function instrumentIngest(ingest: IngestService, metrics: OperatorMetrics): void {
  const inTrack = new WeakSet<object>();
  const track = ingest.track.bind(ingest);
  const trackBatch = ingest.trackBatch.bind(ingest);

  ingest.track = async (ctx, command) => {
    const started = process.hrtime.bigint();
    let outcome = 'error';
    inTrack.add(ctx);
    try {
      const result = await track(ctx, command);
      outcome = 'ok';
      return result;
    } finally {
      inTrack.delete(ctx);
      metrics.ingestedEvents.inc();
      metrics.ingestSeconds.observe({ operation: 'track', outcome }, seconds(started));
    }
  };
  ingest.trackBatch = async (ctx, commands) => {
    if (inTrack.has(ctx)) return trackBatch(ctx, commands);
    const started = process.hrtime.bigint();
    let outcome = 'error';
    try {
      const result = await trackBatch(ctx, commands);
      outcome = 'ok';
      return result;
    } finally {
      metrics.ingestedEvents.inc(commands.length);
      metrics.ingestSeconds.observe({ operation: 'trackBatch', outcome }, seconds(started));
    }
  };
}

/**
 * Observes timer lateness on every claim from `index`: the claim's `nowMs` (engine clock)
 * minus each claimed timer's due time, in seconds (0 when on time).
 */
export function instrumentTimerIndex(index: TimerIndex, metrics: OperatorMetrics): void {
  const claimDue = index.claimDue.bind(index);
  index.claimDue = async (shard, nowMs, limit, leaseMs) => {
    const claimed = await claimDue(shard, nowMs, limit, leaseMs);
    for (const timer of claimed) {
      metrics.timerLatenessSeconds.observe(Math.max(0, nowMs - timer.dueAtMs) / 1000);
    }
    return claimed;
  };
}

/** Times each `processor.fire` (engine time of one timer), by its outcome. */
export function instrumentTimerProcessor(processor: TimerProcessor, metrics: OperatorMetrics) {
  const fire = processor.fire.bind(processor);
  processor.fire = async (...args: Parameters<TimerProcessor['fire']>) => {
    const started = process.hrtime.bigint();
    let outcome: string = 'error';
    try {
      const result = await fire(...args);
      outcome = result;
      return result;
    } finally {
      metrics.timerSeconds.observe({ outcome }, seconds(started));
    }
  };
}

/**
 * Timers waiting to fire, from PostgreSQL (the truth; the partial index on PENDING timers
 * keeps the count cheap). Read at scrape time.
 */
export async function pendingTimerCount(db: Database): Promise<number> {
  const [row] = (await db.dataSource.query(
    `SELECT count(*)::bigint AS n FROM timers WHERE state = 'PENDING'`,
  )) as Array<{ n: string }>;
  return Number(row?.n ?? 0);
}
