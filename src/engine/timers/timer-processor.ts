import type { Clock } from '../../clock';
import type { Logger } from '../../logger';
import { Database, rows } from '../../platform/database';
import { Effects } from '../sequences/effects';
import type { EffectsApplier } from '../sequences/effects-applier';
import type { EnrollmentEngine, EnrollmentRow } from '../sequences/enrollment.engine';
import type { StepEngine } from '../sequences/step.engine';
import type { DeliveryWatchdog } from '../messages/delivery-watchdog';
import type { TimerRow } from './timer-store';

/** What became of a claimed timer. `busy` is never returned: locks serialise instead. */
export type TimerOutcome = 'fired' | 'skipped' | 'not-due' | 'failed';

/** What a fire needs to know before its transaction: the tenant (for row-level security). */
export interface TimerMeta {
  tenant_id: string;
  customer_id: string;
}

/** The timer's own columns, read beside its enrollment's (`SELECT e.*, t.… AS timer_…`). */
interface TimerColumns {
  timer_kind: TimerRow['kind'];
  timer_step_index: number;
  timer_due_at: Date;
  timer_state: TimerRow['state'];
}

/** After this many failed attempts a timer is parked as FAILED (a dead letter) and logged. */
export const MAX_TIMER_ATTEMPTS = 5;

/**
 * Fires one claimed timer. At-least-once claiming becomes exactly-once effect: the timer row
 * is locked and checked PENDING inside the transaction that applies its effect and marks it
 * DONE, so a timer claimed twice (an expired lease, a rebuilt index) fires once.
 *
 * Lock order, shared with ingestion to rule out deadlocks: customer row, then enrollment
 * and timer rows.
 */
