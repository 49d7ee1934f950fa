import type { Tx } from '../../platform/database';
import { latestPushSubscription } from '../consent/push-subscriptions';
import type { SendPolicy } from '../consent/send-policy';
import type { CustomerRow } from '../ingestion/customer.service';
import type { Channel } from '../triggers/trigger-definition';

export interface Address {
  /** Email address, phone number, push endpoint or webhook URL. */
  to: string;
  pushSubscriptionId: string | null;
}

/**
 * Where a message on `channel` goes for this customer, or null when there is nowhere (the
 * step is then suppressed as INVALID_ADDRESS): the customer's email or phone, their newest
 * live push subscription, or the tenant's webhook URL.
 */
export async function resolveAddress(
  tx: Tx,
  channel: Channel,
  customer: CustomerRow,
  policy: SendPolicy,
): Promise<Address | null> {
  switch (channel) {
    case 'EMAIL':
      return customer.email ? { to: customer.email, pushSubscriptionId: null } : null;
    case 'SMS':
      return customer.phone ? { to: customer.phone, pushSubscriptionId: null } : null;
    case 'WEBHOOK':
      return policy.webhookUrl ? { to: policy.webhookUrl, pushSubscriptionId: null } : null;
    case 'PUSH': {
      const subscription = await latestPushSubscription(tx, customer.tenant_id, customer.id);
      return subscription
        ? { to: subscription.endpoint, pushSubscriptionId: subscription.id }
        : null;
    }
  }
}
