import type { ChannelAdapter } from './channel';
import { EmailChannel, EmailChannelOptions } from './email.channel';
import { FileOutboxChannel } from './file-outbox.channel';
import type { OutboundGuard } from './outbound-guard';
import { PushChannel, PushChannelOptions } from './push.channel';
import { SmsChannel, SmsChannelOptions } from './sms.channel';
import { WebhookChannel } from './webhook.channel';

export interface ChannelOptions {
  email: EmailChannelOptions;
  /** null: SMS goes to `<outboxDir>/sms.jsonl` (trial mode). */
  sms: SmsChannelOptions | null;
  /** null: PUSH goes to `<outboxDir>/push.jsonl` (trial mode). */
  push: PushChannelOptions | null;
  /** Default 10 000 ms. */
  webhookTimeoutMs?: number;
  outboxDir: string;
  /** Which addresses webhook URLs and push endpoints may reach. Default: every address. */
  outbound?: OutboundGuard;
}

/**
 * One adapter per channel (EMAIL, SMS, PUSH, WEBHOOK). A provider that is not configured is
 * replaced by a file outbox, so no channel silently drops messages. Throws when the push
 * VAPID details are invalid (see `PushChannel`).
 */
export function buildChannelAdapters(options: ChannelOptions): ChannelAdapter[] {
  return [
    new EmailChannel(options.email),
    options.sms ? new SmsChannel(options.sms) : new FileOutboxChannel('SMS', options.outboxDir),
    options.push
      ? new PushChannel({ ...options.push, outbound: options.outbound })
      : new FileOutboxChannel('PUSH', options.outboxDir),
    new WebhookChannel({ timeoutMs: options.webhookTimeoutMs, outbound: options.outbound }),
  ];
}
