import type { Clock } from '../../clock';
import type { Logger } from '../../logger';
import type { Bus } from '../../platform/bus';
import type { Database } from '../../platform/database';
import { PgListener } from '../../platform/pg-listener';
import type { OutboundGuard } from '../channels/outbound-guard';
import { AlertEvaluator } from './alert-evaluator';
import { AlertWatcher, METRIC_ALERT_NOTIFY_CHANNEL } from './alert-watcher';
import { AlertWebhookSender } from './alert-webhook';
import { MetricAlertService, type AlertEventSource } from './metric-alert.service';

/** Safety sweep over every alert when notifications arrive (they can be lost on reconnect). */
const SWEEP_MS_WITH_NOTIFY = 60_000;
/** Embedded PostgreSQL delivers no notifications: the sweep is the only trigger there. */
const SWEEP_MS_EMBEDDED = 2_000;

export interface MetricAlertsOptions {
  db: Database;
  clock: Clock;
  bus: Bus;
  outbound: OutboundGuard;
  log: Logger;
  /** The PostgreSQL URL to LISTEN on; null with embedded PostgreSQL (sweeps instead). */
  listenUrl: string | null;
  /** Whether this process evaluates alerts (worker roles); an `api` instance only stores them. */
  isEvaluating: boolean;
  webhookTimeoutMs: number;
  /** This instance's per-tenant feed of the events published on the bus. */
  events: AlertEventSource;
}

export interface MetricAlerts {
  service: MetricAlertService;
  /** Resolves when no evaluation runs and every webhook delivery started so far has ended. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Wires metric alerts: the API's service, and in evaluating processes the watcher that
 * listens for status changes (or sweeps, in embedded mode), the evaluator and the webhook
 * sender.
 */
export async function startMetricAlerts(options: MetricAlertsOptions): Promise<MetricAlerts> {
  const { db, clock, bus, log } = options;
  const webhooks = new AlertWebhookSender(
    options.outbound,
    { timeoutMs: options.webhookTimeoutMs },
    log,
  );
  const evaluator = new AlertEvaluator(db, clock, bus, webhooks, log);
  const watcher = new AlertWatcher(db, evaluator, log);
  let listener: PgListener | null = null;

  if (options.isEvaluating) {
    if (options.listenUrl) {
      listener = new PgListener(
        options.listenUrl,
        METRIC_ALERT_NOTIFY_CHANNEL,
        (payload) => watcher.onNotification(payload),
        () => void watcher.sweep(),
        log,
      );
      await listener.start();
    }
    watcher.startSweeping(options.listenUrl ? SWEEP_MS_WITH_NOTIFY : SWEEP_MS_EMBEDDED);
  }

  const service = new MetricAlertService(
    db,
    clock,
    options.outbound,
    options.events,
    (tenantId, triggerId) => {
      // A new alert is judged at once on the sends that already exist.
      if (options.isEvaluating) watcher.touch(tenantId, triggerId);
    },
  );

  return {
    service,
    async settled() {
      await watcher.idle();
      await webhooks.settled();
    },
    async close() {
      await listener?.close();
      await watcher.close();
      webhooks.close();
    },
  };
}
