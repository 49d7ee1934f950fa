import { Database, rows } from '../../platform/database';
import { findUnstorableText, isUuid } from '../../validation';
import type { TenantContext } from '../../tenancy/tenant-context';
import { Page, PageRequest, pageOf } from '../pagination';
import type { Channel, Purpose } from '../triggers/trigger-definition';
import type { MessageStatus } from '../sequences/step.engine';

export interface MessageView {
  id: string;
  channel: Channel;
  status: MessageStatus;
  suppressionReason: string | null;
  failure: string | null;
  to: string | null;
  subject: string | null;
  body: string | null;
  html: string | null;
  stepIndex: number;
  purpose: Purpose;
  variant: string | null;
  attempts: number;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  openedAt: Date | null;
  clickedAt: Date | null;
  triggerId: string;
  customerId: string;
  enrollmentId: string;
  scheduledFor: Date;
  sentAt: Date | null;
  createdAt: Date;
}

interface MessageRow {
  id: string;
  seq: string;
  channel: Channel;
  status: MessageStatus;
  suppression_reason: string | null;
  failure: string | null;
  to_address: string | null;
  subject: string | null;
  body: string | null;
  html: string | null;
  step_index: number;
  purpose: Purpose;
  variant: string | null;
  attempts: number;
  next_attempt_at: Date | null;
  delivered_at: Date | null;
  opened_at: Date | null;
  clicked_at: Date | null;
  trigger_id: string;
  customer_id: string;
  enrollment_id: string;
  scheduled_for: Date;
  sent_at: Date | null;
  created_at: Date;
}

const toView = (r: MessageRow): MessageView => ({
  id: r.id,
  channel: r.channel,
  status: r.status,
  suppressionReason: r.suppression_reason,
  failure: r.failure,
  to: r.to_address,
  subject: r.subject,
  body: r.body,
  html: r.html,
  stepIndex: r.step_index,
  purpose: r.purpose,
  variant: r.variant,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  deliveredAt: r.delivered_at,
  openedAt: r.opened_at,
  clickedAt: r.clicked_at,
  triggerId: r.trigger_id,
  customerId: r.customer_id,
  enrollmentId: r.enrollment_id,
  scheduledFor: r.scheduled_for,
  sentAt: r.sent_at,
  createdAt: r.created_at,
});

export interface MessageFilter {
  triggerId?: string | null;
  customerExternalId?: string | null;
  customerId?: string | null;
}

/** Reading recorded messages, newest last, filtered by trigger and/or customer. */
export class MessageService {
  constructor(private readonly db: Database) {}

  async list(
    ctx: TenantContext,
    filter: MessageFilter,
    page: PageRequest,
  ): Promise<Page<MessageView>> {
    if (filter.triggerId && !isUuid(filter.triggerId)) return { nodes: [], hasNextPage: false };
    if (filter.customerId && !isUuid(filter.customerId)) return { nodes: [], hasNextPage: false };
    if (filter.customerExternalId && findUnstorableText(filter.customerExternalId)) {
      return { nodes: [], hasNextPage: false };
    }
    const found = await this.db.withTenant(ctx.tenantId, (tx) =>
      rows<MessageRow>(
        tx,
        `SELECT m.* FROM messages m
         WHERE m.tenant_id = $1 AND m.seq > $2
           AND ($3::uuid IS NULL OR m.trigger_id = $3)
           AND ($4::uuid IS NULL OR m.customer_id = $4)
           AND ($5::text IS NULL OR m.customer_id =
                (SELECT id FROM customers WHERE tenant_id = $1 AND external_id = $5))
         ORDER BY m.seq LIMIT $6`,
        [
          ctx.tenantId,
          page.afterSeq,
          filter.triggerId ?? null,
          filter.customerId ?? null,
          filter.customerExternalId ?? null,
          page.first + 1,
        ],
      ),
    );
    return pageOf(found, page, (r) => r.seq, toView);
  }
}
