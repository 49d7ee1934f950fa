import { Webhook } from 'standardwebhooks';
import type { ChannelAdapter, DeliveryResult, OutboundMessage } from './channel';

const TIMEOUT_MS = 10_000;

/**
 * WEBHOOK: an HTTP POST of the rendered message and its context to the tenant's URL, signed
 * with the Standard Webhooks scheme (`webhook-id`, `webhook-timestamp`, `webhook-signature`:
 * HMAC-SHA256 over `id.timestamp.rawBody`), so receivers can verify it with stock libraries.
 */
export class WebhookChannel implements ChannelAdapter {
  readonly channel = 'WEBHOOK' as const;

  /**
   * @param wallClockMs the real time for `webhook-timestamp`. Receivers check it against
   *   their own clock to refuse replays, so it is wall time even when the engine runs on the
   *   virtual clock; business times (`scheduledFor`) travel in the body.
   */
  constructor(private readonly wallClockMs: () => number = Date.now) {}

  async deliver(message: OutboundMessage): Promise<DeliveryResult> {
    if (!message.signingSecret) {
      return { ok: false, permanent: true, reason: 'tenant has no webhook signing secret' };
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
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (response.ok) return { ok: true, providerMessageId: null };
      const permanent = response.status >= 400 && response.status < 500 && response.status !== 429;
      return { ok: false, permanent, reason: `HTTP ${response.status}` };
    } catch (err) {
      return {
        ok: false,
        permanent: false,
        reason: `HTTP: ${(err as Error).message}`.slice(0, 300),
      };
    }
  }
}
