/** The part of http_ece 1.2 (no bundled types) that the local push service peer uses. */
declare module 'http_ece' {
  import type { ECDH } from 'node:crypto';

  export interface DecryptParams {
    version: 'aes128gcm' | 'aesgcm';
    /** The receiver's ECDH key pair (for Web Push, the browser's p256dh key). */
    privateKey?: ECDH;
    /** The 16-byte Web Push auth secret, raw or base64url. */
    authSecret?: Buffer | string;
  }

  export function decrypt(buffer: Buffer, params: DecryptParams): Buffer;
}
