import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import { ExperimentResults } from '../schema/experiment.types';
import { Trigger } from '../schema/trigger.types';
import { tenantOf } from './context';
import type { RequestContext } from './context';
import { toTrigger } from './trigger.resolver';

@Resolver()
export class ExperimentResolver {
  @Authorized('READ')
  @Query(() => ExperimentResults, {
    description:
      'The latest experiment on a trigger step (0-based): per-variant entries, sends, ' +
      'conversions and statistics against the control.',
  })
  async experimentResults(
    @Arg('triggerId', () => ID) triggerId: string,
    @Arg('step', () => Int) step: number,
    @Ctx() ctx: RequestContext,
  ): Promise<ExperimentResults> {
    return ctx.services.experiments.results(tenantOf(ctx), triggerId, step);
  }

  @Authorized('WRITE')
  @Mutation(() => Trigger, {
    description:
      'Ends the step’s experiment with this variant as winner: a new trigger version sends it ' +
      'to every new entrant. Runs already assigned keep their variant.',
  })
  async promoteVariant(
    @Arg('triggerId', () => ID) triggerId: string,
    @Arg('step', () => Int) step: number,
    @Arg('variant') variant: string,
    @Ctx() ctx: RequestContext,
  ): Promise<Trigger> {
    return toTrigger(
      await ctx.services.experiments.promote(tenantOf(ctx), triggerId, step, variant),
    );
  }
}
