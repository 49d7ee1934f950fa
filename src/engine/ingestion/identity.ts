import { Tx, rows } from '../../platform/database';
import { CustomerRow, upsertCustomers } from './customer.service';

/** How an event or an identify names its customer: by the tenant's id, an anonymous id, or both. */
export interface CustomerRef {
  externalId: string | null;
  anonymousId: string | null;
}

/** The key a batch uses to find an item's customer in the resolved map. */
export const refKey = (ref: CustomerRef): string =>
  ref.externalId !== null ? `x:${ref.externalId}` : `a:${ref.anonymousId}`;

/**
 * Identity: a customer is known by the tenant's external id, by anonymous ids (a device, a
 * browser session), or both. The first time both arrive together the anonymous history joins
 * the identified customer:
 * - anonymous id never seen: it is linked to the customer;
 * - linked to an anonymous customer and no customer has the external id yet: that customer
 *   simply receives the external id (nothing moves);
 * - linked to an anonymous customer and the external id exists: the anonymous customer's
 *   events, runs (waiting, held, active), messages, decisions, conversions, consent records
 *   and push subscriptions move to it, profile fields it lacks are filled in, and the
 *   anonymous customer is removed;
 * - linked to another identified customer: the link moves to this one from now on (a shared
 *   device); the other customer's history stays theirs.
 *
 * Every customer touched is locked until the transaction commits, so two requests about the
 * same person run one after the other.
 */
export class IdentityResolver {
  /**
   * Finds or creates the customers of a batch and applies the links it carries. Returns the
   * customers by `refKey`, and the customers whose history grew by a merge.
   */
  async resolve(
    tx: Tx,
    tenantId: string,
    refs: CustomerRef[],
    now: Date,
  ): Promise<{ customers: Map<string, CustomerRow>; merged: CustomerRow[] }> {
    const externalIds = refs.flatMap((r) => (r.externalId !== null ? [r.externalId] : []));
    const byExternal = await upsertCustomers(tx, tenantId, externalIds, now);
    const customers = new Map<string, CustomerRow>();
    for (const [id, row] of byExternal) customers.set(`x:${id}`, row);
    const merged = new Map<string, CustomerRow>();

    const anonymousIds = [...new Set(refs.flatMap((r) => (r.anonymousId ? [r.anonymousId] : [])))];
    if (anonymousIds.length === 0) return { customers, merged: [] };
    const linked = await this.linkedCustomers(tx, tenantId, anonymousIds);

    // Links first (they may promote or merge), in a fixed order.
    const links = new Map<string, string>();
    for (const r of refs) {
      if (r.anonymousId && r.externalId !== null && !links.has(r.anonymousId)) {
        links.set(r.anonymousId, r.externalId);
      }
    }
    for (const anonymousId of [...links.keys()].sort()) {
      const target = customers.get(`x:${links.get(anonymousId)!}`)!;
      const link = await this.link(tx, tenantId, anonymousId, target, linked.get(anonymousId), now);
      customers.set(`x:${link.customer.external_id}`, link.customer);
      linked.set(anonymousId, link.customer);
      if (link.merged) merged.set(link.customer.id, link.customer);
    }

    for (const anonymousId of anonymousIds.sort()) {
      const known =
        linked.get(anonymousId) ?? (await this.createAnonymous(tx, tenantId, anonymousId, now));
      customers.set(`a:${anonymousId}`, known);
    }
    return { customers, merged: [...merged.values()] };
  }

  /** The customers anonymous ids are linked to, locked. */
  private async linkedCustomers(
    tx: Tx,
    tenantId: string,
    anonymousIds: string[],
  ): Promise<Map<string, CustomerRow>> {
    const found = await rows<CustomerRow & { anonymous_id: string }>(
      tx,
      `SELECT c.*, a.anonymous_id FROM customer_aliases a
       JOIN customers c ON c.tenant_id = a.tenant_id AND c.id = a.customer_id
       WHERE a.tenant_id = $1 AND a.anonymous_id = ANY($2::text[])
       ORDER BY c.id FOR UPDATE OF c`,
      [tenantId, anonymousIds],
    );
    return new Map(found.map(({ anonymous_id, ...customer }) => [anonymous_id, customer]));
  }

