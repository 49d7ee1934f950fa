import type { Database } from '../../platform/database';
import { rows } from '../../platform/database';
import type { TenantContext } from '../../tenancy/tenant-context';
import { isUuid } from '../../validation';
import type { DecisionOutcome } from './decision-log';

export interface DecisionView {
  at: Date;
  event: { id: string; name: string; occurredAt: Date } | null;
  triggerId: string;
  triggerVersion: number;
  enrollmentId: string | null;
  outcome: DecisionOutcome;
  reason: string;
  detail: Record<string, unknown>;
}

/** The most decisions one read returns (newest are kept when there are more). */
export const MAX_DECISIONS = 500;

/** Reads the decision log: why a customer did or did not hear from a trigger. */
export class DecisionService {
  constructor(private readonly db: Database) {}

  /** A customer's decisions, oldest first, optionally for one trigger. */
  async forCustomer(
    ctx: TenantContext,
    customerId: string,
    triggerId: string | null,
  ): Promise<DecisionView[]> {
    if (triggerId !== null && !isUuid(triggerId)) return [];
    const found = await this.db.withTenant(ctx.tenantId, (tx) =>
      rows<{
        at: Date;
        event_id: string | null;
        event_name: string | null;
        event_occurred_at: Date | null;
        trigger_id: string;
        trigger_version: number;
        enrollment_id: string | null;
        outcome: DecisionOutcome;
        reason: string;
        detail: Record<string, unknown>;
      }>(
        tx,
        `SELECT * FROM (
           SELECT d.id, d.at, d.event_id::text AS event_id, e.name AS event_name,
             e.occurred_at AS event_occurred_at, d.trigger_id, d.trigger_version,
             d.enrollment_id, d.outcome, d.reason, d.detail
           FROM decisions d
           LEFT JOIN events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
           WHERE d.tenant_id = $1 AND d.customer_id = $2
             AND ($3::uuid IS NULL OR d.trigger_id = $3::uuid)
           ORDER BY d.id DESC LIMIT $4) newest
         ORDER BY id`,
        [ctx.tenantId, customerId, triggerId, MAX_DECISIONS],
      ),
    );
    return found.map((d) => ({
      at: d.at,
      event:
        d.event_id && d.event_name && d.event_occurred_at
          ? { id: d.event_id, name: d.event_name, occurredAt: d.event_occurred_at }
          : null,
      triggerId: d.trigger_id,
      triggerVersion: d.trigger_version,
      enrollmentId: d.enrollment_id,
      outcome: d.outcome,
      reason: d.reason,
      detail: d.detail,
    }));
  }
}
