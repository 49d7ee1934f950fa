import { Tx, rows } from '../../platform/database';
import { IANAZone } from 'luxon';
import { HourHistogram, emptyHistogram, localHour } from './best-hour';

/** Engagement older than this is not learned from. */
export const ENGAGEMENT_LOOKBACK_MS = 180 * 24 * 3_600_000;
/** The customer's most recent engagements read. */
export const MAX_CUSTOMER_ENGAGEMENTS = 500;
/** The tenant's most recent engagements read: a sample of its current pattern. */
export const MAX_TENANT_ENGAGEMENTS = 2_000;
const QUARTER_HOUR_MS = 900_000;

/** A customer's and their tenant's engagement by local hour. */
export interface EngagementHours {
  customer: HourHistogram;
  tenant: HourHistogram;
}

/**
 * Reads, inside the caller's tenant transaction, when people engaged: each message's first
 * human open (`messages.opened_at`, which a human click also sets; machine opens never do),
 * over the last 180 days. The customer's own (at most 500, newest first) are binned by local
 * hour in `customerZone`; the tenant's (at most 2,000, newest first, this customer's included)
 * each in its own customer's zone, else `tenantZone`. Rows are grouped by zone and quarter
 * hour in SQL (every zone's offset is a whole number of quarter hours), so a quarter maps to
 * exactly one local hour. Uses messages_customer_opened and messages_tenant_opened.
 */
export async function loadEngagementHours(
  tx: Tx,
  p: {
    tenantId: string;
    customerId: string;
    customerZone: string;
    tenantZone: string;
    nowMs: number;
  },
): Promise<EngagementHours> {
  const since = new Date(p.nowMs - ENGAGEMENT_LOOKBACK_MS);
  const own = await rows<{ quarter: string; n: number }>(
    tx,
    `SELECT floor(extract(epoch FROM opened_at) * 1000 / ${QUARTER_HOUR_MS})::bigint AS quarter,
       count(*)::int AS n
     FROM (SELECT opened_at FROM messages
           WHERE tenant_id = $1 AND customer_id = $2 AND opened_at IS NOT NULL AND opened_at > $3
           ORDER BY opened_at DESC LIMIT ${MAX_CUSTOMER_ENGAGEMENTS}) recent
     GROUP BY 1`,
    [p.tenantId, p.customerId, since],
  );
  const all = await rows<{ timezone: string | null; quarter: string; n: number }>(
    tx,
    `SELECT timezone,
       floor(extract(epoch FROM opened_at) * 1000 / ${QUARTER_HOUR_MS})::bigint AS quarter,
       count(*)::int AS n
     FROM (SELECT c.timezone, m.opened_at FROM messages m
           JOIN customers c ON c.tenant_id = m.tenant_id AND c.id = m.customer_id
           WHERE m.tenant_id = $1 AND m.opened_at IS NOT NULL AND m.opened_at > $2
           ORDER BY m.opened_at DESC LIMIT ${MAX_TENANT_ENGAGEMENTS}) recent
     GROUP BY 1, 2`,
    [p.tenantId, since],
  );

  const customer = emptyHistogram();
  for (const row of own) {
    customer[localHour(p.customerZone, Number(row.quarter) * QUARTER_HOUR_MS)] += row.n;
  }
  const tenant = emptyHistogram();
  for (const row of all) {
    const zone = row.timezone && IANAZone.isValidZone(row.timezone) ? row.timezone : p.tenantZone;
    tenant[localHour(zone, Number(row.quarter) * QUARTER_HOUR_MS)] += row.n;
  }
  return { customer, tenant };
}
