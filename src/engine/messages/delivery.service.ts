import type { Clock } from '../../clock';
import type { Logger } from '../../logger';
import { Database, rows } from '../../platform/database';
import type { ChannelAdapter, OutboundMessage } from '../channels/channel';
import type { Channel } from '../triggers/trigger-definition';

interface PendingMessageRow {
  id: string;
  tenant_id: string;
  enrollment_id: string;
  trigger_id: string;
  trigger_name: string;
  external_id: string;
  step_index: number;
  channel: Channel;
  status: string;
  to_address: string;
  subject: string | null;
  body: string;
  html: string | null;
  scheduled_for: Date;
  webhook_secret: string | null;
}

/**
 * Hands recorded messages to their channel and records the outcome. A message is delivered
 * only from status QUEUED, and only by the worker whose transaction recorded it; a crash
 * between the provider call and the status update leaves it QUEUED rather than sending twice
 * (at most once per enrollment step).
 */
export class DeliveryService {
  private readonly adapters: Map<Channel, ChannelAdapter>;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    adapters: ChannelAdapter[],
    private readonly log: Logger,
  ) {
    this.adapters = new Map(adapters.map((a) => [a.channel, a]));
  }

  async deliver(tenantId: string, messageId: string, log: Logger = this.log): Promise<void> {
    const [message] = await this.db.withTenant(tenantId, (tx) =>
      rows<PendingMessageRow>(
        tx,
        `SELECT m.*, t.name AS trigger_name, c.external_id, tn.webhook_secret
         FROM messages m
         JOIN triggers t ON t.id = m.trigger_id
         JOIN customers c ON c.id = m.customer_id
         JOIN tenants tn ON tn.id = m.tenant_id
         WHERE m.tenant_id = $1 AND m.id = $2 AND m.status = 'QUEUED'`,
        [tenantId, messageId],
      ),
    );
    if (!message) return;
    const adapter = this.adapters.get(message.channel);
    // tenantId is bound on `log` by the caller (request or timer).
    const fields = {
      triggerId: message.trigger_id,
      enrollmentId: message.enrollment_id,
      stepId: message.step_index,
      channel: message.channel,
    };
    const started = Date.now();
    const result = adapter
      ? await adapter.deliver(toOutbound(message))
      : ({ ok: false, permanent: true, reason: `no adapter for ${message.channel}` } as const);

    if (result.ok) {
      await this.db.withTenant(tenantId, (tx) =>
        rows(
          tx,
          `UPDATE messages SET status = 'SENT', sent_at = $3 WHERE tenant_id = $1 AND id = $2`,
          [tenantId, messageId, new Date(this.clock.nowMs())],
        ),
      );
      log.info({ ...fields, durationMs: Date.now() - started }, 'step delivered');
      return;
    }
    // TODO(#4): retry transient failures with backoff under the same idempotency key.
    await this.db.withTenant(tenantId, (tx) =>
      rows(
        tx,
        `UPDATE messages SET status = 'FAILED', failure = $3 WHERE tenant_id = $1 AND id = $2`,
        [tenantId, messageId, result.reason],
      ),
    );
    log.warn(
      {
        ...fields,
        code: result.permanent ? 'PERMANENT' : 'TRANSIENT',
        durationMs: Date.now() - started,
      },
      'step delivery failed',
    );
  }

  async close(): Promise<void> {
    for (const adapter of this.adapters.values()) await adapter.close?.();
  }
}

function toOutbound(m: PendingMessageRow): OutboundMessage {
  return {
    id: m.id,
    tenantId: m.tenant_id,
    channel: m.channel,
    to: m.to_address,
    subject: m.subject,
    body: m.body,
    html: m.html,
    triggerId: m.trigger_id,
    triggerName: m.trigger_name,
    customerExternalId: m.external_id,
    stepIndex: m.step_index,
    scheduledFor: m.scheduled_for,
    signingSecret: m.webhook_secret,
    idempotencyKey: `${m.tenant_id}:${m.enrollment_id}:${m.step_index}`,
  };
}
