import { randomBytes } from 'node:crypto';
import http from 'node:http';
import twilio from 'twilio';

/** One message the provider accepted. */
export interface ReceivedSms {
  sid: string;
  to: string;
  from: string;
  body: string;
  statusCallback: string | null;
  idempotencyToken: string | null;
}

/**
 * A real local HTTP server speaking the subset of Twilio's Messages API that Nudge uses:
 * `POST /2010-04-01/Accounts/{sid}/Messages.json` with Basic auth and a form body, answered
 * 201 with the message as JSON (`sid`, `status`, …). Like a provider that honours
 * `I-Twilio-Idempotency-Token`, a repeated token returns the first message again and sends
 * nothing new. It can also play the provider's side of callbacks, signed as Twilio signs them.
 * The replay (three-step variant) and the tests use it as the real peer of the SMS channel.
 */
export class SmsProviderPeer {
  url = '';
  /** Unique accepted messages, in order. */
  readonly received: ReceivedSms[] = [];
  private requestCount = 0;
  private readonly byToken = new Map<string, ReceivedSms>();
  private readonly failures: number[] = [];
  private stallMs = 0;
  private readonly server: http.Server;

  constructor(
    private readonly accountSid: string,
    private readonly authToken: string,
  ) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => this.answer(req, Buffer.concat(chunks).toString('utf8'), res));
    });
  }

  /** Every POST that reached the Messages endpoint, including failed and duplicate ones. */
  get requests(): number {
    return this.requestCount;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  /** The next `n` requests are answered with `status` and a Twilio-style error body. */
  failNext(status: number, n = 1): void {
    for (let i = 0; i < n; i++) this.failures.push(status);
  }

  /** The next request is accepted and stored, but its answer comes only after `ms`. */
  acceptThenStall(ms: number): void {
    this.stallMs = ms;
  }

  /** POSTs a status callback to `url`, signed with `X-Twilio-Signature`. Returns the status. */
  sendStatusCallback(url: string, params: Record<string, string>): Promise<number> {
    return this.postSigned(url, {
      AccountSid: this.accountSid,
      ApiVersion: '2010-04-01',
      ...params,
    });
  }

  /** POSTs an inbound message to `url` the way Twilio forwards one. Returns the status. */
  sendInbound(url: string, message: { From: string; To: string; Body: string }): Promise<number> {
    return this.postSigned(url, {
      AccountSid: this.accountSid,
      ApiVersion: '2010-04-01',
      MessageSid: newSid('SM'),
      SmsSid: newSid('SM'),
      NumMedia: '0',
      NumSegments: '1',
      ...message,
    });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async postSigned(url: string, params: Record<string, string>): Promise<number> {
    const signature = twilio.getExpectedTwilioSignature(this.authToken, url, params);
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signature,
      },
      body: new URLSearchParams(params).toString(),
    });
    await response.body?.cancel();
    return response.status;
  }

  private answer(req: http.IncomingMessage, rawBody: string, res: http.ServerResponse): void {
    const path = `/2010-04-01/Accounts/${this.accountSid}/Messages.json`;
    if (req.method !== 'POST' || req.url !== path) {
      return json(res, 404, { code: 20404, message: 'The requested resource was not found' });
    }
    this.requestCount++;
    if (!this.isAuthorized(req.headers.authorization)) {
      return json(res, 401, { code: 20003, message: 'Authenticate' });
    }
    const failStatus = this.failures.shift();
    if (failStatus !== undefined) {
      return json(res, failStatus, { code: 21211, message: `Simulated HTTP ${failStatus}` });
    }
    const form = new URLSearchParams(rawBody);
    if (!form.get('To') || !form.get('From') || !form.get('Body')) {
      return json(res, 400, { code: 21604, message: 'A To, From and Body are required' });
    }

    const token = headerValue(req.headers['i-twilio-idempotency-token']);
    const message = (token && this.byToken.get(token)) || this.accept(form, token);
    const stallMs = this.stallMs;
    this.stallMs = 0;
    setTimeout(() => json(res, 201, this.resource(message)), stallMs);
  }

  private accept(form: URLSearchParams, token: string | null): ReceivedSms {
    const message: ReceivedSms = {
      sid: newSid('SM'),
      to: form.get('To')!,
      from: form.get('From')!,
      body: form.get('Body')!,
      statusCallback: form.get('StatusCallback'),
      idempotencyToken: token,
    };
    this.received.push(message);
    if (token) this.byToken.set(token, message);
    return message;
  }

  private isAuthorized(header: string | undefined): boolean {
    const expected = `Basic ${Buffer.from(`${this.accountSid}:${this.authToken}`).toString('base64')}`;
    return header === expected;
  }

  private resource(message: ReceivedSms): Record<string, unknown> {
    return {
      sid: message.sid,
      account_sid: this.accountSid,
      api_version: '2010-04-01',
      to: message.to,
      from: message.from,
      body: message.body,
      status: 'queued',
      num_segments: '1',
      direction: 'outbound-api',
      date_created: new Date().toUTCString(),
      uri: `/2010-04-01/Accounts/${this.accountSid}/Messages/${message.sid}.json`,
    };
  }
}

/** Starts an SMS provider peer on 127.0.0.1 and an ephemeral port. */
export async function startSmsProvider(credentials: {
  accountSid: string;
  authToken: string;
}): Promise<SmsProviderPeer> {
  const peer = new SmsProviderPeer(credentials.accountSid, credentials.authToken);
  await peer.listen();
  return peer;
}

function json(res: http.ServerResponse, status: number, body: Record<string, unknown>): void {
  if (res.destroyed) return;
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ status, ...body }));
}

function headerValue(value: string | string[] | undefined): string | null {
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

function newSid(prefix: string): string {
  return prefix + randomBytes(16).toString('hex');
}
