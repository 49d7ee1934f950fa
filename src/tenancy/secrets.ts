import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Random base62 text of `length` characters (rejection sampling, no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += ALPHABET[byte % 62];
    }
  }
  return out;
}

/**
 * A new API key secret: `nk_<12-char key prefix id>_<32-char secret>`. The prefix is not
 * secret (it is stored and shown to identify the key); the whole string is.
 */
export function newApiKeySecret(): { prefix: string; secret: string } {
  const prefix = `nk_${randomBase62(12)}`;
  return { prefix, secret: `${prefix}_${randomBase62(32)}` };
}

/** The non-secret prefix of a presented secret, or null when it has the wrong shape. */
export function prefixOf(secret: string): string | null {
  const match = /^(nk_[0-9A-Za-z]{12})_[0-9A-Za-z]{32}$/.exec(secret);
  return match ? match[1] : null;
}

/** Keyed hash stored instead of the secret (HMAC-SHA-256 with the server pepper). */
export function hashSecret(pepper: string, secret: string): string {
  return createHmac('sha256', pepper).update(secret).digest('hex');
}

/** Constant-time comparison of two strings of possibly different length. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  if (left.length !== right.length) {
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}
