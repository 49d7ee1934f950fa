import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import webpush from 'web-push';
import { buildChannelAdapters } from '../src/engine/channels/adapters';
import type { DeliveryResult, EmailLinks, OutboundMessage } from '../src/engine/channels/channel';
import { EmailChannel } from '../src/engine/channels/email.channel';
import { FileOutboxChannel } from '../src/engine/channels/file-outbox.channel';
import { PushChannel } from '../src/engine/channels/push.channel';
import { smsKeyword } from '../src/engine/channels/sms-keywords';
import { SmsChannel, verifySmsSignature } from '../src/engine/channels/sms.channel';
import { WebhookChannel } from '../src/engine/channels/webhook.channel';
import { PushServicePeer, startPushService } from './support/push-service';
import { SmsProviderPeer, startSmsProvider } from './support/sms-provider';
import { SmtpSink, startSmtpSink } from './support/smtp-sink';

/**
 * Each channel adapter against a real local peer (HTTP or SMTP on 127.0.0.1): what reaches
 * the provider, and how each provider answer is classified (ok / permanent / transient /
 * outcome unknown). No database is involved.
 */

const ACCOUNT_SID = 'AC' + 'a1b2c3d4'.repeat(4);
const AUTH_TOKEN = 'sms-auth-token-0123456789';
const FROM = '+15550001111';

let sequence = 0;

/** A message as the delivery service builds it; each call gets a fresh id and key. */
function outbound(overrides: Partial<OutboundMessage> = {}): OutboundMessage {
  sequence++;
  return {
    id: `msg-${sequence}`,
    tenantId: 'tenant-1',
    channel: 'SMS',
    purpose: 'MARKETING',
    to: '+15557654321',
    subject: null,
    body: 'Your cart is waiting',
    html: null,
    triggerId: 'trigger-1',
    triggerName: 'Cart reminder',
    customerExternalId: 'cust-1',
    stepIndex: 0,
    scheduledFor: new Date('2025-05-06T12:00:00Z'),
    signingSecret: null,
    idempotencyKey: `tenant-1:enrollment-${sequence}:0`,
    links: null,
    push: null,
    statusCallbackUrl: null,
    ...overrides,
  };
}

function failureOf(result: DeliveryResult) {
  if (result.ok) throw new Error('expected a failure, got ok');
  return result;
}

