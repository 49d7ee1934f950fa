import { Tx, rows } from '../../platform/database';
import type { Channel, Purpose } from '../triggers/trigger-definition';

export { PURPOSES } from '../triggers/trigger-definition';
export type { Purpose };

/** One grant or revocation, as recorded. Records are never changed or deleted. */
export interface ConsentRecord {
  channel: Channel;
  purpose: Purpose;
  granted: boolean;
  source: string;
  occurredAtMs: number;
  recordedAtMs: number;
}

/**
 * Appends a grant or revocation in the caller's tenant transaction. The current state is the
 * record that occurred last, so a revocation that happened before an already recorded grant
 * (a late-arriving export, say) does not undo that grant — and the reverse.
 */
export async function recordConsent(
  tx: Tx,
  tenantId: string,
  customerId: string,
  record: ConsentRecord,
): Promise<void> {
  await rows(
    tx,
    `INSERT INTO consent_records (tenant_id, customer_id, channel, purpose, granted, source,
       occurred_at, recorded_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      tenantId,
      customerId,
      record.channel,
      record.purpose,
      record.granted,
      record.source,
      new Date(record.occurredAtMs),
      new Date(record.recordedAtMs),
    ],
  );
}

/** The latest record per channel and purpose for one customer (none: never recorded). */
export async function currentConsents(
  tx: Tx,
  tenantId: string,
  customerId: string,
): Promise<ConsentRecord[]> {
  const found = await rows<{
    channel: Channel;
    purpose: Purpose;
    granted: boolean;
    source: string;
    occurred_at: Date;
    recorded_at: Date;
  }>(
    tx,
    `SELECT DISTINCT ON (channel, purpose) channel, purpose, granted, source, occurred_at,
       recorded_at
     FROM consent_records WHERE tenant_id = $1 AND customer_id = $2
     ORDER BY channel, purpose, occurred_at DESC, id DESC`,
    [tenantId, customerId],
  );
  return found.map((r) => ({
    channel: r.channel,
    purpose: r.purpose,
    granted: r.granted,
    source: r.source,
    occurredAtMs: r.occurred_at.getTime(),
    recordedAtMs: r.recorded_at.getTime(),
  }));
}

/**
 * Whether a message on `channel` for `purpose` may go out now. A recorded grant or
 * revocation decides. Without one: transactional messages may; marketing may unless the
 * tenant requires an explicit grant on that channel (SMS by default).
 */
export async function mayContact(
  tx: Tx,
  tenantId: string,
  customerId: string,
  channel: Channel,
  purpose: Purpose,
  explicitConsentChannels: readonly Channel[],
): Promise<boolean> {
  const [latest] = await rows<{ granted: boolean }>(
    tx,
    `SELECT granted FROM consent_records
     WHERE tenant_id = $1 AND customer_id = $2 AND channel = $3 AND purpose = $4
     ORDER BY occurred_at DESC, id DESC LIMIT 1`,
    [tenantId, customerId, channel, purpose],
  );
  if (latest) return latest.granted;
  return purpose === 'TRANSACTIONAL' || !explicitConsentChannels.includes(channel);
}
