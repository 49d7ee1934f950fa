import { appendFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Channel } from '../triggers/trigger-definition';
import type { ChannelAdapter, DeliveryResult, OutboundMessage } from './channel';
import { failure } from './delivery-failure';

/**
 * Trial-mode stand-in for a provider that is not configured: each message is appended as one
 * JSON line to `<outboxDir>/<channel>.jsonl` and reported as sent, so nothing is silently
 * dropped and a trial shows what would have gone out. A retry appends another line with the
 * same `idempotencyKey`; readers deduplicate on it. The webhook signing secret and the link
 * builders are not written.
 */
export class FileOutboxChannel implements ChannelAdapter {
  readonly retriesAreIdempotent = true;
  private readonly file: string;

  constructor(
    readonly channel: Channel,
    private readonly outboxDir: string,
  ) {
    this.file = path.join(outboxDir, `${channel.toLowerCase()}.jsonl`);
  }

  async deliver(message: OutboundMessage): Promise<DeliveryResult> {
    const line = JSON.stringify({
      id: message.id,
      tenantId: message.tenantId,
      channel: message.channel,
      to: message.to,
      subject: message.subject,
      body: message.body,
      triggerId: message.triggerId,
      triggerName: message.triggerName,
      customerExternalId: message.customerExternalId,
      stepIndex: message.stepIndex,
      scheduledFor: message.scheduledFor.toISOString(),
      idempotencyKey: message.idempotencyKey,
      statusCallbackUrl: message.statusCallbackUrl,
      push: message.push,
    });
    try {
      await mkdir(this.outboxDir, { recursive: true });
      // One write per line with O_APPEND, so concurrent sends do not interleave within a line.
      await appendFile(this.file, `${line}\n`, 'utf8');
      return { ok: true, providerMessageId: null };
    } catch (err) {
      return failure(`outbox: ${(err as Error).message}`, { permanent: false });
    }
  }
}
