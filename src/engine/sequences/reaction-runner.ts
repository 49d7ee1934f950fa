import type { Database, Tx } from '../../platform/database';
import { isDeadlock } from '../../platform/database';
import type { TenantContext } from '../../tenancy/tenant-context';
import type { TimerRunner } from '../timers/timer-runner';
import { Effects } from './effects';
import type { EffectsApplier } from './effects-applier';

/** How often a transaction PostgreSQL rolled back to break a deadlock is tried in all. */
const MAX_ATTEMPTS = 3;

/**
 * Runs a tenant transaction that stores something and decides its consequences, then carries
 * those out once it has committed. Shared by everything that writes on a request (ingestion,
 * identify), so each keeps the same two promises:
 * - a deadlock (two requests locking the same customers in opposite orders) rolls the whole
 *   transaction back and it is tried again, with fresh effects;
 * - once committed, nothing may turn the call into an error — a client would retry what was
 *   stored — so a failure to apply effects is logged; pending timers are re-indexed by the
 *   sweeper.
 */
export class ReactionRunner {
  constructor(
    private readonly db: Database,
    private readonly applier: EffectsApplier,
    private readonly timers: TimerRunner,
  ) {}

  async run<T>(
    ctx: TenantContext,
    what: string,
    work: (tx: Tx, effects: Effects) => Promise<T>,
  ): Promise<{ value: T; effects: Effects }> {
    let value: T;
    let effects: Effects;
    for (let attempt = 1; ; attempt++) {
      effects = new Effects();
      try {
        value = await this.db.withTenant(ctx.tenantId, (tx) => work(tx, effects));
        break;
      } catch (err) {
        if (!isDeadlock(err) || attempt >= MAX_ATTEMPTS) throw err;
        ctx.log.warn({ attempt, code: 'DEADLOCK_RETRIED' }, `${what} retried`);
      }
    }
    try {
      await this.applier.apply(effects, ctx.log);
      if (effects.timersToSchedule.length > 0) await this.timers.kick();
    } catch (err) {
      ctx.log.error(
        { err, code: 'POST_COMMIT_EFFECTS_FAILED' },
        `effects after ${what} failed; what it stored is kept`,
      );
    }
    return { value, effects };
  }
}
