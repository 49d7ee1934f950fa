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

  constructor(
    private readonly delivery: DeliveryService,
    private readonly limits: DeliveryLimits,
    private readonly log: Logger,
  ) {}

  enqueue(tenantId: string, messageId: string, log: Logger = this.log): Promise<void> {
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
      this.running++;
      this.runningByTenant.set(next.tenantId, tenantRunning + 1);
      next.start();
    }
  }
}
