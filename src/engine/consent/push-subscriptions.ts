import { InputProblem } from '../../errors';
import { Tx, rows } from '../../platform/database';
import type { PushTarget } from '../channels/channel';
import type { OutboundGuard } from '../channels/outbound-guard';

/**
 * Web Push subscriptions: what a browser's `PushSubscription.toJSON()` gives, one row per
 * endpoint and tenant. A subscription is live until it is pruned (the push service answered
 * 404/410, or the site unregistered it); a customer's newest live one receives PUSH steps.
 */

/** A live subscription as the PUSH channel needs it. */
export interface PushSubscriptionTarget extends PushTarget {
  id: string;
}

/** A subscription as a tenant may see it: never its keys. */
export interface PushSubscriptionView {
  id: string;
  endpoint: string;
  createdAt: Date;
  prunedAt: Date | null;
}

/** The untrusted registration. */
export interface PushSubscriptionInput {
  endpoint: unknown;
  keys: { p256dh: unknown; auth: unknown };
}

/** A validated registration. */
export interface ValidPushSubscription {
  endpoint: string;
  p256dh: string;
  auth: string;
}

const MAX_ENDPOINT_LENGTH = 2048;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;
/** An uncompressed P-256 public key: 0x04, then X and Y of 32 bytes each. */
const P256DH_BYTES = 65;
const AUTH_BYTES = 16;

/**
 * Validates a registration. `endpoint` is an absolute http(s) URL of at most 2,048 characters
 * without credentials (push services use https; http is accepted for local test services).
 * `keys.p256dh` is base64url of a 65-byte uncompressed P-256 key, `keys.auth` base64url of 16
 * bytes. An endpoint whose host is an IP literal or `localhost` that `outbound` refuses is
 * refused too (its names are checked on every send). Pure. Throws `InputProblem` at
 * `endpoint`, `keys.p256dh` or `keys.auth`.
 */
export function parsePushSubscription(
  input: PushSubscriptionInput,
  outbound: OutboundGuard,
): ValidPushSubscription {
  return {
    endpoint: checkEndpoint(input.endpoint, 'endpoint', outbound),
    p256dh: checkKey(input.keys?.p256dh, 'keys.p256dh', P256DH_BYTES),
    auth: checkKey(input.keys?.auth, 'keys.auth', AUTH_BYTES),
  };
}

/**
 * Checks an endpoint URL; throws `InputProblem` at `path`. With `outbound`, also refuses an
 * IP literal or `localhost` host that the guard refuses; without it (looking up an endpoint
 * that is already stored, to unregister it), only the form is checked.
 */
export function checkEndpoint(value: unknown, path: string, outbound?: OutboundGuard): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ENDPOINT_LENGTH) {
    throw new InputProblem(path, `expected a URL of 1 to ${MAX_ENDPOINT_LENGTH} characters`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputProblem(path, 'expected an absolute https URL from the browser’s push service');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new InputProblem(path, 'expected an https URL from the browser’s push service');
  }
  if (url.username || url.password) {
    throw new InputProblem(path, 'must not contain credentials');
  }
  const refusal = outbound?.refusalForHost(url.hostname);
  if (refusal) {
    throw new InputProblem(path, `${refusal}; push services have public addresses`);
  }
  return value;
}

function checkKey(value: unknown, path: string, bytes: number): string {
  const decoded =
    typeof value === 'string' && BASE64URL.test(value) ? Buffer.from(value, 'base64url') : null;
  const isValid =
    decoded !== null && decoded.length === bytes && (bytes !== P256DH_BYTES || decoded[0] === 4);
  if (!isValid) {
    const what =
      bytes === P256DH_BYTES ? 'a 65-byte uncompressed P-256 public key' : `${bytes} bytes`;
    throw new InputProblem(
      path,
      `expected base64url of ${what}, as PushSubscription.toJSON() gives`,
    );
  }
  return value as string;
}

/**
 * Registers `subscription` for the customer in the caller's tenant transaction. The same
 * endpoint registered again (a browser re-subscribing, or another customer logging in on the
 * device) moves to this customer, takes the new keys, becomes live again and counts as newest.
 * Idempotent.
 */
