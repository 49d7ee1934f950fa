import type { Clock } from '../../clock';
import { NotFoundError, checkedAt } from '../../errors';
import { Database } from '../../platform/database';
import type { OutboundGuard } from '../channels/outbound-guard';
import type { TenantContext } from '../../tenancy/tenant-context';
import { CustomerRefInput, lockCustomer, parseCustomerRef, refField } from './customer-ref';
import {
  PushSubscriptionInput,
  PushSubscriptionView,
  checkEndpoint,
  livePushSubscriptions,
  parsePushSubscription,
  pruneByEndpoint,
  savePushSubscription,
} from './push-subscriptions';

/** A registration as a client sends it: the customer and the browser's subscription. */
export type RegisterPushCommand = CustomerRefInput & PushSubscriptionInput;

/**
 * Web Push subscriptions as the tenant's site reports them. PUSH steps go to the customer's
 * newest live subscription; the engine prunes one when the push service says it is gone.
 */
export class PushSubscriptionService {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly outbound: OutboundGuard,
  ) {}

  /**
   * Registers a subscription for an existing customer, locking the customer row first (the
   * engine's lock order). Registering a known endpoint again moves it to this customer and
   * makes it live and newest. Idempotent. Throws NOT_FOUND for an unknown customer (never
   * creates one) and BAD_USER_INPUT at `input.endpoint` (also for an address the outbound
   * guard refuses), `input.keys.p256dh`, `input.keys.auth`.
   */
  async register(ctx: TenantContext, input: RegisterPushCommand): Promise<PushSubscriptionView> {
    const ref = checkedAt('input', () => parseCustomerRef(input));
    const subscription = checkedAt('input', () => parsePushSubscription(input, this.outbound));
    const nowMs = this.clock.nowMs();
    return this.db.withTenant(ctx.tenantId, async (tx) => {
      const customer = await lockCustomer(tx, ctx.tenantId, ref);
      if (!customer) throw new NotFoundError('customer', `input.${refField(ref)}`);
      const saved = await savePushSubscription(tx, ctx.tenantId, customer.id, subscription, nowMs);
      ctx.log.info({ customerId: customer.id, channel: 'PUSH' }, 'push subscription registered');
      return saved;
    });
  }

  /**
   * Prunes the subscription with this endpoint (the browser unsubscribed) and returns it.
   * Idempotent. Throws NOT_FOUND when the tenant has no such endpoint.
   */
  async unregister(ctx: TenantContext, endpoint: string): Promise<PushSubscriptionView> {
    const checked = checkedAt('', () => checkEndpoint(endpoint, 'endpoint'));
    const nowMs = this.clock.nowMs();
    const pruned = await this.db.withTenant(ctx.tenantId, (tx) =>
      pruneByEndpoint(tx, ctx.tenantId, checked, nowMs),
    );
    if (!pruned) throw new NotFoundError('push subscription', 'endpoint');
    return pruned;
  }

  /** The customer's live subscriptions, newest first (at most 100), without keys. */
  list(ctx: TenantContext, customerId: string): Promise<PushSubscriptionView[]> {
    return this.db.withTenant(ctx.tenantId, (tx) =>
      livePushSubscriptions(tx, ctx.tenantId, customerId),
    );
  }
}
