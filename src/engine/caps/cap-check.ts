import { Tx, rows } from '../../platform/database';
import type { Channel } from '../triggers/trigger-definition';
import type { FrequencyCap } from './frequency-cap';

/** Message states that hold a cap slot: recorded to go out, going out, or gone out. */
export const SLOT_HOLDING_STATES = ['QUEUED', 'SENDING', 'SENT', 'DELIVERED', 'OPENED', 'CLICKED'];

export type CapVerdict =
  | { allowed: true }
  /** `freesAtMs`: the first instant a slot is free again; null when the cap is 0 (never). */
  | { allowed: false; cap: FrequencyCap; freesAtMs: number | null };

/**
 * Whether one more marketing message on `channel` fits the tenant's caps at `nowMs`. A cap
 * counts the customer's marketing messages that took a slot (recorded for sending, not
 * suppressed or failed) in the rolling window `(now − within, now]`, on its channel or on all
 * channels. Atomic across workers because callers hold the customer's row lock, and a slot is
 * taken by recording the message in that same transaction.
 */
export async function checkCaps(
  tx: Tx,
  tenantId: string,
  customerId: string,
  channel: Channel,
  caps: readonly FrequencyCap[],
  nowMs: number,
): Promise<CapVerdict> {
  const relevant = caps.filter((cap) => cap.channel === null || cap.channel === channel);
  if (relevant.length === 0) return { allowed: true };
  const longest = Math.max(...relevant.map((cap) => cap.withinMs));
  const taken = await rows<{ channel: Channel; created_at: Date }>(
    tx,
    `SELECT channel, created_at FROM messages
     WHERE tenant_id = $1 AND customer_id = $2 AND purpose = 'MARKETING'
       AND created_at > $3 AND created_at <= $4 AND status = ANY($5::text[])
     ORDER BY created_at`,
    [tenantId, customerId, new Date(nowMs - longest), new Date(nowMs), SLOT_HOLDING_STATES],
  );
  const blocking: Array<{ cap: FrequencyCap; freesAtMs: number | null }> = [];
  for (const cap of relevant) {
    const inWindow = taken
      .filter((m) => cap.channel === null || m.channel === cap.channel)
      .map((m) => m.created_at.getTime())
      .filter((at) => at > nowMs - cap.withinMs);
    if (inWindow.length < cap.max) continue;
    // The slot frees when enough of the oldest sends leave the window `(t − within, t]`.
    const freesAtMs = cap.max === 0 ? null : inWindow[inWindow.length - cap.max] + cap.withinMs;
    blocking.push({ cap, freesAtMs });
  }
  if (blocking.length === 0) return { allowed: true };
  // Every blocking cap must have a free slot: the latest of their freeing times, or never.
  const never = blocking.find((b) => b.freesAtMs === null);
  if (never) return { allowed: false, ...never };
  const last = blocking.reduce((a, b) => (b.freesAtMs! > a.freesAtMs! ? b : a));
  return { allowed: false, ...last };
}
