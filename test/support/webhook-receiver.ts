import http from 'node:http';
import type { TestNudge } from './harness';

/** One request as the receiver saw it. */
export interface ReceivedHook {
  /** The Standard Webhooks `webhook-id`: `<tenant>:<enrollment>:<step>`, stable per step. */
  webhookId: string;
  receivedAtMs: number;
  body: string;
  /** The request's headers (Standard Webhooks signature headers among them). */
  headers: http.IncomingHttpHeaders;
}

/**
 * A real local HTTP endpoint standing in for a tenant's webhook URL. It answers 204 to every
 * POST and counts requests per `webhook-id`, so a suite can prove that no step reached the
 * outside world twice, whichever process sent it.
 */
export class WebhookReceiver {
  readonly received: ReceivedHook[] = [];
  private readonly counts = new Map<string, number>();
  private server: http.Server | null = null;
  url = '';
  /** The status every request is answered with (set it to make the endpoint fail). */
  status = 204;
  /** Statuses for the next requests, in order, before falling back to `status`. */
  nextStatuses: number[] = [];

  async start(): Promise<string> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const webhookId = String(req.headers['webhook-id'] ?? '');
        this.counts.set(webhookId, (this.counts.get(webhookId) ?? 0) + 1);
        this.received.push({
          webhookId,
          receivedAtMs: Date.now(),
          body: Buffer.concat(chunks).toString('utf8'),
          headers: req.headers,
        });
        res.statusCode = this.nextStatuses.shift() ?? this.status;
        res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(0, '127.0.0.1', () => resolve());
    });
    const address = this.server.address() as { port: number };
    this.url = `http://127.0.0.1:${address.port}/hooks/nudge`;
    return this.url;
  }

  /** How many requests carried this `webhook-id`. */
  count(webhookId: string): number {
    return this.counts.get(webhookId) ?? 0;
  }

  /** Every `webhook-id` that starts with `prefix` (e.g. a tenant id), with its count. */
  countsWithPrefix(prefix: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const [id, n] of this.counts) if (id.startsWith(prefix)) out.set(id, n);
    return out;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * A new tenant whose WEBHOOK steps go to `receiver` (webhook URL set, signing secret rotated)
 * with one trigger. Returns the tenant and its ADMIN secret.
 */
export async function webhookTenant(
  t: TestNudge,
  receiver: WebhookReceiver,
  name: string,
  trigger: Record<string, unknown>,
): Promise<{ tenantId: string; secret: string }> {
  const tenant = await t.createTenant(name);
  await t.ok(
    tenant.secret,
    `mutation($u: String!) { updateTenantSettings(input: { webhookUrl: $u }) { webhookUrl } }`,
    { u: receiver.url },
  );
  await t.ok(tenant.secret, `mutation { rotateWebhookSecret { secret } }`);
  await t.ok(
    tenant.secret,
    `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`,
    {
      i: trigger,
    },
  );
  return tenant;
}
