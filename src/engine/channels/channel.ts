import type { Channel } from '../triggers/trigger-definition';

/** A recorded message, ready for a provider. */
export interface OutboundMessage {
  id: string;
  tenantId: string;
  channel: Channel;
  to: string;
  subject: string | null;
  body: string;
  html: string | null;
  triggerId: string;
  triggerName: string;
  customerExternalId: string;
  stepIndex: number;
  scheduledFor: Date;
  /** The tenant's webhook signing secret (WEBHOOK only). */
  signingSecret: string | null;
  /** Stable per tenant, enrollment and step: providers can deduplicate retries on it. */
  idempotencyKey: string;
}

export type DeliveryResult =
  | { ok: true; providerMessageId: string | null }
  | { ok: false; permanent: boolean; reason: string };

/** One delivery channel behind one interface; the outside world sits behind it. */
export interface ChannelAdapter {
  readonly channel: Channel;
  deliver(message: OutboundMessage): Promise<DeliveryResult>;
  close?(): Promise<void>;
}
