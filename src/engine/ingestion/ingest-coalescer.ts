import type { TenantContext } from '../../tenancy/tenant-context';

export interface CoalescingOptions {
  /** Transactions of one tenant's single-event calls that may run at the same time. */
  maxInFlightPerTenant: number;
  /** Most calls stored by one transaction. */
  maxPerTransaction: number;
}

export const DEFAULT_COALESCING: CoalescingOptions = {
  maxInFlightPerTenant: 2,
  maxPerTransaction: 200,
};

interface Pending<I, R> {
  ctx: TenantContext;
  item: I;
  resolve: (result: R) => void;
  reject: (err: unknown) => void;
}

interface TenantQueue<I, R> {
  inFlight: number;
  waiting: Pending<I, R>[];
}

/**
 * Group commit for single-event ingestion. A call goes to the database at once while fewer
 * than `maxInFlightPerTenant` transactions of its tenant are running; otherwise it waits
 * for one of them to finish, and every call that waited meanwhile is then stored by one
 * transaction. An idle tenant's call therefore waits for nothing, and a busy tenant pays one
 * transaction (begin, customers, events, decisions, commit) for many calls instead of one
 * each.
 *
 * Each call keeps its own outcome: `store` returns one result per item, in order. If a shared
 * transaction fails (it rolled back: nothing of it is stored), every call in it is tried
 * again alone, so one call's failure never becomes another's. The shared transaction runs
 * with the first call's context (its request id is on the transaction's log lines).
 */
export class IngestCoalescer<I, R> {
  private readonly tenants = new Map<string, TenantQueue<I, R>>();

  constructor(
    private readonly options: CoalescingOptions,
    private readonly store: (ctx: TenantContext, items: I[]) => Promise<R[]>,
  ) {}

  /** Stores one item with whatever else of its tenant is waiting; resolves with its result. */
  submit(ctx: TenantContext, item: I): Promise<R> {
    let queue = this.tenants.get(ctx.tenantId);
    if (!queue) {
      queue = { inFlight: 0, waiting: [] };
      this.tenants.set(ctx.tenantId, queue);
    }
    const result = new Promise<R>((resolve, reject) => {
      queue!.waiting.push({ ctx, item, resolve, reject });
    });
    this.pump(ctx.tenantId, queue);
    return result;
  }

  private pump(tenantId: string, queue: TenantQueue<I, R>): void {
    while (queue.inFlight < this.options.maxInFlightPerTenant && queue.waiting.length > 0) {
      const batch = queue.waiting.splice(0, this.options.maxPerTransaction);
      queue.inFlight++;
      void this.run(batch).finally(() => {
        queue.inFlight--;
        if (queue.inFlight === 0 && queue.waiting.length === 0) this.tenants.delete(tenantId);
        else this.pump(tenantId, queue);
      });
    }
  }

  private async run(batch: Pending<I, R>[]): Promise<void> {
    try {
      const results = await this.store(
        batch[0].ctx,
        batch.map((p) => p.item),
      );
      batch.forEach((p, k) => p.resolve(results[k]));
    } catch (err) {
      if (batch.length === 1) {
        batch[0].reject(err);
        return;
      }
      await Promise.all(
        batch.map(async (p) => {
          try {
            const [result] = await this.store(p.ctx, [p.item]);
            p.resolve(result);
          } catch (alone) {
            p.reject(alone);
          }
        }),
      );
    }
  }
}
