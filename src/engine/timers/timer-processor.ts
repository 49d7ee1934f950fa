import type { Clock } from '../../clock';
import type { Logger } from '../../logger';
import { Database, rows } from '../../platform/database';
import { Effects } from '../sequences/effects';
import type { EffectsApplier } from '../sequences/effects-applier';
import type { EnrollmentEngine, EnrollmentRow } from '../sequences/enrollment.engine';
import type { StepEngine } from '../sequences/step.engine';
import type { TimerRow } from './timer-store';

/** What became of a claimed timer. `busy` is never returned: locks serialise instead. */
export type TimerOutcome = 'fired' | 'skipped' | 'not-due';

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
    private readonly applier: EffectsApplier,
    private readonly log: Logger,
  ) {}

  async fire(timerId: string): Promise<TimerOutcome> {
    const [meta] = (await this.db.dataSource.query(
      `SELECT t.tenant_id, e.customer_id FROM timers t JOIN enrollments e ON e.id = t.enrollment_id
       WHERE t.id = $1`,
      [timerId],
    )) as Array<{ tenant_id: string; customer_id: string }>;
    if (!meta) return 'skipped';

    const effects = new Effects();
    const outcome = await this.db.withTenant(meta.tenant_id, async (tx): Promise<TimerOutcome> => {
      await rows(tx, 'SELECT 1 FROM customers WHERE tenant_id = $1 AND id = $2 FOR UPDATE', [
        meta.tenant_id,
        meta.customer_id,
      ]);
      const [timer] = await rows<TimerRow>(
        tx,
        'SELECT * FROM timers WHERE tenant_id = $1 AND id = $2 FOR UPDATE',
        [meta.tenant_id, timerId],
      );
      if (!timer || timer.state !== 'PENDING') return 'skipped';
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

      const [run] = await rows<EnrollmentRow>(
        tx,
        'SELECT * FROM enrollments WHERE tenant_id = $1 AND id = $2 FOR UPDATE',
        [meta.tenant_id, timer.enrollment_id],
      );
      if (timer.kind === 'DEADLINE') {
        await this.enrollments.onDeadline(tx, run, nowMs, effects);
      } else {
        await this.steps.onStepDue(
          tx,
          run,
          timer.step_index,
          timer.due_at.getTime(),
          nowMs,
          effects,
        );
      }
      await rows(
        tx,
        `UPDATE timers SET state = 'DONE', fired_at = $3 WHERE tenant_id = $1 AND id = $2`,
        [meta.tenant_id, timerId, new Date(nowMs)],
      );
      return 'fired';
    });
    await this.applier.apply(effects, this.log.child({ tenantId: meta.tenant_id, timerId }));
    return outcome;
  }
}
