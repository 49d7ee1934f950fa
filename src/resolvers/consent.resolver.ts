import { Arg, Authorized, Ctx, FieldResolver, Mutation, Resolver, Root } from 'type-graphql';
import type { ConsentRecord as StoredConsent } from '../engine/consent/consent-store';
import {
  ConsentInput,
  ConsentRecord,
  PushSubscription,
  RegisterPushSubscriptionInput,
} from '../schema/consent.types';
import { Customer } from '../schema/customer.types';
import { Channel, Purpose } from '../schema/enums';
import { tenantOf } from './context';
import type { RequestContext } from './context';

/** Maps a stored record to the GraphQL shape. */
export function toConsentRecord(record: StoredConsent): ConsentRecord {
  return {
    channel: record.channel as Channel,
    purpose: record.purpose as Purpose,
    granted: record.granted,
    source: record.source,
    occurredAt: new Date(record.occurredAtMs),
    recordedAt: new Date(record.recordedAtMs),
  };
}

/**
 * Consent and push subscriptions. Writes take INGEST or WRITE: they usually arrive from the
 * shop's backend together with its events (a checkout checkbox, a preference center). Reading
 * them on a customer takes READ, like the customer's other personal data.
 */
@Resolver(() => Customer)
export class ConsentResolver {
  @Authorized('INGEST', 'WRITE')
  @Mutation(() => ConsentRecord, {
    description: 'Records a grant for an existing customer and returns it as stored.',
  })
  async grantConsent(
    @Arg('input') input: ConsentInput,
    @Ctx() ctx: RequestContext,
  ): Promise<ConsentRecord> {
    return toConsentRecord(await ctx.services.consents.grant(tenantOf(ctx), input));
  }

  @Authorized('INGEST', 'WRITE')
  @Mutation(() => ConsentRecord, {
    description:
      'Records a revocation. Pending steps then stop: consent is checked again before each send.',
  })
  async revokeConsent(
    @Arg('input') input: ConsentInput,
    @Ctx() ctx: RequestContext,
  ): Promise<ConsentRecord> {
    return toConsentRecord(await ctx.services.consents.revoke(tenantOf(ctx), input));
  }

  @Authorized('INGEST', 'WRITE')
  @Mutation(() => PushSubscription, {
    description: 'Registers a browser for PUSH; the same endpoint again moves it to this customer.',
  })
  registerPushSubscription(
    @Arg('input') input: RegisterPushSubscriptionInput,
    @Ctx() ctx: RequestContext,
  ): Promise<PushSubscription> {
    return ctx.services.pushSubscriptions.register(tenantOf(ctx), input);
  }

  @Authorized('INGEST', 'WRITE')
  @Mutation(() => PushSubscription, {
    description: 'Stops PUSH to this endpoint (the browser unsubscribed). Idempotent.',
  })
  unregisterPushSubscription(
    @Arg('endpoint') endpoint: string,
    @Ctx() ctx: RequestContext,
  ): Promise<PushSubscription> {
    return ctx.services.pushSubscriptions.unregister(tenantOf(ctx), endpoint);
  }

  @Authorized('READ')
  @FieldResolver(() => [ConsentRecord], {
    description:
      'The current consent per channel and purpose (the latest record of each); pairs never ' +
      'recorded are absent and follow the defaults.',
  })
  async consents(@Root() customer: Customer, @Ctx() ctx: RequestContext): Promise<ConsentRecord[]> {
    const records = await ctx.services.consents.current(tenantOf(ctx), customer.id);
    return records.map(toConsentRecord);
  }

  @Authorized('READ')
  @FieldResolver(() => [PushSubscription], {
    description: 'Live push subscriptions, newest first (at most 100).',
  })
  pushSubscriptions(
    @Root() customer: Customer,
    @Ctx() ctx: RequestContext,
  ): Promise<PushSubscription[]> {
    return ctx.services.pushSubscriptions.list(tenantOf(ctx), customer.id);
  }
}
