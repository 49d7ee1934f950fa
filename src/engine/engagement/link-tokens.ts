import { createHmac, timingSafeEqual } from 'node:crypto';
import type { EmailLinks } from '../channels/channel';

/**
 * Signed per-message tracking tokens.
 *
 * A token is 48 bytes in base64url (64 characters, no padding): the tenant id's 16 bytes, the
 * message id's 16 bytes, then the first 16 bytes (128 bits) of an HMAC-SHA256 keyed with the
 * tenant's `link_secret`. The MAC covers a version, the kind of link and both ids; a click
 * token also covers its destination URL, so `/t/c/<token>?u=<elsewhere>` does not verify and
 * the endpoint is not an open redirect. A token of one kind never verifies as another: an open
 * pixel's token cannot unsubscribe anyone.
 *
 * The ids inside a token are readable by anyone; they are trusted only after `verifyToken`
 * succeeded with the secret of the tenant the token names (read inside that tenant's
 * transaction, so row-level security applies).
 */
export type LinkKind = 'open' | 'click' | 'unsubscribe';

/** A token split into its parts. Nothing in it is trustworthy until `verifyToken` says so. */
export interface UnverifiedToken {
  tenantId: string;
  messageId: string;
  mac: Buffer;
}

const KIND_TAG: Record<LinkKind, string> = { open: 'o', click: 'c', unsubscribe: 'u' };
const ID_BYTES = 16;
const MAC_BYTES = 16;
const TOKEN_BYTES = 2 * ID_BYTES + MAC_BYTES;
/** 48 bytes in unpadded base64url. */
const TOKEN = /^[A-Za-z0-9_-]{64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Builds the token for one message and kind. `destination` is required for (and only used
 * by) click tokens. Deterministic: the same inputs give the same token.
 */
export function signToken(
  kind: LinkKind,
  tenantId: string,
  messageId: string,
  linkSecret: string,
  destination?: string,
): string {
  const packed = Buffer.concat([
    uuidBytes(tenantId),
    uuidBytes(messageId),
    macOf(kind, tenantId, messageId, linkSecret, destination),
  ]);
  return packed.toString('base64url');
}

/**
 * Splits a token into the ids it claims and its MAC, or null when it is not a token at all.
 * The caller must still verify it with `verifyToken` and that tenant's secret.
 */
export function parseToken(token: string): UnverifiedToken | null {
  if (!TOKEN.test(token)) return null;
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.length !== TOKEN_BYTES) return null;
  return {
    tenantId: uuidText(bytes.subarray(0, ID_BYTES)),
    messageId: uuidText(bytes.subarray(ID_BYTES, 2 * ID_BYTES)),
    mac: bytes.subarray(2 * ID_BYTES),
  };
}

/** True when the token was signed with `linkSecret` for this kind (and destination). */
export function verifyToken(
  token: UnverifiedToken,
  kind: LinkKind,
  linkSecret: string,
  destination?: string,
): boolean {
  if ((kind === 'click') !== (destination !== undefined)) return false;
  const expected = macOf(kind, token.tenantId, token.messageId, linkSecret, destination);
  return token.mac.length === expected.length && timingSafeEqual(token.mac, expected);
}

/**
 * The tracking and unsubscribe URLs of one email, under the service's public URL (no
 * trailing slash needed). `clickUrl` wraps http(s) destinations only; anything else (mailto:,
 * tel:, #anchors, relative links) comes back unchanged, since the click endpoint would refuse
 * to redirect there.
 */
export function emailLinks(
  publicUrl: string,
  tenantId: string,
  messageId: string,
  linkSecret: string,
): EmailLinks {
  const base = publicUrl.replace(/\/+$/, '');
  const token = (kind: LinkKind, destination?: string) =>
    signToken(kind, tenantId, messageId, linkSecret, destination);
  return {
    openPixelUrl: `${base}/t/o/${token('open')}`,
    unsubscribeUrl: `${base}/t/u/${token('unsubscribe')}`,
    clickUrl: (destination) =>
      isHttpUrl(destination)
        ? `${base}/t/c/${token('click', destination)}?u=${encodeURIComponent(destination)}`
        : destination,
  };
}

/** True for an absolute http: or https: URL, the only destinations a click may redirect to. */
export function isHttpUrl(value: string): boolean {
  if (!/^https?:\/\//i.test(value)) return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function macOf(
  kind: LinkKind,
  tenantId: string,
  messageId: string,
  linkSecret: string,
  destination: string | undefined,
): Buffer {
  if ((kind === 'click') !== (destination !== undefined)) {
    throw new Error('a destination is signed with click tokens, and only with them');
  }
  // NUL separators: none of the parts can contain one where it matters (ids are hex and
  // dashes, the destination is last), so two different inputs never concatenate alike.
  const signed = ['nudge-link-v1', KIND_TAG[kind], tenantId.toLowerCase(), messageId.toLowerCase()];
  if (destination !== undefined) signed.push(destination);
  return createHmac('sha256', linkSecret)
    .update(signed.join('\0'), 'utf8')
    .digest()
    .subarray(0, MAC_BYTES);
}

function uuidBytes(id: string): Buffer {
  if (!UUID.test(id)) throw new Error('link tokens carry canonical UUIDs only');
  return Buffer.from(id.replace(/-/g, ''), 'hex');
}

function uuidText(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  const parts = [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20)];
  return [...parts, hex.slice(20)].join('-');
}
