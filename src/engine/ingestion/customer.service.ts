import { BadInputError, NotFoundError, checkedAt } from '../../errors';
import { Database, Tx, rows } from '../../platform/database';
import type { Clock } from '../../clock';
import type { TenantContext } from '../../tenancy/tenant-context';
import { checkTimezone } from '../../tenancy/timezone';
import { Page, PageRequest, pageOf } from '../pagination';
import { checkExternalId, checkJsonObject } from './validation';
import type { IdentityResolver } from './identity';
import type { EnrollmentEngine } from '../sequences/enrollment.engine';
import type { ReactionRunner } from '../sequences/reaction-runner';
import { findUnstorableText, isUuid } from '../../validation';

export interface CustomerRow {
  id: string;
  tenant_id: string;
  /** Null while the customer is known only by anonymous ids. */
  external_id: string | null;
  email: string | null;
  phone: string | null;
  timezone: string | null;
  locale: string | null;
  traits: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

export interface CustomerView {
  id: string;
  externalId: string | null;
  email: string | null;
  phone: string | null;
  timezone: string | null;
  locale: string | null;
  traits: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
}

export interface EventView {
  id: string;
  name: string;
  properties: Record<string, unknown>;
  occurredAt: Date;
  receivedAt: Date;
  messageId: string | null;
}

export interface IdentifyCommand {
  externalId: string;
  /** Links this anonymous id (and its history) to the customer. */
  anonymousId?: string | null;
  email?: string | null;
  phone?: string | null;
  timezone?: string | null;
  locale?: string | null;
  traits?: unknown;
}

export const toCustomerView = (r: CustomerRow): CustomerView => ({
  id: r.id,
  externalId: r.external_id,
  email: r.email,
  phone: r.phone,
  timezone: r.timezone,
  locale: r.locale,
  traits: r.traits,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{1,63}$/;
const PHONE = /^\+[1-9]\d{6,14}$/;
const LOCALE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,5}$/;

/** Customers: identified by the tenant's own external id, created on first sight. */
export class CustomerService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly identity: IdentityResolver,
    private readonly enrollments: EnrollmentEngine,
    private readonly reactions: ReactionRunner,
  ) {}

  /**
   * Creates or updates a customer. Given fields replace stored ones; traits merge shallowly
   * and a trait set to null is removed. With `anonymousId`, that id's history joins the
   * customer (see `IdentityResolver`). Entries held for customer data are re-evaluated.
   * Throws BAD_USER_INPUT naming the field.
   */
  async identify(ctx: TenantContext, input: IdentifyCommand): Promise<CustomerView> {
    const externalId = checkedAt('input', () => checkExternalId(input.externalId, 'externalId'));
    const email = input.email == null ? null : input.email.trim();
    if (email !== null && (!EMAIL.test(email) || findUnstorableText(email))) {
      throw new BadInputError('input.email', 'expected an email address such as ada@example.com');
    }
    if (input.phone != null && !PHONE.test(input.phone)) {
      throw new BadInputError('input.phone', 'expected an E.164 number such as +4915112345678');
    }
    const timezone =
      input.timezone == null
        ? null
        : checkedAt('input', () => checkTimezone(input.timezone!, 'timezone'));
    if (input.locale != null && !LOCALE.test(input.locale)) {
      throw new BadInputError('input.locale', 'expected a BCP 47 tag such as de-DE');
    }
    const traits =
      input.traits == null
        ? {}
        : checkedAt('input', () => checkJsonObject(input.traits, 'traits', 32_768));
    const anonymousId =
      input.anonymousId == null
        ? null
        : checkedAt('input', () => checkExternalId(input.anonymousId, 'anonymousId'));
    const nowMs = this.clock.nowMs();
    const now = new Date(nowMs);

    // Two identifies linking each other's anonymous ids lock the same two customers in
    // opposite orders; PostgreSQL rolls one back and the runner tries it again.
    const { value: row } = await this.reactions.run(ctx, 'identify', async (tx, effects) => {
      const { customers, merged } = await this.identity.resolve(
        tx,
        ctx.tenantId,
        [{ externalId, anonymousId }],
        now,
      );
      const [updated] = await rows<CustomerRow>(
        tx,
        `UPDATE customers SET
           email = COALESCE($3, email),
           phone = COALESCE($4, phone),
           timezone = COALESCE($5, timezone),
           locale = COALESCE($6, locale),
           traits = jsonb_strip_nulls(traits || $7::jsonb),
           updated_at = $8
         WHERE tenant_id = $1 AND id = $2
         RETURNING *`,
        [
          ctx.tenantId,
          customers.get(`x:${externalId}`)!.id,
          email,
          input.phone ?? null,
          timezone,
          input.locale ?? null,
          JSON.stringify(traits),
          now,
        ],
      );
      if (merged.length > 0) {
        await this.enrollments.onCustomersMerged(tx, ctx.tenantId, updated, nowMs, effects);
      }
      await this.enrollments.onCustomerChanged(tx, ctx.tenantId, updated, nowMs, effects);
      return updated;
    });
    return toCustomerView(row);
  }

