import type { Logger } from '../../logger';
import type { DeliveryService } from './delivery.service';

export interface DeliveryLimits {
  /** Deliveries in flight for one tenant: a slow endpoint holds at most this many slots. */
  perTenant: number;
  /** Deliveries in flight in this process. */
  total: number;
}

interface Pending {
  tenantId: string;
  start: () => void;
}

/**
 * Runs deliveries with bounded concurrency per tenant and in total, so one tenant's slow
 * webhook or mail server cannot hold up every other tenant's messages. `enqueue` resolves when
 * that delivery is done (it never rejects: DeliveryService records failures on the message).
 */
export class DeliveryQueue {
  private running = 0;
  private readonly runningByTenant = new Map<string, number>();
  private readonly waiting: Pending[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly waitingByTenant = new Map<string, number>();
  private readonly freedListeners: Array<() => void> = [];

  constructor(
    private readonly delivery: DeliveryService,
    private readonly limits: DeliveryLimits,
    private readonly log: Logger,
  ) {}

  /** Deliveries of this tenant running or waiting in this process. */
  load(tenantId: string): number {
    return (this.runningByTenant.get(tenantId) ?? 0) + (this.waitingByTenant.get(tenantId) ?? 0);
  }

  /**
   * Whether a timer fire of this tenant may start beside the `firing` already under way: each
   * fire may record a message, so fires and deliveries of one tenant share its delivery slots.
   * Timers then fire no faster than their messages go out, and what a process holds in
   * memory (recorded, not yet sent) stays within those slots.
   */
  admits(tenantId: string, firing: number): boolean {
    return firing + this.load(tenantId) < this.limits.perTenant;
  }

  /** Calls `listener` each time a delivery ends (a tenant's load went down). */
  onFreed(listener: () => void): void {
    this.freedListeners.push(listener);
  }

  enqueue(tenantId: string, messageId: string, log: Logger = this.log): Promise<void> {
    this.waitingByTenant.set(tenantId, (this.waitingByTenant.get(tenantId) ?? 0) + 1);
    const done = new Promise<void>((resolve) => {
      this.waiting.push({
        tenantId,
        start: () => {
          this.delivery
            .deliver(tenantId, messageId, log)
            .catch((err: Error) =>
              log.error({ tenantId, err }, 'delivery crashed; message stays QUEUED'),
            )
            .finally(() => {
              this.running--;
              this.runningByTenant.set(tenantId, (this.runningByTenant.get(tenantId) ?? 1) - 1);
              resolve();
              this.pump();
              for (const listener of this.freedListeners) listener();
            });
        },
      });
    });
    this.inFlight.add(done);
    void done.then(() => this.inFlight.delete(done));
    this.pump();
    return done;
  }

  /** Resolves when everything enqueued so far is delivered (used at shutdown). */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  private pump(): void {
    for (let i = 0; i < this.waiting.length && this.running < this.limits.total; ) {
      const next = this.waiting[i];
      const tenantRunning = this.runningByTenant.get(next.tenantId) ?? 0;
      if (tenantRunning >= this.limits.perTenant) {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
      this.waitingByTenant.set(next.tenantId, (this.waitingByTenant.get(next.tenantId) ?? 1) - 1);
      this.running++;
      this.runningByTenant.set(next.tenantId, tenantRunning + 1);
      next.start();
    }
  }
}
