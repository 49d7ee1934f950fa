import http from 'node:http';
import { Webhook } from 'standardwebhooks';
import { startTestNudge, TestNudge } from './support/harness';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A real local HTTP receiver standing in for the tenant's endpoint. */
async function startReceiver(
  status: () => number,
): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = status();
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}/hooks/nudge`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('WEBHOOK channel', () => {
  let t: TestNudge;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let responseStatus = 204;

  beforeAll(async () => {
    t = await startTestNudge();
    receiver = await startReceiver(() => responseStatus);
  });
  afterAll(async () => {
    await t.stop();
    await receiver.close();
  });

  async function tenantWithWebhookTrigger(): Promise<{ secret: string; signingSecret: string }> {
    const { secret } = await t.createTenant('hooks');
    await t.ok(
      secret,
      `mutation($u: String!) { updateTenantSettings(input: { webhookUrl: $u }) { webhookUrl } }`,
      {
        u: receiver.url,
      },
    );
    const rotated = await t.ok<any>(secret, `mutation { rotateWebhookSecret { secret } }`);
    await t.ok(secret, `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`, {
      i: {
        name: 'signup hook',
        event: 'signed_up',
        steps: [{ channel: 'WEBHOOK', template: { body: 'welcome {{ customer.externalId }}' } }],
      },
    });
    return { secret, signingSecret: rotated.rotateWebhookSecret.secret };
  }

  it('POSTs the rendered message signed with Standard Webhooks headers that verify', async () => {
    responseStatus = 204;
    const before = receiver.received.length;
    const { secret, signingSecret } = await tenantWithWebhookTrigger();
    await t.setClock('2025-03-01T08:00:00Z');
    await t.ok(
      secret,
      `mutation { track(input: { customerExternalId: "w-1", event: "signed_up" }) { eventId } }`,
    );

    expect(receiver.received).toHaveLength(before + 1);
    const hit = receiver.received[before];
    const payload = new Webhook(signingSecret).verify(hit.body, {
      'webhook-id': String(hit.headers['webhook-id']),
      'webhook-timestamp': String(hit.headers['webhook-timestamp']),
      'webhook-signature': String(hit.headers['webhook-signature']),
    }) as Record<string, any>;
    expect(payload.body).toBe('welcome w-1');
    expect(payload.customer).toEqual({ externalId: 'w-1' });

    const tampered = hit.body.replace('welcome', 'w3lcome');
    expect(() =>
      new Webhook(signingSecret).verify(tampered, {
        'webhook-id': String(hit.headers['webhook-id']),
        'webhook-timestamp': String(hit.headers['webhook-timestamp']),
        'webhook-signature': String(hit.headers['webhook-signature']),
      }),
    ).toThrow();

    const messages = await t.ok<any>(
      secret,
      `{ messages { edges { node { channel status sentAt } } } }`,
    );
    expect(messages.messages.edges.map((e: any) => e.node.status)).toEqual(['SENT']);
  });

  it('records a refused delivery as FAILED and does not send it again', async () => {
    responseStatus = 410;
    const { secret } = await tenantWithWebhookTrigger();
    const before = receiver.received.length;
    await t.ok(
      secret,
      `mutation { track(input: { customerExternalId: "w-2", event: "signed_up" }) { eventId } }`,
    );
    await t.ok(
      secret,
      `mutation { track(input: { customerExternalId: "w-2", event: "noise" }) { eventId } }`,
    );
    const messages = await t.ok<any>(secret, `{ messages { edges { node { status failure } } } }`);
    expect(messages.messages.edges.map((e: any) => e.node.status)).toEqual(['FAILED']);
    expect(messages.messages.edges[0].node.failure).toMatch(/410/);
    expect(receiver.received).toHaveLength(before + 1);
  });

  it('suppresses a WEBHOOK step when the tenant has no webhook URL', async () => {
    const { secret } = await t.createTenant('no-hook');
    await t.ok(secret, `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`, {
      i: {
        name: 'x',
        event: 'signed_up',
        steps: [{ channel: 'WEBHOOK', template: { body: 'hi' } }],
      },
    });
    await t.ok(
      secret,
      `mutation { track(input: { customerExternalId: "w-3", event: "signed_up" }) { eventId } }`,
    );
    const messages = await t.ok<any>(
      secret,
      `{ messages { edges { node { status suppressionReason } } } }`,
    );
    expect(messages.messages.edges[0].node).toEqual({
      status: 'SUPPRESSED',
      suppressionReason: 'INVALID_ADDRESS',
    });
  });
});
