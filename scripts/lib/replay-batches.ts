/** Where the replay cuts the event stream into `trackBatch` calls. */
export interface BatchLimits {
  /** At most this many events per call (the API accepts up to 1,000). */
  maxEvents: number;
  /** A batch covers at most this much data time, from its first event to its last. */
  maxSpanMs: number;
  /**
   * The deadline an event opens, if any (an add-to-cart opens one W later), or several
   * instants at which something may fall due because of it (with a send window, also the
   * opening a reminder due at that deadline is deferred to). A batch is cut before the first
   * event that lies after a deadline opened earlier, so every deadline is processed (by the
   * `setClock` that precedes the next batch) after exactly the events that happened up to
   * it: the engine sees the stream in the order the shop lived it.
   */
  deadlineOf?: (event: { timestampMs: number; event: string }) => number | readonly number[] | null;
}

/**
 * Up to 1,000 events and 12 hours of data time per call (the service accepts events up to
 * 24 h after its clock, which stands just before each batch), cut before any event that
 * follows a pending deadline.
 */
export const DEFAULT_BATCH_LIMITS: BatchLimits = {
  maxEvents: 1000,
  maxSpanMs: 12 * 60 * 60 * 1000,
};

/**
 * Cuts time-ordered events into consecutive batches. A new batch starts when the current one
 * holds `maxEvents`, when adding the event would make the batch span more than `maxSpanMs`
 * (a span of exactly `maxSpanMs` still fits), or when the event lies after a deadline opened
 * by an earlier event (see `BatchLimits.deadlineOf`). Order is kept; every event is in one
 * batch. Throws an `Error` if the events are not sorted by time or a limit is not positive.
 */
export function cutBatches<T extends { timestampMs: number; event: string }>(
  events: readonly T[],
  limits: BatchLimits = DEFAULT_BATCH_LIMITS,
): T[][] {
  if (!(limits.maxEvents >= 1) || !(limits.maxSpanMs >= 0)) {
    throw new Error(`batch limits must be positive, got ${JSON.stringify(limits)}`);
  }

  const batches: T[][] = [];
  let current: T[] = [];
  let earliestDeadlineMs = Number.POSITIVE_INFINITY;
  let openDeadlines: number[] = [];
  for (const [i, event] of events.entries()) {
    if (i > 0 && event.timestampMs < events[i - 1].timestampMs) {
      throw new Error(`events must be sorted by time; event ${i} is earlier than event ${i - 1}`);
    }
    const isFull =
      current.length >= limits.maxEvents ||
      (current.length > 0 && event.timestampMs - current[0].timestampMs > limits.maxSpanMs) ||
      (current.length > 0 && event.timestampMs > earliestDeadlineMs);
    if (isFull) {
      batches.push(current);
      current = [];
    }
    if (current.length === 0) {
      // The clock is set to just before this event: every deadline before it fires then.
      openDeadlines = openDeadlines.filter((d) => d >= event.timestampMs);
      earliestDeadlineMs = Math.min(Number.POSITIVE_INFINITY, ...openDeadlines);
    }
    current.push(event);
    const opened = limits.deadlineOf?.(event) ?? null;
    for (const deadline of typeof opened === 'number' ? [opened] : (opened ?? [])) {
      openDeadlines.push(deadline);
      earliestDeadlineMs = Math.min(earliestDeadlineMs, deadline);
    }
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
