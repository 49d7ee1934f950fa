import { Arg, Authorized, Ctx, Query, Resolver } from 'type-graphql';
import { BehaviorImpact, BehaviorImpactInput } from '../schema/behavior-impact.types';
import { tenantOf, type RequestContext } from './context';

@Resolver()
export class BehaviorImpactResolver {
  @Authorized('READ')
  @Query(() => BehaviorImpact, {
    description:
      'Do customers who show a behaviour convert more often within a window? Over stored ' +
      'events; reads only.',
  })
  async behaviorImpact(
    @Arg('input') input: BehaviorImpactInput,
    @Ctx() ctx: RequestContext,
  ): Promise<BehaviorImpact> {
    return ctx.services.behaviorImpact.behaviorImpact(tenantOf(ctx), input);
  }
}
