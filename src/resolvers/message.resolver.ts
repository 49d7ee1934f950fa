import { Arg, Authorized, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import { pageRequest } from '../engine/pagination';
import { toConnection } from '../schema/connection';
import { Customer, Message, MessageConnection } from '../schema/customer.types';
import { Trigger } from '../schema/trigger.types';
import { triggerForMessage } from './trigger.resolver';
import { tenantOf } from './context';
import type { RequestContext } from './context';

@Resolver(() => Message)
export class MessageResolver {
  @Authorized('READ')
  @Query(() => MessageConnection)
  async messages(
    @Ctx() ctx: RequestContext,
    @Arg('triggerId', () => ID, { nullable: true }) triggerId?: string,
    @Arg('customerExternalId', () => String, { nullable: true }) customerExternalId?: string,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ) {
    const page = pageRequest(first, after);
    const found = await ctx.services.messages.list(
      tenantOf(ctx),
      { triggerId, customerExternalId },
      page,
    );
    return toConnection(found, page.afterSeq !== '0');
  }

  @FieldResolver(() => Trigger)
  trigger(@Root() message: Message, @Ctx() ctx: RequestContext): Promise<Trigger> {
    return triggerForMessage(ctx, message.triggerId);
  }

  @FieldResolver(() => Customer)
  customer(@Root() message: Message, @Ctx() ctx: RequestContext): Promise<Customer> {
    return ctx.services.customers.getById(tenantOf(ctx), message.customerId);
  }
}