  private async link(
    tx: Tx,
    tenantId: string,
    anonymousId: string,
    target: CustomerRow,
    current: CustomerRow | undefined,
    now: Date,
  ): Promise<{ customer: CustomerRow; merged: boolean }> {
    if (!current) {
      if (await this.insertAlias(tx, tenantId, anonymousId, target.id, now)) {
        return { customer: target, merged: false };
      }
      // A concurrent request linked it first (we waited on its key): continue from its link.
      const winner = (await this.linkedCustomers(tx, tenantId, [anonymousId])).get(anonymousId);
      return this.link(tx, tenantId, anonymousId, target, winner, now);
    }
    if (current.id === target.id) return { customer: target, merged: false };
    if (current.external_id !== null) {
      await rows(
        tx,
        `UPDATE customer_aliases SET customer_id = $3, created_at = $4
         WHERE tenant_id = $1 AND anonymous_id = $2`,
        [tenantId, anonymousId, target.id, now],
      );
      return { customer: target, merged: false };
    }
    return { customer: await mergeCustomers(tx, tenantId, current, target, now), merged: true };
  }

  /**
   * A new anonymous customer and its link. Two requests racing on the same new anonymous id:
   * the second waits on the link's key, finds it taken, removes its own row and uses the
   * first one's customer.
   */
  private async createAnonymous(
    tx: Tx,
    tenantId: string,
    anonymousId: string,
    now: Date,
  ): Promise<CustomerRow> {
    const [created] = await rows<CustomerRow>(
      tx,
      `INSERT INTO customers (tenant_id, external_id, created_at, updated_at)
       VALUES ($1, NULL, $2, $2) RETURNING *`,
      [tenantId, now],
    );
    if (await this.insertAlias(tx, tenantId, anonymousId, created.id, now)) return created;
    await rows(tx, 'DELETE FROM customers WHERE tenant_id = $1 AND id = $2', [
      tenantId,
      created.id,
    ]);
    const winner = await this.linkedCustomers(tx, tenantId, [anonymousId]);
    return winner.get(anonymousId)!;
  }

  private async insertAlias(
    tx: Tx,
    tenantId: string,
    anonymousId: string,
    customerId: string,
    now: Date,
  ): Promise<boolean> {
    const inserted = await rows(
      tx,
      `INSERT INTO customer_aliases (tenant_id, anonymous_id, customer_id, created_at)
       VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, anonymous_id) DO NOTHING RETURNING 1`,
      [tenantId, anonymousId, customerId, now],
    );
    return inserted.length > 0;
  }
}

/**
 * Moves an anonymous customer's history into `into` and removes it. Profile fields `into`
 * lacks are taken from `from`; traits merge with `into`'s values winning.
 */
async function mergeCustomers(
  tx: Tx,
  tenantId: string,
  from: CustomerRow,
  into: CustomerRow,
  now: Date,
): Promise<CustomerRow> {
  // Every table with a customer_id: rows left behind would be deleted with `from` (CASCADE).
  // Consent moves as recorded; the latest occurredAt across both customers is then current.
  for (const table of [
    'events',
    'enrollments',
    'messages',
    'decisions',
    'customer_aliases',
    'consent_records',
    'push_subscriptions',
    'conversions',
  ]) {
    await rows(
      tx,
      `UPDATE ${table} SET customer_id = $3 WHERE tenant_id = $1 AND customer_id = $2`,
      [tenantId, from.id, into.id],
    );
  }
  await rows(tx, 'DELETE FROM customers WHERE tenant_id = $1 AND id = $2', [tenantId, from.id]);
  const [merged] = await rows<CustomerRow>(
    tx,
    `UPDATE customers SET email = COALESCE(email, $3), phone = COALESCE(phone, $4),
       timezone = COALESCE(timezone, $5), locale = COALESCE(locale, $6),
       traits = $7::jsonb || traits, updated_at = $8
     WHERE tenant_id = $1 AND id = $2 RETURNING *`,
    [
      tenantId,
      into.id,
      from.email,
      from.phone,
      from.timezone,
      from.locale,
      JSON.stringify(from.traits),
      now,
    ],
  );
  return merged;
}