export class TimerProcessor {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly enrollments: EnrollmentEngine,
    private readonly steps: StepEngine,
    private readonly watchdog: DeliveryWatchdog,
    private readonly applier: EffectsApplier,
    private readonly log: Logger,
  ) {}

  /**
   * Looks up tenant and customer of many claimed timers in one query (the claim knows only
   * ids), so a batch of fires does not pay one extra round trip each. Timers that no longer
   * exist are absent from the map.
   */
  async lookup(timerIds: string[]): Promise<Map<string, TimerMeta>> {
    const found = new Map<string, TimerMeta>();
    if (timerIds.length === 0) return found;
    const metas = (await this.db.dataSource.query(
      `SELECT t.id::text AS id, t.tenant_id, e.customer_id
       FROM timers t JOIN enrollments e ON e.id = t.enrollment_id
       WHERE t.id = ANY($1::bigint[])`,
      [timerIds],
    )) as Array<TimerMeta & { id: string }>;
    for (const { id, tenant_id, customer_id } of metas) found.set(id, { tenant_id, customer_id });
    return found;
  }

  /** Fires one claimed timer; `meta` from `lookup` saves the query that finds its tenant. */
  async fire(timerId: string, known?: TimerMeta): Promise<TimerOutcome> {
    const meta = known ?? (await this.lookup([timerId])).get(timerId);
    if (!meta) return 'skipped';

    const effects = new Effects();
    const log = this.log.child({ tenantId: meta.tenant_id, timerId });
    let outcome: TimerOutcome;
    try {
      outcome = await this.applyEffect(timerId, meta, effects);
    } catch (err) {
      await this.recordFailure(timerId, err as Error, log);
      return 'failed';
    }
    try {
      await this.applier.apply(effects, log);
    } catch (err) {
      // Committed already; the sweeper re-indexes pending timers from PostgreSQL.
      log.error({ err, code: 'POST_COMMIT_EFFECTS_FAILED' }, 'timer effects after commit failed');
    }
    return outcome;
  }

  private async applyEffect(
    timerId: string,
    meta: { tenant_id: string; customer_id: string },
    effects: Effects,
  ): Promise<TimerOutcome> {
    return this.db.withTenant(meta.tenant_id, async (tx): Promise<TimerOutcome> => {
      await rows(tx, 'SELECT 1 FROM customers WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [
        meta.tenant_id,
        meta.customer_id,
      ]);
      // The timer and its run, both locked, in one round trip (the customer lock above already
      // orders this transaction against every other writer of them).
      const [locked] = await rows<EnrollmentRow & TimerColumns>(
        tx,
        `SELECT e.*, t.kind AS timer_kind, t.step_index AS timer_step_index,
           t.due_at AS timer_due_at, t.state AS timer_state
         FROM timers t JOIN enrollments e ON e.id = t.enrollment_id
         WHERE t.tenant_id = $1 AND t.id = $2 FOR UPDATE`,
        [meta.tenant_id, timerId],
      );
      if (!locked) return 'skipped';
      const { timer_kind, timer_step_index, timer_due_at, timer_state, ...run } = locked;
      if (timer_state !== 'PENDING') return 'skipped';
      const timer = { kind: timer_kind, step_index: timer_step_index, due_at: timer_due_at };
      const nowMs = this.clock.nowMs();
      if (timer.due_at.getTime() > nowMs) {
        // The due time moved (a repeated entry reset the deadline) after this claim was indexed.
        effects.timersToSchedule.push({
          timerId,
          tenantId: meta.tenant_id,
          dueAtMs: timer.due_at.getTime(),
        });
        return 'not-due';
      }

      let deferral: { deferToMs: number } | null = null;
      if (timer.kind === 'DEADLINE') {
        await this.enrollments.onDeadline(tx, run, timer.due_at.getTime(), nowMs, effects);
      } else if (timer.kind === 'HOLD') {
        await this.enrollments.onHoldExpired(tx, run, nowMs, effects);
      } else if (timer.kind === 'DELIVERY') {
        deferral = await this.watchdog.onDue(tx, run, timer.step_index, nowMs, effects);
      } else {
        deferral = await this.steps.onStepDue(
          tx,
          run,
          timer.step_index,
          timer.due_at.getTime(),
          nowMs,
          effects,
        );
      }
      if (deferral) {
        // The same timer waits again (quiet hours, a cap, the next delivery check), never at
        // the same instant (a manual clock would otherwise fire it forever).
        const dueAtMs = Math.max(deferral.deferToMs, nowMs + 1);
        await rows(tx, `UPDATE timers SET due_at = $3 WHERE tenant_id = $1 AND id = $2`, [
          meta.tenant_id,
          timerId,
          new Date(dueAtMs),
        ]);
        effects.timersToSchedule.push({ timerId, tenantId: meta.tenant_id, dueAtMs });
        return 'fired';
      }
      await rows(
        tx,
        `UPDATE timers SET state = 'DONE', fired_at = $3 WHERE tenant_id = $1 AND id = $2`,
        [meta.tenant_id, timerId, new Date(nowMs)],
      );
      return 'fired';
    });
  }

  /**
   * Counts a failed attempt (its transaction rolled back, nothing of it happened). After
   * `MAX_TIMER_ATTEMPTS` the timer is parked as FAILED, so one poisoned timer can never stall
   * the others or retry forever.
   */
  private async recordFailure(timerId: string, err: Error, log: Logger): Promise<void> {
    const [updated] = (await this.db.dataSource.query(
      `UPDATE timers SET attempts = attempts + 1, last_error = $2,
         state = CASE WHEN attempts + 1 >= $3 THEN 'FAILED' ELSE state END
       WHERE id = $1 AND state = 'PENDING' RETURNING attempts, state`,
      [timerId, `${err.name}: ${err.message}`.slice(0, 500), MAX_TIMER_ATTEMPTS],
    )) as [Array<{ attempts: number; state: string }>, number];
    const state = updated?.[0]?.state;
    log.error(
      {
        err,
        attempts: updated?.[0]?.attempts,
        code: state === 'FAILED' ? 'TIMER_DEAD_LETTER' : 'TIMER_RETRY',
      },
      state === 'FAILED' ? 'timer failed for good; parked as FAILED' : 'timer failed; will retry',
    );
  }
}
