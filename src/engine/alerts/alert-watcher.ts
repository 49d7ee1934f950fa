import type { Logger } from '../../logger';
import { Database } from '../../platform/database';
import type { AlertEvaluator } from './alert-evaluator';

/** The NOTIFY channel of migration 1765100000000 (`<tenantId>:<triggerId>` payloads). */
export const METRIC_ALERT_NOTIFY_CHANNEL = 'nudge_metric_alerts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Decides when alerts are evaluated, off every request and timer path:
 *
 * - `touch(tenant, trigger)` for each notification that a message of the trigger changed
 *   status (PostgreSQL NOTIFY, sent at commit by the row triggers of the migration);
 *   touches of one trigger coalesce: while its evaluation runs, further touches make one
 *   more run afterwards, not one each;
 * - `sweep()` evaluates every alert of every tenant, on an interval and after the listener
 *   (re)connects, so a notification lost while no one listened is made good later, and in
 *   embedded mode, where notifications do not arrive, it is the only trigger.
 */
export class AlertWatcher {
  private readonly running = new Map<string, { isDirty: boolean; done: Promise<void> }>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private isSweeping = false;
  private isClosed = false;

  constructor(
    private readonly db: Database,
    private readonly evaluator: AlertEvaluator,
    private readonly log: Logger,
  ) {}

  /** Parses a NOTIFY payload and touches its trigger; ignores anything malformed. */
  onNotification(payload: string): void {
    const [tenantId, triggerId] = payload.split(':');
    if (!UUID.test(tenantId ?? '') || !UUID.test(triggerId ?? '')) return;
    this.touch(tenantId, triggerId);
  }

  /** Evaluates the alerts watching `triggerId` soon (null: every alert of the tenant). */
  touch(tenantId: string, triggerId: string | null): void {
    if (this.isClosed) return;
    const key = `${tenantId}:${triggerId ?? '*'}`;
    const current = this.running.get(key);
    if (current) {
      current.isDirty = true;
      return;
    }
    const entry = { isDirty: false, done: Promise.resolve() };
    entry.done = (async () => {
      do {
        entry.isDirty = false;
        await this.evaluator.evaluate(tenantId, triggerId).catch((err: Error) => {
          this.log.error({ err, tenantId, triggerId }, 'metric alert evaluation failed');
        });
      } while (entry.isDirty && !this.isClosed);
      this.running.delete(key);
    })();
    this.running.set(key, entry);
  }

  /** Starts sweeping every `intervalMs` (wall time). */
  startSweeping(intervalMs: number): void {
    this.sweepTimer = setInterval(() => void this.sweep(), intervalMs);
    this.sweepTimer.unref();
  }

  /** Touches every tenant that holds an alert (one evaluation per tenant). */
  async sweep(): Promise<void> {
    if (this.isSweeping || this.isClosed) return;
    this.isSweeping = true;
    try {
      const tenants = await this.db.asSystem((tx) =>
        tx.query('SELECT DISTINCT tenant_id FROM metric_alerts'),
      );
      for (const { tenant_id } of tenants as Array<{ tenant_id: string }>) {
        this.touch(tenant_id, null);
      }
    } catch (err) {
      this.log.warn({ err }, 'metric alert sweep failed');
    } finally {
      this.isSweeping = false;
    }
  }

  /** Resolves when no evaluation is running or queued. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running.values()].map((e) => e.done));
  }

  async close(): Promise<void> {
    this.isClosed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await this.idle();
  }
}
