import { Arg, Authorized, Ctx, Mutation, Resolver } from 'type-graphql';
import { ClockPayload } from '../schema/clock.types';
import { CreateTenantInput, CreateTenantPayload } from '../schema/tenant.types';
import { DurationScalar } from '../schema/scalars';
import { OPERATOR } from './auth-checker';
import type { RequestContext } from './context';

@Resolver()
export class OperatorResolver {
  @Authorized(OPERATOR)
  @Mutation(() => CreateTenantPayload, {
    description: 'Operator only. Returns the first ADMIN key, once.',
  })
  createTenant(
    @Arg('input') input: CreateTenantInput,
    @Ctx() ctx: RequestContext,
  ): Promise<CreateTenantPayload> {
    return ctx.services.tenants.create(input) as Promise<CreateTenantPayload>;
  }

  @Authorized(OPERATOR)
  @Mutation(() => ClockPayload, {
    description: 'NUDGE_CLOCK=manual only. Fires due timers in order.',
  })
  setClock(@Arg('to') to: Date, @Ctx() ctx: RequestContext): Promise<ClockPayload> {
    return ctx.services.clock.setTo(to.getTime());
  }

  @Authorized(OPERATOR)
  @Mutation(() => ClockPayload, {
    description: 'NUDGE_CLOCK=manual only. Fires due timers in order.',
  })
  advanceClock(
    @Arg('by', () => DurationScalar) by: string,
    @Ctx() ctx: RequestContext,
  ): Promise<ClockPayload> {
    return ctx.services.clock.advanceBy(by);
  }
}
