import { createHash } from 'node:crypto';
import webpush from 'web-push';
import type { ChannelAdapter, DeliveryResult, OutboundMessage } from './channel';
import { failure, failureFromNetworkError, failureFromStatus } from './delivery-failure';
import { OutboundGuard, OutboundRefusedError } from './outbound-guard';
import { OutboundHttpClient } from './outbound-http';

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_TTL_SECONDS = 24 * 3600;

export interface PushChannelOptions {
  /** VAPID application server key pair, base64url (as `web-push generate-vapid-keys` prints). */
  vapidPublicKey: string;
  vapidPrivateKey: string;
  /** VAPID contact: a `mailto:` or `https:` URL the push service can reach the operator at. */
  subject: string;
  /** How long to wait for the push service's answer. Default 10 000 ms. */
  timeoutMs?: number;
  /** How long the push service keeps an undelivered message. Default 24 h. */
  ttlSeconds?: number;
  /**
   * Decides which addresses a subscription's endpoint may reach (see `OutboundGuard`).
   * Default: every address; the composition root passes the configured one.
   */
  outbound?: OutboundGuard;
}

/** What the service worker receives (decrypted) in its `push` event. */
export interface PushPayload {
  title: string | null;
  body: string;
  messageId: string;
  data: { triggerId: string; step: number };
}

/**
 * PUSH: Web Push (RFC 8030) with VAPID (RFC 8292) and an aes128gcm-encrypted payload
 * (RFC 8291). web-push builds the request; we send it through `OutboundHttpClient` (which
 * connects only to addresses the `outbound` guard allows), because web-push's own
 * `sendNotification` always speaks https (STACK.md pitfall 23) and so cannot reach a local
 * test service.
 *
 * Results: 201/2xx → ok (the provider id is the `Location` of the created message);
 * 404/410 → permanent with `subscriptionGone` (prune the subscription); other 4xx except
 * 408/429 → permanent; 408/429/5xx and refused connections → transient; no answer within
 * `timeoutMs` → transient with `outcomeUnknown`; an endpoint whose host is, or resolves to,
 * an address the guard refuses is not contacted: permanent. Push services do not deduplicate,
 * so retries are not idempotent.
 */
export class PushChannel implements ChannelAdapter {
  readonly channel = 'PUSH' as const;
  readonly retriesAreIdempotent = false;
  private readonly vapidDetails: { subject: string; publicKey: string; privateKey: string };
  private readonly http: OutboundHttpClient;

  constructor(private readonly options: PushChannelOptions) {
    this.vapidDetails = {
      subject: options.subject,
      publicKey: options.vapidPublicKey,
      privateKey: options.vapidPrivateKey,
    };
    // Fails now, naming the problem, rather than on every message: web-push validates the
    // subject and both keys while it builds the headers.
    webpush.getVapidHeaders(
      'https://push.invalid',
      options.subject,
      options.vapidPublicKey,
      options.vapidPrivateKey,
      'aes128gcm',
    );
    this.http = new OutboundHttpClient(options.outbound ?? new OutboundGuard('allow'));
  }

  async deliver(message: OutboundMessage): Promise<DeliveryResult> {
    if (!message.push) return failure('PUSH message without a subscription', { permanent: true });

    let request: webpush.RequestDetails;
    try {
      request = webpush.generateRequestDetails(message.push, JSON.stringify(pushPayload(message)), {
        vapidDetails: this.vapidDetails,
        TTL: this.options.ttlSeconds ?? DEFAULT_TTL_SECONDS,
        contentEncoding: 'aes128gcm',
        topic: pushTopic(message.idempotencyKey),
      });
    } catch (err) {
      // The subscription's keys are malformed: this subscription can never be delivered to.
      return failure(`push subscription: ${(err as Error).message}`, { permanent: true });
    }

    try {
      const response = await this.http.post(request.endpoint, {
        headers: requestHeaders(request.headers),
        body: request.body ?? '',
        timeoutMs: this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      });
      if (response.status >= 200 && response.status < 300) {
        return { ok: true, providerMessageId: response.headers.location ?? null };
      }
      if (response.status === 404 || response.status === 410) {
        return failure(`push service HTTP ${response.status}: subscription gone`, {
          permanent: true,
          subscriptionGone: true,
        });
      }
      return failureFromStatus('push service', response.status);
    } catch (err) {
      if (err instanceof OutboundRefusedError) {
        return failure(`push service not contacted: ${err.message}`, { permanent: true });
      }
      return failureFromNetworkError('push service', err);
    }
  }

  async close(): Promise<void> {
    this.http.close();
  }
}

function pushPayload(message: OutboundMessage): PushPayload {
  return {
    title: message.subject,
    body: message.body,
    messageId: message.id,
    data: { triggerId: message.triggerId, step: message.stepIndex },
  };
}

/**
 * The `Topic` header (at most 32 base64url characters): a hash of the idempotency key, so a
 * retry that reaches the push service while the first attempt is still undelivered replaces
 * it instead of showing twice. It does not help once the first one was delivered.
 */
function pushTopic(idempotencyKey: string): string {
  return createHash('sha256').update(idempotencyKey).digest('base64url').slice(0, 32);
}

/** web-push's headers as strings; the client sets Content-Length from the body itself. */
function requestHeaders(headers: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers)
      .filter(([name]) => name.toLowerCase() !== 'content-length')
      .map(([name, value]) => [name, String(value)]),
  );
}
