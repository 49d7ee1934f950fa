import {
  Arg,
  Authorized,
  Ctx,
  FieldResolver,
  ID,
  Int,
  Mutation,
  Query,
  Resolver,
  Root,
} from 'type-graphql';
import { toConnection } from '../schema/connection';
import {
  Customer,
  EventConnection,
  IdentifyInput,
  MessageConnection,
  TrackBatchResult,
  TrackInput,
  TrackResult,
} from '../schema/customer.types';
import { pageRequest } from '../engine/pagination';
import { BadInputError } from '../errors';
import { MAX_BATCH } from '../engine/ingestion/ingest.service';
import { Decision } from '../schema/decision.types';
import { MAX_DECISIONS } from '../engine/decisions/decision.service';
import { tenantOf } from './context';
import type { RequestContext } from './context';

@Resolver(() => Customer)
export class CustomerResolver {
  @Authorized('INGEST', 'WRITE')
  @Mutation(() => Customer, { description: 'Creates or updates a customer; traits merge.' })
  identify(@Arg('input') input: IdentifyInput, @Ctx() ctx: RequestContext): Promise<Customer> {
    return ctx.services.customers.identify(tenantOf(ctx), input);
  }

  @Authorized('INGEST', 'WRITE')
  @Mutation(() => TrackResult)
  track(@Arg('input') input: TrackInput, @Ctx() ctx: RequestContext): Promise<TrackResult> {
    return ctx.services.ingest.track(tenantOf(ctx), input);
  }

  @Authorized('INGEST', 'WRITE')
  @Mutation(() => TrackBatchResult, {
    description: 'At most 1,000 events; valid ones are stored even if others are rejected.',
  })
  async trackBatch(
    @Arg('events', () => [TrackInput]) events: TrackInput[],
    @Ctx() ctx: RequestContext,
  ): Promise<TrackBatchResult> {
    if (events.length > MAX_BATCH) {
      throw new BadInputError(
        'events',
        `at most ${MAX_BATCH} events per call (got ${events.length}); split the batch`,
      );
    }
    const results = await ctx.services.ingest.trackBatch(tenantOf(ctx), events);
    return {
      accepted: results.filter((r) => r.status === 'accepted').length,
      duplicates: results.filter((r) => r.status === 'duplicate').length,
      rejected: results.flatMap((r) =>
        r.status === 'rejected'
          ? [{ index: r.index, code: r.code, message: r.message, field: r.field }]
          : [],
      ),
      eventIds: results.map((r) => (r.status === 'rejected' ? null : r.eventId)),
    };
  }

  @Authorized('READ')
  @Query(() => Customer, {
    nullable: true,
    description: 'By the tenant’s id or by an anonymous id (exactly one of them).',
  })
  customer(
    @Ctx() ctx: RequestContext,
    @Arg('externalId', () => String, { nullable: true }) externalId?: string | null,
    @Arg('anonymousId', () => String, { nullable: true }) anonymousId?: string | null,
  ): Promise<Customer | null> {
    if ((externalId == null) === (anonymousId == null)) {
      throw new BadInputError('externalId', 'give exactly one of externalId and anonymousId');
    }
    return externalId != null
      ? ctx.services.customers.getByExternalId(tenantOf(ctx), externalId)
      : ctx.services.customers.getByAnonymousId(tenantOf(ctx), anonymousId!);
  }

  @Authorized('READ')
  @FieldResolver(() => [String], { description: 'Anonymous ids linked to this customer.' })
  anonymousIds(@Root() customer: Customer, @Ctx() ctx: RequestContext): Promise<string[]> {
    return ctx.services.customers.anonymousIds(tenantOf(ctx), customer.id);
  }

  @Authorized('READ')
  @FieldResolver(() => [Decision], {
    description:
      'Why the customer did or did not hear from triggers: one entry per decision, oldest ' +
      `first (the newest ${MAX_DECISIONS}).`,
  })
  decisions(
    @Root() customer: Customer,
    @Ctx() ctx: RequestContext,
    @Arg('triggerId', () => ID, { nullable: true }) triggerId?: string | null,
  ): Promise<Decision[]> {
    return ctx.services.decisions.forCustomer(
      tenantOf(ctx),
      customer.id,
      triggerId ?? null,
    ) as Promise<Decision[]>;
  }

  @Authorized('READ')
  @FieldResolver(() => EventConnection)
  async events(
    @Root() customer: Customer,
    @Ctx() ctx: RequestContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ) {
    const page = pageRequest(first, after);
    return toConnection(
      await ctx.services.customers.events(tenantOf(ctx), customer.id, page),
      page.afterSeq !== '0',
    );
  }

  @Authorized('READ')
  @FieldResolver(() => MessageConnection)
  async messages(
    @Root() customer: Customer,
    @Ctx() ctx: RequestContext,
    @Arg('first', () => Int, { nullable: true }) first?: number,
    @Arg('after', () => String, { nullable: true }) after?: string,
  ) {
    const page = pageRequest(first, after);
    const found = await ctx.services.messages.list(
      tenantOf(ctx),
      { customerId: customer.id },
      page,
    );
    return toConnection(found, page.afterSeq !== '0');
  }
}
