import { Tx, rows } from '../../platform/database';
import { canonicalJson, ownProperty } from '../../json';
import { recordDecision } from '../decisions/decision-log';
import type { TriggerCatalog } from '../triggers/trigger-catalog';
import { cancelTimers } from '../timers/timer-store';
import type { Effects } from './effects';
import { StoredEvent, subjectOf } from './enrollment.engine';

/** Message states that mean the message went out (so it can be credited with a conversion). */
const WENT_OUT = ['SENT', 'DELIVERED', 'OPENED', 'CLICKED'];

interface RunRow {
  id: string;
  tenant_id: string;
  trigger_id: string;
  trigger_version: number;
  customer_id: string;
  state: string;
  activated_at: Date;
  entry_properties: Record<string, unknown>;
}

/**
 * Goals: a trigger's goal event, reached within `within` of the sequence's start, ends the
 * run at once and records a conversion. Runs in the caller's transaction with the customer's
 * row locked, so a step due at the same moment either ran before (and may be credited) or
 * sees the run converted and sends nothing.
 *
 * Credit goes to the run's last message that went out at or before the goal event's time: a
 * late-arriving purchase is never credited to a message sent after the purchase happened.
 * A run whose sequence completed still converts within the horizon.
 */
export class GoalEngine {
  constructor(private readonly catalog: TriggerCatalog) {}

  /**
   * `triggerIds`: triggers with a version whose goal is this event; each run is then checked
   * against the goal of the version it entered with.
   */
  async onEvent(
    tx: Tx,
    tenantId: string,
    triggerIds: readonly string[],
    event: StoredEvent,
    nowMs: number,
    effects: Effects,
  ): Promise<void> {
    if (triggerIds.length === 0) return;
    const ids = [...triggerIds];
    const runs = await rows<RunRow>(
      tx,
      `SELECT e.id, e.tenant_id, e.trigger_id, e.trigger_version, e.customer_id, e.state,
         e.activated_at, ev.properties AS entry_properties
       FROM enrollments e
       JOIN events ev ON ev.tenant_id = e.tenant_id AND ev.id = e.entry_event_id
       WHERE e.tenant_id = $1 AND e.customer_id = $2 AND e.trigger_id = ANY($3::uuid[])
         AND e.state IN ('ACTIVE', 'COMPLETED') AND e.activated_at <= $4
         AND NOT EXISTS (SELECT 1 FROM conversions c
                         WHERE c.tenant_id = e.tenant_id AND c.enrollment_id = e.id)
       ORDER BY e.activated_at
       FOR UPDATE OF e`,
      [tenantId, event.customer.id, ids, new Date(event.occurredAtMs)],
    );
    for (const run of runs) {
      // The goal of the version the run entered with; the index only says which triggers to ask.
      const trigger = await this.catalog.version(tx, tenantId, run.trigger_id, run.trigger_version);
      const goal = trigger.definition.goal;
      if (!goal || goal.event !== event.name) continue;
      if (event.occurredAtMs > run.activated_at.getTime() + goal.withinMs) continue;
      if (!trigger.goalWhere(subjectOf(event, event.customer)).matched) continue;
      if (!sameValues(goal.matchOn, run.entry_properties, event.properties)) continue;
      await this.convert(tx, run, event, nowMs, effects);
    }
  }

  private async convert(
    tx: Tx,
    run: RunRow,
    event: StoredEvent,
    nowMs: number,
    effects: Effects,
  ): Promise<void> {
    const [credited] = await rows<{ id: string; variant: string | null }>(
      tx,
      `SELECT id, variant FROM messages
       WHERE tenant_id = $1 AND enrollment_id = $2 AND status = ANY($3::text[])
         AND sent_at <= $4
       ORDER BY sent_at DESC, step_index DESC LIMIT 1`,
      [run.tenant_id, run.id, WENT_OUT, new Date(event.occurredAtMs)],
    );
    await rows(
      tx,
      `INSERT INTO conversions (tenant_id, enrollment_id, trigger_id, trigger_version,
         customer_id, event_id, started_at, converted_at, message_id, variant, recorded_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
       ON CONFLICT (tenant_id, enrollment_id) DO NOTHING`,
      [
        run.tenant_id,
        run.id,
        run.trigger_id,
        run.trigger_version,
        run.customer_id,
        event.id,
        run.activated_at,
        new Date(event.occurredAtMs),
        credited?.id ?? null,
        credited?.variant ?? null,
        new Date(nowMs),
      ],
    );
    if (run.state === 'ACTIVE') {
      await rows(
        tx,
        `UPDATE enrollments SET state = 'CONVERTED', end_reason = 'GOAL_REACHED', updated_at = $3
         WHERE tenant_id = $1 AND id = $2`,
        [run.tenant_id, run.id, new Date(nowMs)],
      );
      // Messages recorded but not yet handed to a provider (waiting for a retry) stay unsent.
      await rows(
        tx,
        `UPDATE messages SET status = 'SUPPRESSED', suppression_reason = 'GOAL_REACHED',
           updated_at = $3
         WHERE tenant_id = $1 AND enrollment_id = $2 AND status = 'QUEUED'`,
        [run.tenant_id, run.id, new Date(nowMs)],
      );
      await cancelTimers(tx, effects, run.tenant_id, run.id);
    }
    await recordDecision(tx, run.tenant_id, {
      customerId: run.customer_id,
      triggerId: run.trigger_id,
      triggerVersion: run.trigger_version,
      enrollmentId: run.id,
      eventId: event.id,
      atMs: nowMs,
      outcome: 'CONVERTED',
      reason: 'GOAL_REACHED',
      detail: {
        convertedAt: new Date(event.occurredAtMs).toISOString(),
        timeToConvertMs: event.occurredAtMs - run.activated_at.getTime(),
        creditedMessageId: credited?.id ?? null,
      },
    });
  }
}

/** Whether every named property is present on both and equal (canonical JSON). */
function sameValues(
  names: readonly string[],
  entry: Record<string, unknown>,
  goal: Record<string, unknown>,
): boolean {
  return names.every((name) => {
    const a = ownProperty(entry, name);
    const b = ownProperty(goal, name);
    return a !== undefined && b !== undefined && canonicalJson(a) === canonicalJson(b);
  });
}
