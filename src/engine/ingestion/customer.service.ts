import { BadInputError, NotFoundError, checkedAt } from '../../errors';
import { Database, Tx, rows } from '../../platform/database';
import type { Clock } from '../../clock';
import type { TenantContext } from '../../tenancy/tenant-context';
import { checkTimezone } from '../../tenancy/timezone';
import { Page, PageRequest, pageOf } from '../pagination';
import { checkExternalId, checkJsonObject } from './validation';
import { findUnstorableText, isUuid } from '../../validation';

export interface CustomerRow {
  id: string;
  tenant_id: string;
  external_id: string;
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
  externalId: string;
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
  ) {}

  /**
   * Creates or updates a customer. Given fields replace stored ones; traits merge shallowly
   * and a trait set to null is removed. Throws BAD_USER_INPUT naming the field.
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
    const now = new Date(this.clock.nowMs());

    const [row] = await this.db.withTenant(ctx.tenantId, (tx) =>
      rows<CustomerRow>(
        tx,
        `INSERT INTO customers (tenant_id, external_id, email, phone, timezone, locale, traits,
           created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, jsonb_strip_nulls($7::jsonb), $8, $8)
         ON CONFLICT (tenant_id, external_id) DO UPDATE SET
           email = COALESCE(EXCLUDED.email, customers.email),
           phone = COALESCE(EXCLUDED.phone, customers.phone),
           timezone = COALESCE(EXCLUDED.timezone, customers.timezone),
           locale = COALESCE(EXCLUDED.locale, customers.locale),
           traits = jsonb_strip_nulls(customers.traits || $7::jsonb),
           updated_at = EXCLUDED.updated_at
         RETURNING *`,
        [
          ctx.tenantId,
          externalId,
          email,
          input.phone ?? null,
          timezone,
          input.locale ?? null,
          JSON.stringify(traits),
          now,
        ],
      ),
    );
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
  return new Map(found.map((c) => [c.external_id, c]));
}
