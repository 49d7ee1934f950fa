import type { Channel, Purpose } from '../triggers/trigger-definition';

/** Where an EMAIL's engagement lands: absolute URLs on this service, signed per message. */
export interface EmailLinks {
  /** RFC 8058 one-click target: a POST here unsubscribes from marketing email. */
  unsubscribeUrl: string;
  /** A 1×1 image; fetching it records an open. */
  openPixelUrl: string;
  /** The tracked redirect for one destination link. */
  clickUrl(destination: string): string;
}

/** A Web Push subscription as the browser's `PushSubscription.toJSON()` gives it. */
export interface PushTarget {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** A recorded message, ready for a provider. */
export interface OutboundMessage {
  id: string;
  tenantId: string;
  channel: Channel;
  /** Marketing email carries List-Unsubscribe; transactional email (receipts, resets) not. */
  purpose: Purpose;
  /** Email address, E.164 phone number, push endpoint or webhook URL. */
  to: string;
  subject: string | null;
  body: string;
  html: string | null;
  triggerId: string;
  triggerName: string;
  customerExternalId: string | null;
  stepIndex: number;
  scheduledFor: Date;
  /** The tenant's webhook signing secret (WEBHOOK only). */
  signingSecret: string | null;
  /** Stable per tenant, enrollment and step: providers deduplicate retries on it. */
  idempotencyKey: string;
  /** EMAIL only; null when no public URL is configured (then no tracking, mailto unsubscribe). */
  links: EmailLinks | null;
  /** PUSH only: the subscription to deliver to (`to` is its endpoint). */
  push: PushTarget | null;
  /** SMS only: where the provider reports delivery status; null when no public URL. */
  statusCallbackUrl: string | null;
}

export type DeliveryResult =
  | { ok: true; providerMessageId: string | null }
  | {
      ok: false;
      /** True when sending again cannot succeed (bad address, 4xx): not retried. */
      permanent: boolean;
      reason: string;
      /**
       * True when the provider may have accepted the message before failing to answer (a
       * timeout after the request was sent). A retry is safe only for adapters whose
       * provider deduplicates on `idempotencyKey` (`retriesAreIdempotent`).
       */
      outcomeUnknown?: boolean;
      /** PUSH: the subscription is gone (404/410) and should be pruned. */
      subscriptionGone?: boolean;
    };

/** One delivery channel behind one interface; the outside world sits behind it. */
export interface ChannelAdapter {
  readonly channel: Channel;
  /**
   * Whether the provider deduplicates on `idempotencyKey`, so a retry after an unknown
   * outcome (a timeout) cannot produce a second message. SMTP cannot promise that.
   */
  readonly retriesAreIdempotent: boolean;
  deliver(message: OutboundMessage): Promise<DeliveryResult>;
  close?(): Promise<void>;
}
