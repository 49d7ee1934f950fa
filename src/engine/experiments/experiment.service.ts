import { BadInputError, ConflictError, NotFoundError } from '../../errors';
import { Database, rows } from '../../platform/database';
import type { Clock } from '../../clock';
import type { TenantContext } from '../../tenancy/tenant-context';
import type { TriggerService, TriggerView } from '../triggers/trigger.service';
import { toDefinitionInput } from '../triggers/trigger-definition';
import { endExperiment } from './experiment-lifecycle';
import { ExperimentResultsView, experimentResults } from './experiment-results';

/**
 * Experiments on trigger steps: their results, and ending one by promoting a variant.
 * Assignment happens in the sequence engine (`variantForRun`); tests start and carry on with
 * trigger saves (`attachExperiments`).
 */
export class ExperimentService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly triggers: TriggerService,
  ) {}

  /**
   * The latest experiment on step `step` (0-based) of a trigger, with per-variant counts and
   * statistics. NOT_FOUND for another tenant's trigger; BAD_USER_INPUT (`step`) for a step the
   * trigger does not have. Status NONE when the step never had variants.
   */
  async results(
    ctx: TenantContext,
    triggerId: string,
    step: number,
  ): Promise<ExperimentResultsView> {
    const trigger = await this.triggerOf(ctx, triggerId);
    checkStep(trigger, step);
    const goal = trigger.definition.goal;
    return this.db.withTenant(
      ctx.tenantId,
      (tx) =>
        experimentResults(tx, {
          tenantId: ctx.tenantId,
          triggerId,
          step,
          goalWithinMs: goal?.withinMs ?? null,
          nowMs: this.clock.nowMs(),
        }),
      { isolation: 'REPEATABLE READ' },
    );
  }

  /**
   * Ends the step's running experiment with `variant` as its winner, and saves a new trigger
   * version whose step is that variant (its delay and template), without variants. From then
   * on every new entrant gets the winner; runs already assigned keep their variant. Errors:
   * NOT_FOUND (trigger), BAD_USER_INPUT `step` / `variant` (no such step or variant, or a
   * holdout), CONFLICT (no running experiment on the step, or the trigger is archived).
   */
  async promote(
    ctx: TenantContext,
    triggerId: string,
    step: number,
    variantName: string,
  ): Promise<TriggerView> {
    const trigger = await this.triggerOf(ctx, triggerId);
    checkStep(trigger, step);
    if (trigger.status === 'ARCHIVED') {
      throw new ConflictError('the trigger is archived', { field: 'triggerId' });
    }
    const current = trigger.definition.steps[step];
    const experimentId = current.experimentId;
    if (current.variants.length === 0 || !experimentId) {
      throw new ConflictError('the step has no running experiment', { field: 'step' });
    }
    const variant = current.variants.find((v) => v.name === variantName);
    if (!variant)
      throw new BadInputError('variant', 'expected the name of one of the step’s variants');
    if (variant.isHoldout) {
      throw new BadInputError('variant', 'a holdout cannot be promoted; remove the step instead');
    }

    const ended = await this.db.withTenant(ctx.tenantId, async (tx) => {
      const [running] = await rows<{ id: string }>(
        tx,
        `SELECT id FROM experiments WHERE tenant_id = $1 AND id = $2 AND status = 'RUNNING'
         FOR UPDATE`,
        [ctx.tenantId, experimentId],
      );
      if (running)
        await endExperiment(tx, ctx.tenantId, experimentId, this.clock.nowMs(), variantName);
      return Boolean(running);
    });
    if (!ended)
      throw new ConflictError('the step’s experiment has already ended', { field: 'step' });
    ctx.log.info({ triggerId, experimentId, stepId: step }, 'experiment variant promoted');

    // Ended first: if saving the version failed, the ended test still sends everyone the winner.
    const input = toDefinitionInput(trigger.definition);
    input.steps = input.steps.map((s, i) =>
      i !== step
        ? s
        : {
            ...s,
            delay: variant.delay ?? s.delay,
            template: variant.template ? { ...variant.template } : s.template,
            variants: [],
            experiment: null,
          },
    );
    return this.triggers.update(ctx, triggerId, { steps: input.steps });
  }

  private async triggerOf(ctx: TenantContext, triggerId: string): Promise<TriggerView> {
    const trigger = await this.triggers.get(ctx, triggerId);
    if (!trigger) throw new NotFoundError('trigger', 'triggerId');
    return trigger;
  }
}

function checkStep(trigger: TriggerView, step: number): void {
  if (!Number.isInteger(step) || step < 0 || step >= trigger.definition.steps.length) {
    throw new BadInputError(
      'step',
      `expected a step index from 0 to ${trigger.definition.steps.length - 1}`,
    );
  }
}
