import { InputProblem } from '../../errors';
import { Tx, rows } from '../../platform/database';
import type { CustomerRow } from '../ingestion/customer.service';
import type { CustomerRef } from '../ingestion/identity';
import { checkExternalId } from '../ingestion/validation';

/** The untrusted reference: the tenant's id or an anonymous id, exactly one of them. */
export interface CustomerRefInput {
  customerExternalId?: string | null;
  anonymousId?: string | null;
}

/**
 * Validates a reference to an existing customer. Unlike `track`, both at once are refused:
 * consent and devices are recorded for one customer, never used to link two. Throws
 * `InputProblem` at `customerExternalId` or `anonymousId`.
 */
export function parseCustomerRef(input: CustomerRefInput): CustomerRef {
  const hasExternal = input.customerExternalId != null;
  if (hasExternal === (input.anonymousId != null)) {
    throw new InputProblem(
      'customerExternalId',
      'give exactly one of customerExternalId and anonymousId',
    );
  }
  return hasExternal
    ? {
        externalId: checkExternalId(input.customerExternalId, 'customerExternalId'),
        anonymousId: null,
      }
    : { externalId: null, anonymousId: checkExternalId(input.anonymousId, 'anonymousId') };
}

/** The input field a reference came from, for NOT_FOUND's `field`. */
export const refField = (ref: CustomerRef): string =>
  ref.externalId !== null ? 'customerExternalId' : 'anonymousId';

/**
 * Finds the customer and locks its row (`FOR UPDATE`) until the caller's transaction ends,
 * or returns null. The engine's lock order starts with the customer row, so whatever the
 * caller records next is serialised with a step being processed for that customer. Never
 * creates a customer.
 */
export async function lockCustomer(
  tx: Tx,
  tenantId: string,
  ref: CustomerRef,
): Promise<CustomerRow | null> {
  if (ref.externalId !== null) {
    const [row] = await rows<CustomerRow>(
      tx,
      'SELECT * FROM customers WHERE tenant_id = $1 AND external_id = $2 FOR UPDATE',
      [tenantId, ref.externalId],
    );
    return row ?? null;
  }
  // A merge committing while we wait on the anonymous customer's lock deletes that row and
  // moves the alias; the second statement sees the alias's new customer.
  for (let attempt = 0; attempt < 2; attempt++) {
    const [row] = await rows<CustomerRow>(
      tx,
      `SELECT c.* FROM customer_aliases a
       JOIN customers c ON c.tenant_id = a.tenant_id AND c.id = a.customer_id
       WHERE a.tenant_id = $1 AND a.anonymous_id = $2 FOR UPDATE OF c`,
      [tenantId, ref.anonymousId],
    );
    if (row) return row;
  }
  return null;
}