export async function savePushSubscription(
  tx: Tx,
  tenantId: string,
  customerId: string,
  subscription: ValidPushSubscription,
  atMs: number,
): Promise<PushSubscriptionView> {
  const [row] = await rows<PushSubscriptionRow>(
    tx,
    `INSERT INTO push_subscriptions (tenant_id, customer_id, endpoint, p256dh, auth, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (tenant_id, endpoint) DO UPDATE SET customer_id = EXCLUDED.customer_id,
       p256dh = EXCLUDED.p256dh, auth = EXCLUDED.auth, created_at = EXCLUDED.created_at,
       pruned_at = NULL
     RETURNING id, endpoint, created_at, pruned_at`,
    [
      tenantId,
      customerId,
      subscription.endpoint,
      subscription.p256dh,
      subscription.auth,
      new Date(atMs),
    ],
  );
  return toView(row);
}

/**
 * The customer's newest live subscription (by registration time), with its keys, or null.
 * Reads in the caller's tenant transaction; takes no lock.
 */
export async function latestPushSubscription(
  tx: Tx,
  tenantId: string,
  customerId: string,
): Promise<PushSubscriptionTarget | null> {
  const [row] = await rows<{ id: string; endpoint: string; p256dh: string; auth: string }>(
    tx,
    `SELECT id, endpoint, p256dh, auth FROM push_subscriptions
     WHERE tenant_id = $1 AND customer_id = $2 AND pruned_at IS NULL
     ORDER BY created_at DESC, id DESC LIMIT 1`,
    [tenantId, customerId],
  );
  if (!row) return null;
  return { id: row.id, endpoint: row.endpoint, keys: { p256dh: row.p256dh, auth: row.auth } };
}

/** The customer's live subscriptions, newest first, without keys. */
export async function livePushSubscriptions(
  tx: Tx,
  tenantId: string,
  customerId: string,
): Promise<PushSubscriptionView[]> {
  const found = await rows<PushSubscriptionRow>(
    tx,
    `SELECT id, endpoint, created_at, pruned_at FROM push_subscriptions
     WHERE tenant_id = $1 AND customer_id = $2 AND pruned_at IS NULL
     ORDER BY created_at DESC, id DESC LIMIT 100`,
    [tenantId, customerId],
  );
  return found.map(toView);
}

/**
 * Marks a subscription pruned at `atMs` (epoch ms) so it receives nothing more; the row stays
 * for the messages that refer to it. Idempotent: an already pruned subscription keeps its
 * first time. Returns whether this call pruned it (false: already pruned or not found).
 */
export async function prunePushSubscription(
  tx: Tx,
  tenantId: string,
  id: string,
  atMs: number,
): Promise<boolean> {
  const pruned = await rows(
    tx,
    `UPDATE push_subscriptions SET pruned_at = $3
     WHERE tenant_id = $1 AND id = $2 AND pruned_at IS NULL RETURNING 1`,
    [tenantId, id, new Date(atMs)],
  );
  return pruned.length > 0;
}

/**
 * Prunes the subscription with this endpoint (the site unsubscribed it) and returns it, or
 * null when the tenant has none. Idempotent like `prunePushSubscription`.
 */
export async function pruneByEndpoint(
  tx: Tx,
  tenantId: string,
  endpoint: string,
  atMs: number,
): Promise<PushSubscriptionView | null> {
  const [row] = await rows<PushSubscriptionRow>(
    tx,
    `UPDATE push_subscriptions SET pruned_at = COALESCE(pruned_at, $3)
     WHERE tenant_id = $1 AND endpoint = $2 RETURNING id, endpoint, created_at, pruned_at`,
    [tenantId, endpoint, new Date(atMs)],
  );
  return row ? toView(row) : null;
}

interface PushSubscriptionRow {
  id: string;
  endpoint: string;
  created_at: Date;
  pruned_at: Date | null;
}

const toView = (r: PushSubscriptionRow): PushSubscriptionView => ({
  id: r.id,
  endpoint: r.endpoint,
  createdAt: r.created_at,
  prunedAt: r.pruned_at,
});