  async getByExternalId(ctx: TenantContext, externalId: string): Promise<CustomerView | null> {
    if (externalId.length > 255 || findUnstorableText(externalId)) return null;
    const [row] = await this.db.withTenant(ctx.tenantId, (tx) =>
      rows<CustomerRow>(tx, 'SELECT * FROM customers WHERE tenant_id = $1 AND external_id = $2', [
        ctx.tenantId,
        externalId,
      ]),
    );
    return row ? toCustomerView(row) : null;
  }

  async getByAnonymousId(ctx: TenantContext, anonymousId: string): Promise<CustomerView | null> {
    if (anonymousId.length > 255 || findUnstorableText(anonymousId)) return null;
    const [row] = await this.db.withTenant(ctx.tenantId, (tx) =>
      rows<CustomerRow>(
        tx,
        `SELECT c.* FROM customer_aliases a JOIN customers c ON c.id = a.customer_id
         WHERE a.tenant_id = $1 AND a.anonymous_id = $2`,
        [ctx.tenantId, anonymousId],
      ),
    );
    return row ? toCustomerView(row) : null;
  }

  async anonymousIds(ctx: TenantContext, customerId: string): Promise<string[]> {
    const found = await this.db.withTenant(ctx.tenantId, (tx) =>
      rows<{ anonymous_id: string }>(
        tx,
        `SELECT anonymous_id FROM customer_aliases WHERE tenant_id = $1 AND customer_id = $2
         ORDER BY anonymous_id LIMIT 100`,
        [ctx.tenantId, customerId],
      ),
    );
    return found.map((r) => r.anonymous_id);
  }

  /** Another tenant's id, or a malformed one, is indistinguishable from a missing one. */
  async getById(ctx: TenantContext, id: string): Promise<CustomerView> {
    if (!isUuid(id)) throw new NotFoundError('customer', 'id');
    const [row] = await this.db.withTenant(ctx.tenantId, (tx) =>
      rows<CustomerRow>(tx, 'SELECT * FROM customers WHERE tenant_id = $1 AND id = $2', [
        ctx.tenantId,
        id,
      ]),
    );
    if (!row) throw new NotFoundError('customer', 'id');
    return toCustomerView(row);
  }

  /** The customer's events, oldest stored first. */
  async events(
    ctx: TenantContext,
    customerId: string,
    page: PageRequest,
  ): Promise<Page<EventView>> {
    const found = await this.db.withTenant(ctx.tenantId, (tx) =>
      rows<{
        id: string;
        name: string;
        properties: Record<string, unknown>;
        occurred_at: Date;
        received_at: Date;
        message_id: string | null;
      }>(
        tx,
        `SELECT id, name, properties, occurred_at, received_at, message_id FROM events
         WHERE tenant_id = $1 AND customer_id = $2 AND id > $3 ORDER BY id LIMIT $4`,
        [ctx.tenantId, customerId, page.afterSeq, page.first + 1],
      ),
    );
    return pageOf(
      found,
      page,
      (r) => r.id,
      (r) => ({
        id: r.id,
        name: r.name,
        properties: r.properties,
        occurredAt: r.occurred_at,
        receivedAt: r.received_at,
        messageId: r.message_id,
      }),
    );
  }
}

/**
 * Finds or creates customers by external id inside the caller's transaction, and locks
 * their rows until it commits: two requests about the same customer then run one after the
 * other, so an entry and its reset cannot interleave. Ids are locked in sorted order.
 */
export async function upsertCustomers(
  tx: Tx,
  tenantId: string,
  externalIds: string[],
  now: Date,
): Promise<Map<string, CustomerRow>> {
  const sorted = [...new Set(externalIds)].sort();
  const found = await rows<CustomerRow>(
    tx,
    `INSERT INTO customers (tenant_id, external_id, created_at, updated_at)
     SELECT $1, x, $3, $3 FROM unnest($2::text[]) AS x
     ON CONFLICT (tenant_id, external_id) DO UPDATE SET updated_at = customers.updated_at
     RETURNING *`,
    [tenantId, sorted, now],
  );
  return new Map(found.map((c) => [c.external_id!, c]));
}
