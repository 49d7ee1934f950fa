import type { IncomingMessage, ServerResponse } from 'node:http';
import { verifySmsSignature } from '../engine/channels/sms.channel';
import type { EngagementService } from '../engine/engagement/engagement.service';
import type { Logger } from '../logger';
import { isUuid } from '../validation';

export interface EngagementRoutesOptions {
  engagement: EngagementService;
  /** The service's public base URL; SMS callbacks are signed over it. Null: SMS hooks refuse. */
  publicUrl: string | null;
  /** The SMS provider's auth token; null when SMS is not configured (hooks answer 403). */
  smsAuthToken: string | null;
}

/** Provider callbacks and one-click bodies are tiny; Twilio's largest are a few KiB. */
const MAX_FORM_BYTES = 64 * 1024;

/** A 1×1 transparent GIF. */
const PIXEL_GIF = Buffer.from(
  'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==',
  'base64',
);

const TRACKING_PATH = /^\/t\/([ocu])\/([^/]+)$/;
const SMS_HOOK_PATH = /^\/hooks\/sms\/([^/]+)\/(status|inbound)$/;

/**
 * Tracking URLs carry a token that acts for its recipient: keep them out of caches and out of
 * the Referer header a destination site would see.
 */
const PRIVATE_HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

const UNSUBSCRIBE_PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>Unsubscribe</title></head>
<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto; padding: 0 1rem">
<h1>Unsubscribe</h1>
<p>Stop receiving marketing email from this sender?</p>
<form method="post">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button>
</form>
</body>
</html>
`;

/** True for the paths `handleEngagementRequest` answers. */
export function isEngagementPath(pathname: string): boolean {
  return TRACKING_PATH.test(pathname) || SMS_HOOK_PATH.test(pathname);
}

/**
 * Answers the engagement endpoints (docs/engagement.md):
 * - `GET /t/o/<token>`: the open pixel, always the same 200 GIF whatever the token;
 * - `GET /t/c/<token>?u=<url>`: 302 to `u` when the token signs exactly that URL, else 404;
 * - `GET /t/u/<token>`: a page whose button POSTs back (GET never unsubscribes: scanners
 *   follow links); `POST /t/u/<token>`: RFC 8058 one-click unsubscribe, 200 or 404;
 * - `POST /hooks/sms/<tenantId>/status|inbound`: provider callbacks, signature-checked.
 * Nothing here echoes request input or logs tokens, URLs, phone numbers or message bodies.
 */
export async function handleEngagementRequest(
  options: EngagementRoutesOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  log: Logger,
): Promise<void> {
  const tracking = TRACKING_PATH.exec(url.pathname);
  if (tracking) {
    const [, kind, token] = tracking;
    if (kind === 'o') return openPixel(options, req, res, token, log);
    if (kind === 'c') return click(options, req, res, token, url.searchParams.get('u'));
    return unsubscribe(options, req, res, token);
  }

  const hook = SMS_HOOK_PATH.exec(url.pathname);
  if (hook) return smsHook(options, req, res, url, hook[1], hook[2] as 'status' | 'inbound', log);

  sendText(res, 404, 'not found');
}

async function openPixel(
  options: EngagementRoutesOptions,
  req: IncomingMessage,
  res: ServerResponse,
  token: string,
  log: Logger,
): Promise<void> {
  if (!allowMethods(req, res, ['GET'])) return;

  // The answer never depends on the token: the pixel must not tell a valid one from a guess,
  // and a failure to record must not show as a broken image.
  await options.engagement.recordOpen(token, req.headers['user-agent']).catch((err: unknown) => {
    log.error({ err }, 'open not recorded');
  });
  res.writeHead(200, { ...PRIVATE_HEADERS, 'content-type': 'image/gif' });
  res.end(PIXEL_GIF);
}

async function click(
  options: EngagementRoutesOptions,
  req: IncomingMessage,
  res: ServerResponse,
  token: string,
  destination: string | null,
): Promise<void> {
  if (!allowMethods(req, res, ['GET'])) return;

  const target =
    destination === null
      ? null
      : await options.engagement.recordClick(token, destination, req.headers['user-agent']);
  if (target === null) {
    sendText(res, 404, 'not found');
    return;
  }
  res.writeHead(302, { ...PRIVATE_HEADERS, location: target });
  res.end();
}

async function unsubscribe(
  options: EngagementRoutesOptions,
  req: IncomingMessage,
  res: ServerResponse,
  token: string,
): Promise<void> {
  if (!allowMethods(req, res, ['GET', 'POST'])) return;

  if (req.method === 'GET') {
    res.writeHead(200, {
      ...PRIVATE_HEADERS,
      'content-type': 'text/html; charset=utf-8',
      // The form has no action: it posts back to this very URL, whatever proxy path led here.
      'content-security-policy':
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    });
    res.end(UNSUBSCRIBE_PAGE);
    return;
  }

  // RFC 8058 clients send `List-Unsubscribe=One-Click`, form-encoded or multipart. The POST
  // itself is the request; the body is read (bounded) and not required to say more.
  if ((await readBody(req)) === null) {
    sendText(res, 413, `request body larger than ${MAX_FORM_BYTES} bytes`);
    return;
  }
  const done = await options.engagement.unsubscribe(token);
  if (!done) {
    sendText(res, 404, 'not found');
    return;
  }
  sendText(res, 200, 'You are unsubscribed from marketing email from this sender.');
}

async function smsHook(
  options: EngagementRoutesOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  tenantId: string,
  kind: 'status' | 'inbound',
  log: Logger,
): Promise<void> {
  if (!isUuid(tenantId)) {
    sendText(res, 404, 'not found');
    return;
  }
  if (!allowMethods(req, res, ['POST'])) return;
  const { publicUrl, smsAuthToken } = options;
  if (publicUrl === null || smsAuthToken === null) {
    log.warn({ tenantId, channel: 'SMS', code: 'SMS_NOT_CONFIGURED' }, 'sms callback refused');
    sendText(res, 403, 'forbidden');
    return;
  }

  const body = await readBody(req);
  if (body === null) {
    sendText(res, 413, `request body larger than ${MAX_FORM_BYTES} bytes`);
    return;
  }
  const params = Object.fromEntries(new URLSearchParams(body.toString('utf8')));
  // The provider signs the URL it called, which is the public one, not the one behind a proxy.
  const fullUrl = `${publicUrl.replace(/\/+$/, '')}${url.pathname}${url.search}`;
  const signature = req.headers['x-twilio-signature'];
  if (
    typeof signature !== 'string' ||
    !verifySmsSignature(smsAuthToken, fullUrl, params, signature)
  ) {
    log.warn({ tenantId, channel: 'SMS', code: 'SMS_SIGNATURE_INVALID' }, 'sms callback refused');
    sendText(res, 403, 'forbidden');
    return;
  }

  if (kind === 'status') {
    await options.engagement.smsStatus(tenantId, params);
    res.writeHead(204);
    res.end();
    return;
  }
  await options.engagement.smsInbound(tenantId, params);
  // An empty TwiML answer: no automatic reply from here.
  res.writeHead(200, { 'content-type': 'text/xml; charset=utf-8' });
  res.end('<Response/>');
}

/** Answers 405 with `Allow` and returns false when the method is not one of `methods`. */
function allowMethods(req: IncomingMessage, res: ServerResponse, methods: string[]): boolean {
  if (methods.includes(req.method ?? '')) return true;
  res.setHeader('allow', methods.join(', '));
  sendText(res, 405, 'method not allowed');
  return false;
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { ...PRIVATE_HEADERS, 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}

/** The request body, or null when it is larger than `MAX_FORM_BYTES`. */
async function readBody(req: IncomingMessage): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_FORM_BYTES) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
