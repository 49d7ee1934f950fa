import type { Logger } from '../../logger';
import type { TenantContext } from '../../tenancy/tenant-context';
import { MetricCounts, countsChange, isUnchanged, sumChanges, zeroCounts } from './metric-counts';
import type { MetricsService } from './metrics.service';

/** One live metrics message: all-time totals and what moved since the subscriber's last. */
export interface MetricsUpdateView {
  triggerId: string;
  at: Date;
  totals: MetricCounts;
  change: MetricCounts;
}

export interface MetricsFeedOptions {
  /** How often a watched trigger's totals are re-read (wall time). */
  pollMs: number;
  /** Least time between two messages to one subscriber (wall time). */
  minGapMs: number;
  /** Wall clock in ms; the metrics' own times come from the data, not from this. */
  wallClockMs?: () => number;
  /** The time stamped on each message (the service clock). */
  nowMs: () => number;
}

interface Subscriber {
  /** False until its snapshot is queued: nothing may overtake the first message. */
  hasSnapshot: boolean;
  lastSent: MetricCounts;
  lastSentAtMs: number;
  push(update: MetricsUpdateView): void;
}

interface Watch {
  ctx: TenantContext;
  triggerId: string;
  subscribers: Set<Subscriber>;
}

/**
 * Live metrics (`metricsUpdated`). Each instance re-reads, every `pollMs`, the all-time
 * totals of the triggers someone on it watches — one read per watched trigger, however many
 * subscribers — and sends each subscriber the totals plus the change since its last message,
 * at most once per `minGapMs`, only when something moved. The first message is a snapshot
 * (change all zeros) read in one transaction, so a dashboard that reconnects gets consistent
 * numbers and misses nothing: they are totals, not a stream of events.
 *
 * The totals live in PostgreSQL, which every instance shares, so what any instance (API or
 * worker) counted reaches every subscriber. Reading the shared rollup instead of announcing
 * each change keeps the write path free of extra round trips and publications; the cost is
 * one indexed aggregate per watched trigger and poll, and only while someone watches.
 */
export class MetricsFeed {
  private readonly watches = new Map<string, Watch>();
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private readonly wallClockMs: () => number;

  constructor(
    private readonly metrics: MetricsService,
    private readonly options: MetricsFeedOptions,
    private readonly log: Logger,
  ) {
    this.wallClockMs = options.wallClockMs ?? Date.now;
  }

  /**
   * Subscribes to a trigger's totals. Throws NOT_FOUND (before anything is sent) for a trigger
   * that is not the tenant's. The iterable ends when the consumer returns.
   */
  async subscribe(
    ctx: TenantContext,
    triggerId: string,
  ): Promise<AsyncIterable<MetricsUpdateView>> {
    await this.metrics.requireTrigger(ctx, triggerId);
    const queue = new UpdateQueue<MetricsUpdateView>((older, newer) => ({
      ...newer,
      change: sumChanges(older.change, newer.change),
    }));
    const subscriber: Subscriber = {
      hasSnapshot: false,
      lastSent: zeroCounts(),
      lastSentAtMs: 0,
      push: (update) => queue.push(update),
    };
    const key = `${ctx.tenantId}:${triggerId}`;
    const watch = this.watches.get(key) ?? { ctx, triggerId, subscribers: new Set() };
    this.watches.set(key, watch);
    // Registered before the snapshot is read: a change committed meanwhile is either in the
    // snapshot or found by the next poll.
    watch.subscribers.add(subscriber);
    this.ensurePolling();
    try {
      const totals = await this.metrics.allTimeTotals(ctx, triggerId);
      subscriber.lastSent = totals;
      subscriber.lastSentAtMs = this.wallClockMs();
      subscriber.hasSnapshot = true;
      queue.push({ triggerId, at: new Date(this.options.nowMs()), totals, change: zeroCounts() });
    } catch (err) {
      this.unwatch(key, subscriber);
      throw err;
    }
    queue.onClose(() => this.unwatch(key, subscriber));
    return queue;
  }

  /** Stops polling (at shutdown; the server closes the subscriptions themselves). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watches.clear();
  }

  private unwatch(key: string, subscriber: Subscriber): void {
    const watch = this.watches.get(key);
    if (!watch) return;
    watch.subscribers.delete(subscriber);
    if (watch.subscribers.size === 0) this.watches.delete(key);
    if (this.watches.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private ensurePolling(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.poll(), this.options.pollMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      for (const watch of [...this.watches.values()]) await this.refresh(watch);
    } finally {
      this.polling = false;
    }
  }

  private async refresh(watch: Watch): Promise<void> {
    let totals: MetricCounts;
    try {
      totals = await this.metrics.allTimeTotals(watch.ctx, watch.triggerId);
    } catch (err) {
      this.log.warn(
        { err, tenantId: watch.ctx.tenantId, triggerId: watch.triggerId },
        'live metrics read failed; retrying at the next poll',
      );
      return;
    }
    const nowMs = this.wallClockMs();
    for (const subscriber of watch.subscribers) {
      if (!subscriber.hasSnapshot) continue;
      if (nowMs - subscriber.lastSentAtMs < this.options.minGapMs) continue;
      const change = countsChange(subscriber.lastSent, totals);
      if (isUnchanged(change)) continue;
      subscriber.lastSent = totals;
      subscriber.lastSentAtMs = nowMs;
      subscriber.push({
        triggerId: watch.triggerId,
        at: new Date(this.options.nowMs()),
        totals,
        change,
      });
    }
  }
}

/** Messages waiting for a slow consumer before the newest ones are merged. */
const MAX_QUEUED = 10;

/** An async queue whose consumer may stop it (graphql-ws calls `return`). */
class UpdateQueue<T> implements AsyncIterable<T>, AsyncIterator<T> {
  private readonly items: T[] = [];

  constructor(private readonly merge: (older: T, newer: T) => T) {}

  private waiting: ((result: IteratorResult<T>) => void) | null = null;
  private closed = false;
  private closeHandlers: Array<() => void> = [];

  push(item: T): void {
    if (this.closed) return;
    if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = null;
      resolve({ value: item, done: false });
      return;
    }
    // A consumer that cannot keep up gets fewer, larger steps rather than a growing backlog.
    const last = this.items.length >= MAX_QUEUED ? this.items.pop() : undefined;
    this.items.push(last === undefined ? item : this.merge(last, item));
  }

  onClose(handler: () => void): void {
    if (this.closed) handler();
    else this.closeHandlers.push(handler);
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.closed = true;
    this.items.length = 0;
    this.waiting?.({ value: undefined, done: true });
    this.waiting = null;
    for (const handler of this.closeHandlers) handler();
    this.closeHandlers = [];
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return this;
  }
}
