import { Tx, rows } from '../../platform/database';
import type { Effects } from '../sequences/effects';
import type { EnrollmentRow } from '../sequences/enrollment.engine';
import { putTimer } from '../timers/timer-store';
import type { Channel } from '../triggers/trigger-definition';

/** How long a recorded message may wait for its delivery before the watchdog looks at it. */
export const DELIVERY_CHECK_MS = 5 * 60_000;

/**
 * Every message recorded for sending gets a DELIVERY timer in the same transaction. Delivery
 * settles it (sent, failed for good) or moves it to the next retry. If the process dies with
 * the message still in its in-memory queue, or in the middle of a provider call, the timer
 * fires on some worker and the watchdog picks the message up: nothing recorded is lost.
 */
export async function armDeliveryWatchdog(
  tx: Tx,
  effects: Effects,
  run: Pick<EnrollmentRow, 'tenant_id' | 'id'>,
  stepIndex: number,
  nowMs: number,
  dueAtMs: number = nowMs + DELIVERY_CHECK_MS,
): Promise<void> {
  await putTimer(tx, effects, {
    tenantId: run.tenant_id,
    kind: 'DELIVERY',
    enrollmentId: run.id,
    stepIndex,
    dueAtMs,
    nowMs,
    rearm: true,
  });
}

/**
 * Handles a due DELIVERY timer inside the timer's transaction. A QUEUED message (a retry that
 * is due, or one lost from memory) is handed to delivery again. A SENDING message whose
 * provider call should long have ended was interrupted: the outcome is unknown, so it is sent
 * again only on channels whose provider deduplicates on the idempotency key; elsewhere it is
 * marked FAILED rather than risk a second message (at most once per step).
 */
export class DeliveryWatchdog {
  constructor(
    private readonly idempotentChannels: ReadonlySet<Channel>,
    private readonly wallClockMs: () => number = Date.now,
  ) {}

  async onDue(
    tx: Tx,
    run: Pick<EnrollmentRow, 'tenant_id' | 'id'>,
    stepIndex: number,
    nowMs: number,
    effects: Effects,
  ): Promise<{ deferToMs: number } | null> {
    const [m] = await rows<{
      id: string;
      status: string;
      channel: Channel;
      sending_until: Date | null;
    }>(
      tx,
      `SELECT id, status, channel, sending_until FROM messages
       WHERE tenant_id = $1 AND enrollment_id = $2 AND step_index = $3 FOR UPDATE`,
      [run.tenant_id, run.id, stepIndex],
    );
    if (!m || (m.status !== 'QUEUED' && m.status !== 'SENDING')) return null;
    const watchAgain = { deferToMs: nowMs + DELIVERY_CHECK_MS };
    if (m.status === 'SENDING') {
      if ((m.sending_until?.getTime() ?? 0) > this.wallClockMs()) return watchAgain;
      if (!this.idempotentChannels.has(m.channel)) {
        await rows(
          tx,
          `UPDATE messages SET status = 'FAILED', updated_at = $3,
             failure = 'OUTCOME_UNKNOWN: delivery was interrupted during the provider call; ' ||
                       'not retried because this channel cannot deduplicate'
           WHERE tenant_id = $1 AND id = $2`,
          [run.tenant_id, m.id, new Date(nowMs)],
        );
        return null;
      }
      await rows(
        tx,
        `UPDATE messages SET status = 'QUEUED', updated_at = $3 WHERE tenant_id = $1 AND id = $2`,
        [run.tenant_id, m.id, new Date(nowMs)],
      );
    }
    effects.messagesToDeliver.push({ tenantId: run.tenant_id, messageId: m.id });
    return watchAgain;
  }
}