/** A port on 127.0.0.1 that refuses connections (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** An HTTP server that reads each request and never answers it. */
async function startSilentServer(): Promise<{
  url: string;
  hits: () => number;
  close(): Promise<void>;
}> {
  let hits = 0;
  const server = http.createServer((req) => {
    hits++;
    req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/hook`,
    hits: () => hits,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Records each callback POST: the full URL it was sent to, its signature and form fields. */
async function startCallbackReceiver() {
  const calls: { url: string; signature: string; params: Record<string, string> }[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      calls.push({
        url: `http://${req.headers.host}${req.url}`,
        signature: String(req.headers['x-twilio-signature'] ?? ''),
        params: Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))),
      });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    base,
    calls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('SMS channel (Twilio-style Messages API)', () => {
  let provider: SmsProviderPeer;
  let sms: SmsChannel;

  beforeAll(async () => {
    provider = await startSmsProvider({ accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN });
    sms = new SmsChannel({
      apiUrl: provider.url,
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      from: FROM,
      timeoutMs: 500,
    });
  });
  afterAll(() => provider.close());

  it('sends To, From, Body and StatusCallback with the idempotency header', async () => {
    const message = outbound({ statusCallbackUrl: 'https://nudge.example/sms/status/msg' });

    const result = await sms.deliver(message);

    const sent = provider.received.at(-1)!;
    expect(result).toEqual({ ok: true, providerMessageId: sent.sid });
    expect(sent).toMatchObject({
      to: '+15557654321',
      from: FROM,
      body: 'Your cart is waiting',
      statusCallback: 'https://nudge.example/sms/status/msg',
      idempotencyToken: message.idempotencyKey,
    });
    expect(sent.sid).toMatch(/^SM[0-9a-f]{32}$/);
    expect(sms.retriesAreIdempotent).toBe(true);
  });

  it('concurrent sends each carry their own idempotency token', async () => {
    const messages = [1, 2, 3, 4, 5].map((n) => outbound({ body: `concurrent ${n}` }));

    await Promise.all(messages.map((message) => sms.deliver(message)));

    for (const message of messages) {
      const sent = provider.received.find((m) => m.body === message.body);
      expect(sent?.idempotencyToken).toBe(message.idempotencyKey);
    }
  });

  it('leaves StatusCallback out when there is no public URL', async () => {
    await sms.deliver(outbound({ statusCallbackUrl: null }));

    expect(provider.received.at(-1)!.statusCallback).toBeNull();
  });

  it('a 400 (e.g. invalid number) is permanent', async () => {
    provider.failNext(400);

    const failure = failureOf(await sms.deliver(outbound()));

    expect(failure).toMatchObject({ permanent: true });
    expect(failure.outcomeUnknown).toBeFalsy();
    expect(failure.reason).toContain('400');
  });

  it.each([503, 500, 429])(
    'a %i is transient, and twilio does not retry it itself',
    async (status) => {
      const before = provider.requests;
      provider.failNext(status);

      const failure = failureOf(await sms.deliver(outbound()));

      expect(failure).toMatchObject({ permanent: false });
      expect(failure.outcomeUnknown).toBeFalsy();
      expect(provider.requests).toBe(before + 1);
    },
  );

  it('refused credentials (401) are transient: the operator fixes them, the message waits', async () => {
    const wrongToken = new SmsChannel({
      apiUrl: provider.url,
      accountSid: ACCOUNT_SID,
      authToken: 'not-the-token-0123456789',
      from: FROM,
    });

    expect(failureOf(await wrongToken.deliver(outbound()))).toMatchObject({ permanent: false });
  });

  it('accepted, then no answer in time: outcome unknown; the retry is deduplicated', async () => {
    const message = outbound();
    const receivedBefore = provider.received.length;
    provider.acceptThenStall(2_000);

    const first = failureOf(await sms.deliver(message));

    expect(first).toMatchObject({ permanent: false, outcomeUnknown: true });
    expect(provider.received).toHaveLength(receivedBefore + 1);

    const retry = await sms.deliver(message);

    const sent = provider.received.filter((m) => m.idempotencyToken === message.idempotencyKey);
    expect(sent).toHaveLength(1);
    expect(retry).toEqual({ ok: true, providerMessageId: sent[0].sid });
  });

  it('a refused connection is transient and known not to have sent anything', async () => {
    const down = new SmsChannel({
      apiUrl: `http://127.0.0.1:${await closedPort()}`,
      accountSid: ACCOUNT_SID,
      authToken: AUTH_TOKEN,
      from: FROM,
    });

    const failure = failureOf(await down.deliver(outbound()));

    expect(failure).toMatchObject({ permanent: false });
    expect(failure.outcomeUnknown).toBeFalsy();
  });

  describe('signed callbacks', () => {
    let receiver: Awaited<ReturnType<typeof startCallbackReceiver>>;

    beforeAll(async () => {
      receiver = await startCallbackReceiver();
    });
    afterAll(() => receiver.close());

    it('a status callback verifies; a changed parameter, token or missing header does not', async () => {
      const url = `${receiver.base}/sms/status/msg-1?t=abc`;
      const status = await provider.sendStatusCallback(url, {
        MessageSid: 'SM' + '0'.repeat(32),
        MessageStatus: 'delivered',
        To: '+15557654321',
        From: FROM,
      });

      expect(status).toBe(204);
      const call = receiver.calls.at(-1)!;
      expect(call.url).toBe(url);
      expect(verifySmsSignature(AUTH_TOKEN, call.url, call.params, call.signature)).toBe(true);
      expect(
        verifySmsSignature(
          AUTH_TOKEN,
          call.url,
          { ...call.params, MessageStatus: 'failed' },
          call.signature,
        ),
      ).toBe(false);
      expect(verifySmsSignature('another-token-0123', call.url, call.params, call.signature)).toBe(
        false,
      );
      expect(verifySmsSignature(AUTH_TOKEN, `${call.url}x`, call.params, call.signature)).toBe(
        false,
      );
      expect(verifySmsSignature(AUTH_TOKEN, call.url, call.params, undefined)).toBe(false);
    });

    it('an inbound STOP verifies and reads as an opt-out', async () => {
      const url = `${receiver.base}/sms/inbound`;
      await provider.sendInbound(url, { From: '+15557654321', To: FROM, Body: ' Stop\n' });

      const call = receiver.calls.at(-1)!;
      expect(verifySmsSignature(AUTH_TOKEN, call.url, call.params, call.signature)).toBe(true);
      expect(smsKeyword(call.params.Body)).toBe('OPT_OUT');
    });
  });
});

