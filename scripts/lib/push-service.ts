import { createECDH, createPublicKey, ECDH, randomBytes, randomUUID, verify } from 'node:crypto';
import http from 'node:http';
import { decrypt } from 'http_ece';

/** A subscription as a browser's `PushSubscription.toJSON()` gives it. */
export interface BrowserSubscription {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** One push message as the browser would get it: decrypted and parsed. */
export interface ReceivedPush {
  endpoint: string;
  payload: unknown;
  /** The raw `Authorization` header (`vapid t=<JWT>, k=<public key>`). */
  authorization: string;
  ttl: number;
  topic: string | null;
  urgency: string | null;
}

interface Subscriber {
  ecdh: ECDH;
  auth: Buffer;
  isExpired: boolean;
}

/**
 * A real local Web Push service (RFC 8030) with a browser behind each subscription:
 * `newSubscription()` makes a P-256 key pair and auth secret like a browser does, and each
 * POST to its endpoint must carry a valid VAPID JWT (RFC 8292, audience = this origin) and an
 * aes128gcm body (RFC 8291), which is decrypted with http_ece. Answers 201 with a `Location`;
 * 404 for unknown endpoints, 410 once `expire`d, 403 for a bad VAPID token. The replay
 * (three-step variant) and the tests use it as the real peer of the PUSH channel.
 */
export class PushServicePeer {
  url = '';
  readonly received: ReceivedPush[] = [];
  private readonly subscribers = new Map<string, Subscriber>();
  private readonly failures: number[] = [];
  private readonly server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const status = this.accept(req, Buffer.concat(chunks));
      if (status === 201) res.setHeader('location', `${this.url}/messages/${randomUUID()}`);
      res.statusCode = status;
      res.end();
    });
  });

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  newSubscription(): BrowserSubscription {
    const ecdh = createECDH('prime256v1');
    ecdh.generateKeys();
    const auth = randomBytes(16);
    const endpoint = `${this.url}/push/${randomUUID()}`;
    this.subscribers.set(endpoint, { ecdh, auth, isExpired: false });
    return {
      endpoint,
      keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') },
    };
  }

  /** The browser unsubscribed: the endpoint answers 410 Gone from now on. */
  expire(endpoint: string): void {
    const subscriber = this.subscribers.get(endpoint);
    if (subscriber) subscriber.isExpired = true;
  }

  /** The next request is answered with `status` (and not delivered). */
  failNext(status: number): void {
    this.failures.push(status);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(req: http.IncomingMessage, body: Buffer): number {
    const endpoint = `${this.url}${req.url}`;
    const subscriber = this.subscribers.get(endpoint);
    if (req.method !== 'POST' || !subscriber) return 404;
    if (subscriber.isExpired) return 410;
    const failStatus = this.failures.shift();
    if (failStatus !== undefined) return failStatus;

    const authorization = req.headers.authorization ?? '';
    if (!isValidVapid(authorization, this.url)) return 403;
    if (req.headers['content-encoding'] !== 'aes128gcm') return 415;
    const ttl = Number(req.headers.ttl);
    if (!Number.isInteger(ttl) || ttl < 0) return 400;

    const plaintext = decrypt(body, {
      version: 'aes128gcm',
      privateKey: subscriber.ecdh,
      authSecret: subscriber.auth,
    });
    this.received.push({
      endpoint,
      payload: JSON.parse(plaintext.toString('utf8')),
      authorization,
      ttl,
      topic: headerOrNull(req.headers.topic),
      urgency: headerOrNull(req.headers.urgency),
    });
    return 201;
  }
}

/** Starts a push service peer on 127.0.0.1 and an ephemeral port. */
export async function startPushService(): Promise<PushServicePeer> {
  const peer = new PushServicePeer();
  await peer.listen();
  return peer;
}

/**
 * `vapid t=<JWT>, k=<key>`: an ES256 JWT signed by `k`, for this origin, not expired and
 * valid for at most 24 h, with a `sub` contact (RFC 8292 §2, §3).
 */
function isValidVapid(header: string, origin: string): boolean {
  const match = /^vapid t=([\w-]+)\.([\w-]+)\.([\w-]+), k=([\w-]+)$/.exec(header);
  if (!match) return false;
  const [, encodedHeader, encodedClaims, signature, key] = match;

  const point = Buffer.from(key, 'base64url');
  if (point.length !== 65 || point[0] !== 4) return false;
  const publicKey = createPublicKey({
    format: 'jwk',
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: point.subarray(1, 33).toString('base64url'),
      y: point.subarray(33).toString('base64url'),
    },
  });
  const isSigned = verify(
    'sha256',
    Buffer.from(`${encodedHeader}.${encodedClaims}`),
    { key: publicKey, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'),
  );
  if (!isSigned) return false;

  const claims = JSON.parse(Buffer.from(encodedClaims, 'base64url').toString('utf8'));
  const nowSeconds = Date.now() / 1000;
  return (
    claims.aud === origin &&
    typeof claims.sub === 'string' &&
    claims.exp > nowSeconds &&
    claims.exp <= nowSeconds + 24 * 3600
  );
}

function headerOrNull(value: string | string[] | undefined): string | null {
  return (Array.isArray(value) ? value[0] : value) ?? null;
}
