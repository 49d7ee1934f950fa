import { Webhook } from 'standardwebhooks';
import type { Logger } from '../../logger';
import { OutboundGuard, OutboundRefusedError } from '../channels/outbound-guard';
import { OutboundHttpClient } from '../channels/outbound-http';
import type { MetricAlertEvent } from './metric-alert';

/** Waits before each retry after a failed attempt: 1 s, 5 s, 30 s, 2 min (wall time). */
export const ALERT_WEBHOOK_RETRY_MS = [1_000, 5_000, 30_000, 120_000] as const;

export interface AlertWebhookOptions {
  timeoutMs: number;
  /** Waits before retries; tests shorten them. Default `ALERT_WEBHOOK_RETRY_MS`. */
  retryDelaysMs?: readonly number[];
  /** Real time for `webhook-timestamp` (receivers compare it with their own clock). */
  wallClockMs?: () => number;
}

/** How one event's delivery ended. */
export type AlertWebhookOutcome = 'DELIVERED' | 'REFUSED' | 'GAVE_UP' | 'NO_SECRET';

/**
 * POSTs metric alert events to the alert's URL, signed like the WEBHOOK channel (Standard
 * Webhooks: `webhook-id` = the event id, stable across retries so receivers can deduplicate;
 * `webhook-timestamp`; `webhook-signature` = HMAC-SHA256 with the tenant's webhook secret)
 * and connected only where the `OutboundGuard` allows. 2xx ends it; a refused target, a
 * 4xx other than 408/429 or a missing secret ends it at once; other failures are retried
 * after `retryDelaysMs`. Retries live in this process: a restart drops the ones pending.
 */
export class AlertWebhookSender {
  private readonly http: OutboundHttpClient;
  private readonly pending = new Set<Promise<AlertWebhookOutcome>>();
  private readonly waits = new Map<NodeJS.Timeout, () => void>();
  private isClosed = false;

  constructor(
    guard: OutboundGuard,
    private readonly options: AlertWebhookOptions,
    private readonly log: Logger,
  ) {
    this.http = new OutboundHttpClient(guard);
  }

  /** Starts delivering `event` in the background; `settled()` waits for every such delivery. */
  send(url: string, signingSecret: string | null, event: MetricAlertEvent): void {
    const delivery = this.deliver(url, signingSecret, event).finally(() =>
      this.pending.delete(delivery),
    );
    this.pending.add(delivery);
  }

  /** Resolves when every delivery started so far has ended (retries included). */
  async settled(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  /** Stops retrying and closes pooled connections. */
  close(): void {
    this.isClosed = true;
    // Pending waits end now; their deliveries see `isClosed` and give up.
    for (const [timer, resolve] of this.waits) {
      clearTimeout(timer);
      resolve();
    }
    this.waits.clear();
    this.http.close();
  }

  private async deliver(
    url: string,
    signingSecret: string | null,
    event: MetricAlertEvent,
  ): Promise<AlertWebhookOutcome> {
    const fields = {
      tenantId: event.tenantId,
      triggerId: event.triggerId,
      alertId: event.alert.id,
    };
    if (!signingSecret) {
      this.log.warn({ ...fields, code: 'NO_WEBHOOK_SECRET' }, 'metric alert webhook not sent');
      return 'NO_SECRET';
    }
    const body = JSON.stringify({
      type: event.state === 'FIRING' ? 'metric_alert.firing' : 'metric_alert.resolved',
      id: event.eventId,
      alert: event.alert,
      triggerId: event.triggerId,
      value: event.value,
      sends: event.sends,
      state: event.state,
      at: event.at,
    });
    const delays = this.options.retryDelaysMs ?? ALERT_WEBHOOK_RETRY_MS;
    for (let attempt = 0; attempt <= delays.length; attempt++) {
      if (attempt > 0) await this.wait(delays[attempt - 1]);
      if (this.isClosed) return 'GAVE_UP';
      const result = await this.attempt(url, signingSecret, event.eventId, body);
      if (result === 'ok') {
        this.log.info({ ...fields, attempt: attempt + 1 }, 'metric alert webhook delivered');
        return 'DELIVERED';
      }
      if (result.permanent) {
        this.log.warn(
          { ...fields, code: 'PERMANENT', reason: result.reason },
          'metric alert webhook refused',
        );
        return 'REFUSED';
      }
      this.log.warn(
        { ...fields, code: 'TRANSIENT', reason: result.reason, attempt: attempt + 1 },
        'metric alert webhook failed',
      );
    }
    this.log.error({ ...fields, code: 'RETRIES_EXHAUSTED' }, 'metric alert webhook gave up');
    return 'GAVE_UP';
  }

  private async attempt(
    url: string,
    secret: string,
    webhookId: string,
    body: string,
  ): Promise<'ok' | { permanent: boolean; reason: string }> {
    const timestamp = new Date((this.options.wallClockMs ?? Date.now)());
    try {
      const response = await this.http.post(url, {
        headers: {
          'content-type': 'application/json',
          'webhook-id': webhookId,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': new Webhook(secret).sign(webhookId, timestamp, body),
        },
        body,
        timeoutMs: this.options.timeoutMs,
      });
      if (response.status >= 200 && response.status < 300) return 'ok';
      const isRetryable =
        response.status === 408 || response.status === 429 || response.status >= 500;
      return { permanent: !isRetryable, reason: `HTTP ${response.status}` };
    } catch (err) {
      if (err instanceof OutboundRefusedError) return { permanent: true, reason: err.message };
      const e = err as { code?: string; name?: string };
      return { permanent: false, reason: e.code ?? e.name ?? 'network error' };
    }
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waits.delete(timer);
        resolve();
      }, ms);
      timer.unref();
      this.waits.set(timer, resolve);
    });
  }
}