describe('PUSH channel (Web Push with VAPID)', () => {
  const vapid = webpush.generateVAPIDKeys();
  let service: PushServicePeer;
  let push: PushChannel;

  beforeAll(async () => {
    service = await startPushService();
    push = new PushChannel({
      vapidPublicKey: vapid.publicKey,
      vapidPrivateKey: vapid.privateKey,
      subject: 'mailto:ops@shop.example',
      timeoutMs: 500,
    });
  });
  afterAll(() => service.close());

  function pushMessage(overrides: Partial<OutboundMessage> = {}): OutboundMessage {
    const subscription = service.newSubscription();
    return outbound({
      channel: 'PUSH',
      to: subscription.endpoint,
      push: subscription,
      subject: 'Still thinking about it?',
      stepIndex: 2,
      ...overrides,
    });
  }

  it('delivers an encrypted payload the subscriber can decrypt, with a VAPID token', async () => {
    const message = pushMessage();

    const result = await push.deliver(message);

    expect(result).toEqual({
      ok: true,
      providerMessageId: expect.stringMatching(new RegExp(`^${service.url}/messages/`)),
    });
    const received = service.received.at(-1)!;
    expect(received.endpoint).toBe(message.to);
    expect(received.payload).toEqual({
      title: 'Still thinking about it?',
      body: 'Your cart is waiting',
      messageId: message.id,
      data: { triggerId: 'trigger-1', step: 2 },
    });
    expect(received.authorization).toMatch(
      new RegExp(`^vapid t=[\\w-]+\\.[\\w-]+\\.[\\w-]+, k=${vapid.publicKey}$`),
    );
    expect(received.ttl).toBe(24 * 3600);
    expect(received.topic).toMatch(/^[\w-]{32}$/);
    expect(push.retriesAreIdempotent).toBe(false);
  });

  it('the same step gets the same Topic, so an undelivered duplicate is replaced', async () => {
    const first = pushMessage({ idempotencyKey: 'tenant-1:enrollment-x:3' });
    await push.deliver(first);
    await push.deliver({ ...first, id: 'msg-again' });

    const [a, b] = service.received.slice(-2);
    expect(a.topic).toBe(b.topic);
  });

  it('a gone subscription (410) is permanent and marked for pruning', async () => {
    const message = pushMessage();
    service.expire(message.to);

    expect(failureOf(await push.deliver(message))).toMatchObject({
      permanent: true,
      subscriptionGone: true,
    });
  });

  it('an unknown endpoint (404) is permanent and marked for pruning', async () => {
    const message = pushMessage();
    const unknown = { ...message.push!, endpoint: `${service.url}/push/unknown` };

    expect(
      failureOf(await push.deliver({ ...message, to: unknown.endpoint, push: unknown })),
    ).toMatchObject({
      permanent: true,
      subscriptionGone: true,
    });
  });

  it.each([
    [429, false],
    [503, false],
    [400, true],
    [413, true],
  ])('HTTP %i: permanent=%s, subscription kept', async (status, permanent) => {
    service.failNext(status);

    const failure = failureOf(await push.deliver(pushMessage()));

    expect(failure).toMatchObject({ permanent });
    expect(failure.subscriptionGone).toBeFalsy();
    expect(failure.outcomeUnknown).toBeFalsy();
  });

  it('no answer within the timeout: outcome unknown', async () => {
    const silent = await startSilentServer();
    try {
      const subscription = { ...service.newSubscription(), endpoint: silent.url };

      const failure = failureOf(
        await push.deliver(pushMessage({ to: silent.url, push: subscription })),
      );

      expect(failure).toMatchObject({ permanent: false, outcomeUnknown: true });
      expect(silent.hits()).toBe(1);
    } finally {
      await silent.close();
    }
  });

  it('a message without a subscription is permanent', async () => {
    expect(failureOf(await push.deliver(pushMessage({ push: null })))).toMatchObject({
      permanent: true,
    });
  });

  it('an invalid VAPID identity is refused at construction', () => {
    expect(
      () =>
        new PushChannel({
          vapidPublicKey: vapid.publicKey,
          vapidPrivateKey: vapid.privateKey,
          subject: 'ops@shop.example',
        }),
    ).toThrow();
  });
});

