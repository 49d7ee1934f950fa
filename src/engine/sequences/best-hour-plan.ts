import { IANAZone } from 'luxon';
import { Tx, rows } from '../../platform/database';
import { BestHourChoice, chooseBestHour } from '../engagement/best-hour';
import { loadEngagementHours } from '../engagement/engagement-hours';
import type { CustomerRow } from '../ingestion/customer.service';

/** Picks the send time of a step due at `dueMs`, or null to keep the due time. */
export type SendTimeChooser = (dueMs: number) => BestHourChoice | null;

/**
 * Learns the customer's best local hour for a BEST_HOUR step (docs/triggers.md): reads their
 * and their tenant's engagement by hour in the caller's tenant transaction, once, and returns
 * the chooser `stepTime` applies after the delay and before the send window. `zone` is the
 * customer's zone as `zoneOf` gives it; the bound `withinMs` counts from the due time, or from
 * `nowMs` when that has passed. Reads only.
 */
export async function planBestHour(
  tx: Tx,
  p: { tenantId: string; customer: CustomerRow; zone: string; withinMs: number; nowMs: number },
): Promise<SendTimeChooser> {
  const [tenant] = await rows<{ timezone: string }>(
    tx,
    'SELECT timezone FROM tenants WHERE id = $1',
    [p.tenantId],
  );
  const tenantZone =
    tenant?.timezone && IANAZone.isValidZone(tenant.timezone) ? tenant.timezone : 'UTC';
  const hours = await loadEngagementHours(tx, {
    tenantId: p.tenantId,
    customerId: p.customer.id,
    customerZone: p.zone,
    tenantZone,
    nowMs: p.nowMs,
  });
  return (dueMs) => {
    // A step whose due time has already passed (it is due at once) looks from now on, and
    // staying due at once is no move.
    const fromMs = Math.max(dueMs, p.nowMs);
    const choice = chooseBestHour({ dueMs: fromMs, withinMs: p.withinMs, zone: p.zone, ...hours });
    return choice && choice.atMs === fromMs ? { ...choice, atMs: dueMs } : choice;
  };
}
