import { Webhook } from 'standardwebhooks';
import type { ChannelAdapter, DeliveryResult, OutboundMessage } from './channel';
import { failure, failureFromNetworkError, failureFromStatus } from './delivery-failure';
import { OutboundGuard, OutboundRefusedError } from './outbound-guard';
import { OutboundHttpClient } from './outbound-http';

const DEFAULT_TIMEOUT_MS = 10_000;

export interface WebhookChannelOptions {
  /** How long to wait for the receiver's answer. Default 10 000 ms. */
  timeoutMs?: number;
  /**
   * The real time for `webhook-timestamp`. Receivers check it against their own clock to
   * refuse replays, so it is wall time even when the engine runs on the virtual clock;
   * business times (`scheduledFor`) travel in the body. Default `Date.now`.
   */
  wallClockMs?: () => number;
  /**
   * Decides which addresses the tenant's URL may reach (see `OutboundGuard`). Default: every
   * address; the composition root passes the configured one (`NUDGE_OUTBOUND_PRIVATE`).
   */
  outbound?: OutboundGuard;
}

/**
 * WEBHOOK: an HTTP POST of the rendered message and its context to the tenant's URL, signed
 * with the Standard Webhooks scheme (`webhook-id`, `webhook-timestamp`, `webhook-signature`:
 * HMAC-SHA256 over `id.timestamp.rawBody`), so receivers can verify it with stock libraries.
 *
 * `webhook-id` is the message's idempotency key, and the Standard Webhooks spec asks
 * receivers to deduplicate on it, so retries are idempotent. 2xx → ok; 4xx except 408/429 →
 * permanent; 408/429/5xx and refused connections → transient; no answer within `timeoutMs`
 * → transient with `outcomeUnknown`. A URL whose host is, or resolves to, an address the
 * `outbound` guard refuses is not contacted: permanent (the tenant must change the URL).
 * Redirects are not followed.
 */
export class WebhookChannel implements ChannelAdapter {
  readonly channel = 'WEBHOOK' as const;
  readonly retriesAreIdempotent = true;
  private readonly timeoutMs: number;
  private readonly wallClockMs: () => number;
  private readonly http: OutboundHttpClient;

  constructor(options: WebhookChannelOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.wallClockMs = options.wallClockMs ?? Date.now;
    this.http = new OutboundHttpClient(options.outbound ?? new OutboundGuard('allow'));
  }

  async deliver(message: OutboundMessage): Promise<DeliveryResult> {
    if (!message.signingSecret) {
      return failure('tenant has no webhook signing secret', { permanent: true });
    }
    const body = JSON.stringify({
      type: 'message.send',
      messageId: message.id,
      idempotencyKey: message.idempotencyKey,
      trigger: { id: message.triggerId, name: message.triggerName },
      customer: { externalId: message.customerExternalId },
      step: message.stepIndex,
      scheduledFor: message.scheduledFor.toISOString(),
      subject: message.subject,
      body: message.body,
      html: message.html,
    });
    const timestamp = new Date(this.wallClockMs());
    const signature = new Webhook(message.signingSecret).sign(
      message.idempotencyKey,
      timestamp,
      body,
    );
    try {
      const response = await this.http.post(message.to, {
        headers: {
          'content-type': 'application/json',
          'webhook-id': message.idempotencyKey,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': signature,
        },
        body,
        timeoutMs: this.timeoutMs,
      });
      if (response.status >= 200 && response.status < 300) {
        return { ok: true, providerMessageId: null };
      }
      return failureFromStatus('webhook', response.status);
    } catch (err) {
      if (err instanceof OutboundRefusedError) {
        return failure(`webhook not contacted: ${err.message}`, { permanent: true });
      }
      return failureFromNetworkError('webhook', err);
    }
  }

  async close(): Promise<void> {
    this.http.close();
  }
}