describe('EMAIL channel (SMTP)', () => {
  let sink: SmtpSink;
  let email: EmailChannel;
  const links: EmailLinks = {
    unsubscribeUrl: 'https://nudge.example/u/msg?sig=1',
    openPixelUrl: 'https://nudge.example/o/msg.gif?sig=1',
    clickUrl: (destination) => `https://nudge.example/c/msg?to=${encodeURIComponent(destination)}`,
  };

  beforeAll(async () => {
    sink = await startSmtpSink();
    email = new EmailChannel({
      smtpUrl: sink.url,
      outboxDir: mkdtempSync(path.join(os.tmpdir(), 'nudge-outbox-')),
      from: 'Harbor Shop <shop@harbor.example>',
      timeoutMs: 1_000,
    });
  });
  afterAll(async () => {
    await email.close();
    await sink.close();
  });

  function emailMessage(overrides: Partial<OutboundMessage> = {}): OutboundMessage {
    return outbound({
      channel: 'EMAIL',
      to: 'ada@example.com',
      subject: 'Your cart',
      body: 'Your cart is waiting: https://shop.example/cart',
      html:
        '<html><body><p>Your <a href="https://shop.example/cart?c=1&amp;u=2">cart</a>, ' +
        '<a href="mailto:help@shop.example">help</a>, ' +
        `<a href="${links.unsubscribeUrl}">unsubscribe</a></p></body></html>`,
      ...overrides,
    });
  }

  function header(mail: SmtpSink['messages'][number], name: string): string | undefined {
    const line = mail.headerLines.find((h) => h.key === name)?.line;
    return line
      ?.slice(line.indexOf(':') + 1)
      .replace(/\r?\n\s+/g, ' ')
      .trim();
  }

  it('with links: one-click List-Unsubscribe, tracked links and an open pixel', async () => {
    const message = emailMessage({ links });

    expect(await email.deliver(message)).toMatchObject({ ok: true });

    const mail = sink.messages.at(-1)!;
    expect(header(mail, 'list-unsubscribe')).toBe(
      `<${links.unsubscribeUrl}>, <mailto:unsubscribe@harbor.example?subject=unsubscribe-${message.id}>`,
    );
    expect(header(mail, 'list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
    const html = String(mail.html);
    expect(html).toContain(
      `href="${links.clickUrl('https://shop.example/cart?c=1&u=2').replace(/&/g, '&amp;')}"`,
    );
    expect(html).toContain('href="mailto:help@shop.example"');
    expect(html).toContain(`href="${links.unsubscribeUrl}"`);
    expect(html).toContain(
      `<img src="${links.openPixelUrl}" width="1" height="1" alt="" style="display:none"></body>`,
    );
    expect(mail.text?.trim()).toBe(message.body);
    expect(email.retriesAreIdempotent).toBe(false);
  });

  it('without links: a mailto List-Unsubscribe only, HTML untouched', async () => {
    const message = emailMessage();

    await email.deliver(message);

    const mail = sink.messages.at(-1)!;
    expect(header(mail, 'list-unsubscribe')).toBe(
      `<mailto:unsubscribe@harbor.example?subject=unsubscribe-${message.id}>`,
    );
    expect(header(mail, 'list-unsubscribe-post')).toBeUndefined();
    expect(String(mail.html)).not.toContain('nudge.example/c/');
    expect(String(mail.html)).not.toContain('<img');
  });

  it('transactional: no List-Unsubscribe at all (unsubscribing only revokes marketing)', async () => {
    const message = emailMessage({ links, purpose: 'TRANSACTIONAL' });

    expect(await email.deliver(message)).toMatchObject({ ok: true });

    const mail = sink.messages.at(-1)!;
    expect(header(mail, 'list-unsubscribe')).toBeUndefined();
    expect(header(mail, 'list-unsubscribe-post')).toBeUndefined();
    expect(String(mail.html)).toContain(`<img src="${links.openPixelUrl}"`);
  });

  it('a 5xx reply is permanent, a 4xx reply transient', async () => {
    sink.rejectNext(550, 'Mailbox unavailable');
    const rejected = failureOf(await email.deliver(emailMessage()));
    sink.rejectNext(451, 'Try again later');
    const deferred = failureOf(await email.deliver(emailMessage()));

    expect(rejected).toMatchObject({ permanent: true });
    expect(rejected.outcomeUnknown).toBeFalsy();
    expect(deferred).toMatchObject({ permanent: false });
    expect(deferred.outcomeUnknown).toBeFalsy();
  });

  it('no reply after the message body was sent: outcome unknown', async () => {
    sink.stallNext();

    expect(failureOf(await email.deliver(emailMessage()))).toMatchObject({
      permanent: false,
      outcomeUnknown: true,
    });
  });

  /** An EmailChannel against a TCP server that treats each connection with `onConnection`. */
  async function againstTcpServer(
    onConnection: (socket: net.Socket) => void,
    run: (channel: EmailChannel) => Promise<void>,
  ): Promise<void> {
    const server = net.createServer(onConnection);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const channel = new EmailChannel({
      smtpUrl: `smtp://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
      outboxDir: os.tmpdir(),
      from: 'shop@harbor.example',
      timeoutMs: 500,
    });
    try {
      await run(channel);
    } finally {
      await channel.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  it.each([
    ['closed before the greeting', (socket: net.Socket) => socket.destroy()],
    ['no greeting at all', (socket: net.Socket) => socket.on('error', () => socket.destroy())],
  ])('a server that %s is transient (nothing was sent)', async (_case, onConnection) => {
    await againstTcpServer(onConnection, async (channel) => {
      const failure = failureOf(await channel.deliver(emailMessage()));

      expect(failure).toMatchObject({ permanent: false });
      expect(failure.outcomeUnknown).toBeFalsy();
    });
  });

  it('a refused connection is transient and known not to have sent anything', async () => {
    const down = new EmailChannel({
      smtpUrl: `smtp://127.0.0.1:${await closedPort()}`,
      outboxDir: os.tmpdir(),
      from: 'shop@harbor.example',
      timeoutMs: 1_000,
    });
    try {
      const failure = failureOf(await down.deliver(emailMessage()));

      expect(failure).toMatchObject({ permanent: false });
      expect(failure.outcomeUnknown).toBeFalsy();
    } finally {
      await down.close();
    }
  });
});

describe('WEBHOOK channel timeouts', () => {
  it('no answer within the timeout: transient, outcome unknown (receivers dedupe on webhook-id)', async () => {
    const silent = await startSilentServer();
    try {
      const webhook = new WebhookChannel({ timeoutMs: 200 });

      const failure = failureOf(
        await webhook.deliver(
          outbound({
            channel: 'WEBHOOK',
            to: silent.url,
            signingSecret: 'whsec_' + 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
          }),
        ),
      );

      expect(failure).toMatchObject({ permanent: false, outcomeUnknown: true });
      expect(webhook.retriesAreIdempotent).toBe(true);
    } finally {
      await silent.close();
    }
  });
});

describe('trial-mode outboxes', () => {
  it('SMS and PUSH without providers append one JSON line per message', async () => {
    const outboxDir = mkdtempSync(path.join(os.tmpdir(), 'nudge-outbox-'));
    const adapters = buildChannelAdapters({
      email: { smtpUrl: null, outboxDir, from: 'shop@harbor.example' },
      sms: null,
      push: null,
      outboxDir,
    });
    const byChannel = new Map(adapters.map((a) => [a.channel, a]));

    expect(adapters.map((a) => a.channel)).toEqual(['EMAIL', 'SMS', 'PUSH', 'WEBHOOK']);
    expect(byChannel.get('SMS')).toBeInstanceOf(FileOutboxChannel);
    expect(byChannel.get('PUSH')).toBeInstanceOf(FileOutboxChannel);

    const first = outbound({ channel: 'SMS' });
    const second = outbound({ channel: 'SMS', signingSecret: 'whsec_never-written' });
    expect(await byChannel.get('SMS')!.deliver(first)).toEqual({
      ok: true,
      providerMessageId: null,
    });
    await byChannel.get('SMS')!.deliver(second);

    const lines = readFileSync(path.join(outboxDir, 'sms.jsonl'), 'utf8').trim().split('\n');
    expect(lines.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({
        id: first.id,
        to: first.to,
        body: first.body,
        idempotencyKey: first.idempotencyKey,
      }),
      expect.objectContaining({ id: second.id }),
    ]);
    expect(lines.join('\n')).not.toContain('whsec_never-written');
    await Promise.all(adapters.map((a) => a.close?.()));
  });

  it('configured providers get their real adapters', () => {
    const vapid = webpush.generateVAPIDKeys();
    const adapters = buildChannelAdapters({
      email: { smtpUrl: null, outboxDir: os.tmpdir(), from: 'shop@harbor.example' },
      sms: { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: FROM },
      push: {
        vapidPublicKey: vapid.publicKey,
        vapidPrivateKey: vapid.privateKey,
        subject: 'https://shop.example',
      },
      webhookTimeoutMs: 1_000,
      outboxDir: os.tmpdir(),
    });

    expect(adapters.map((a) => a.constructor.name)).toEqual([
      'EmailChannel',
      'SmsChannel',
      'PushChannel',
      'WebhookChannel',
    ]);
  });
});
