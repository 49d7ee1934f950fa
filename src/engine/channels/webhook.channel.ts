import { Webhook } from 'standardwebhooks';
import type { ChannelAdapter, DeliveryResult, OutboundMessage } from './channel';
import { failure, failureFromNetworkError, failureFromStatus } from './delivery-failure';

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
}

/**
 * WEBHOOK: an HTTP POST of the rendered message and its context to the tenant's URL, signed
 * with the Standard Webhooks scheme (`webhook-id`, `webhook-timestamp`, `webhook-signature`:
 * HMAC-SHA256 over `id.timestamp.rawBody`), so receivers can verify it with stock libraries.
 *
 * `webhook-id` is the message's idempotency key, and the Standard Webhooks spec asks
 * receivers to deduplicate on it, so retries are idempotent. 2xx → ok; 4xx except 408/429 →
 * permanent; 408/429/5xx and refused connections → transient; no answer within `timeoutMs`
 * → transient with `outcomeUnknown`.
 */
// TODO(#6): no SSRF guard yet: a tenant's webhook URL may point at internal addresses
// (loopback, link-local metadata services, private ranges) and this POSTs there.
export class WebhookChannel implements ChannelAdapter {
  readonly channel = 'WEBHOOK' as const;
  readonly retriesAreIdempotent = true;
  private readonly timeoutMs: number;
  private readonly wallClockMs: () => number;

  constructor(options: WebhookChannelOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.wallClockMs = options.wallClockMs ?? Date.now;
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
      const response = await fetch(message.to, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': message.idempotencyKey,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': signature,
        },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await response.body?.cancel();
      if (response.ok) return { ok: true, providerMessageId: null };
      return failureFromStatus('webhook', response.status);
    } catch (err) {
      return failureFromNetworkError('webhook', err);
    }
  }
}
