import { createECDH, randomBytes } from 'node:crypto';
import dns, { type LookupAddress } from 'node:dns';
import type { OutboundMessage } from '../src/engine/channels/channel';
import { OutboundGuard, type AddressResolver } from '../src/engine/channels/outbound-guard';
import { WebhookChannel } from '../src/engine/channels/webhook.channel';
import { startTestNudge, type TestNudge } from './support/harness';
import { expectGraphQLError, uniq } from './support/graphql-helpers';
import { createTrigger, identifyWith, track } from './support/scenario';
import {
  advance,
  messagesOf,
  registerPush,
  startNudgeWithPeers,
  stopPeers,
  type ChannelPeers,
} from './support/sequences';
import { WebhookReceiver } from './support/webhook-receiver';

/**
 * The SSRF guard end to end (NUDGE_OUTBOUND_PRIVATE): with `deny`, internal IP literals are
 * refused when a tenant saves a webhook URL or a push endpoint, and a name that resolves to an
 * internal address is saved but never contacted: its message fails permanently and the local
 * receiver gets nothing. With `allow` the same name reaches the same receiver.
 *
 * Names under `.peer.test` resolve to 127.0.0.1, where the receivers listen: the test's DNS,
 * given to the real app through `startNudge`'s `outboundResolver`.
 */

/** The test's DNS: names under `.peer.test` are the local receivers; the rest as usual. */
const peerResolver: AddressResolver = (hostname, options, callback) => {
  if (!hostname.endsWith('.peer.test')) return dns.lookup(hostname, options, callback);
  const loopback: LookupAddress[] = [{ address: '127.0.0.1', family: 4 }];
  callback(null, loopback);
};

const UPDATE = `mutation($input: UpdateTenantSettingsInput!) {
  updateTenantSettings(input: $input) { webhookUrl }
}`;
const REGISTER_PUSH = `mutation($input: RegisterPushSubscriptionInput!) {
  registerPushSubscription(input: $input) { id }
}`;

/** Browser-like subscription keys (a P-256 public key and 16 auth bytes) for `endpoint`. */
function subscriptionFor(endpoint: string) {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  return {
    endpoint,
    keys: {
      p256dh: ecdh.getPublicKey().toString('base64url'),
      auth: randomBytes(16).toString('base64url'),
    },
  };
}

/** `url` with its host 127.0.0.1 replaced by a name that resolves there. */
const viaName = (url: string, name: string) => url.replace('127.0.0.1', name);

async function tenantWithWebhook(t: TestNudge, webhookUrl: string) {
  const tenant = await t.createTenant(`guard-${uniq()}`);
  await t.ok(tenant.secret, UPDATE, { input: { webhookUrl } });
  await t.ok(tenant.secret, `mutation { rotateWebhookSecret { secret } }`);
  await createTrigger(t, tenant.secret, {
    name: 'hook',
    event: 'ping',
    steps: [{ channel: 'WEBHOOK', template: { body: 'hi {{ customer.externalId }}' } }],
  });
  await t.setClock('2025-06-02T10:00:00.000Z');
  return tenant;
}

async function tenantWithPush(t: TestNudge, endpoint: string, externalId: string) {
  const tenant = await t.createTenant(`guard-push-${uniq()}`);
  await createTrigger(t, tenant.secret, {
    name: 'push',
    event: 'ping',
    steps: [{ channel: 'PUSH', template: { subject: 'Hi', body: 'hi' } }],
  });
  await t.setClock('2025-06-02T10:00:00.000Z');
  await identifyWith(t, tenant.secret, { externalId });
  await registerPush(t, tenant.secret, externalId, subscriptionFor(endpoint));
  return tenant;
}

describe('NUDGE_OUTBOUND_PRIVATE=deny', () => {
  let t: TestNudge;
  let peers: ChannelPeers;
  const receiver = new WebhookReceiver();

  beforeAll(async () => {
    ({ t, peers } = await startNudgeWithPeers(
      { NUDGE_OUTBOUND_PRIVATE: 'deny' },
      { outboundResolver: peerResolver },
    ));
    await receiver.start();
  });
  afterAll(async () => {
    await t.stop();
    await stopPeers(peers);
    await receiver.stop();
  });

  it.each([
    'http://127.0.0.1:8080/hooks',
    'http://169.254.169.254/latest/meta-data/',
    'http://[::1]:8080/',
    'http://[::ffff:127.0.0.1]/',
    'http://10.1.2.3/',
    'http://localhost:8080/',
  ])('updateTenantSettings refuses webhookUrl %s: BAD_USER_INPUT, nothing saved', async (url) => {
    const { secret } = await t.createTenant(`guard-${uniq()}`);

    const response = await t.request(secret, UPDATE, { input: { webhookUrl: url } });

    expectGraphQLError(response, 'BAD_USER_INPUT', 'input.webhookUrl');
    expect(response.errors![0].message).toMatch(/is not a public address/);
    const read = await t.ok<any>(secret, `{ tenant { webhookUrl } }`);
    expect(read.tenant.webhookUrl).toBeNull();
  });

  it('the current receiver URL on 127.0.0.1 is refused too', async () => {
    const { secret } = await t.createTenant(`guard-${uniq()}`);

    const response = await t.request(secret, UPDATE, { input: { webhookUrl: receiver.url } });

    expectGraphQLError(response, 'BAD_USER_INPUT', 'input.webhookUrl');
  });

  it('registerPushSubscription refuses an internal endpoint: BAD_USER_INPUT at input.endpoint', async () => {
    const { secret } = await t.createTenant(`guard-${uniq()}`);
    await identifyWith(t, secret, { externalId: 'p-literal' });

    const response = await t.request(secret, REGISTER_PUSH, {
      input: {
        customerExternalId: 'p-literal',
        ...subscriptionFor('http://169.254.169.254/push/abc'),
      },
    });

    expectGraphQLError(response, 'BAD_USER_INPUT', 'input.endpoint');
  });

  it('a webhook name that resolves to 127.0.0.1: saved, then FAILED permanently at send; the receiver gets nothing', async () => {
    const before = receiver.received.length;
    const { tenantId, secret } = await tenantWithWebhook(
      t,
      viaName(receiver.url, 'hooks.peer.test'),
    );

    await track(t, secret, { customerExternalId: 'w-deny', event: 'ping' });
    await advance(t, 'PT0S');
    let [m] = await messagesOf(t, secret, 'w-deny');
    expect([m.channel, m.status, m.attempts]).toEqual(['WEBHOOK', 'FAILED', 1]);
    expect(m.failure).toBe(
      'PERMANENT: webhook not contacted: hooks.peer.test resolves to 127.0.0.1 (loopback), ' +
        'not a public address',
    );

    await advance(t, 'P1D'); // a transient failure would have been retried by now
    [m] = await messagesOf(t, secret, 'w-deny');
    expect([m.status, m.attempts]).toEqual(['FAILED', 1]);
    expect(receiver.received).toHaveLength(before);
    expect(receiver.countsWithPrefix(tenantId).size).toBe(0);
  });

  it('a push endpoint name that resolves to 127.0.0.1: FAILED permanently; nothing reaches it', async () => {
    const before = receiver.received.length;
    const endpoint = viaName(receiver.url, 'push.peer.test');
    const { secret } = await tenantWithPush(t, endpoint, 'p-deny');

    await track(t, secret, { customerExternalId: 'p-deny', event: 'ping' });
    await advance(t, 'P1D');

    const [m] = await messagesOf(t, secret, 'p-deny');
    expect([m.channel, m.status, m.attempts]).toEqual(['PUSH', 'FAILED', 1]);
    expect(m.failure).toMatch(
      /^PERMANENT: push service not contacted: push\.peer\.test resolves to 127\.0\.0\.1 \(loopback\)/,
    );
    expect(receiver.received).toHaveLength(before);
  });

  it('a literal stored before deny was set is refused when sending, without connecting', async () => {
    const before = receiver.received.length;
    const webhook = new WebhookChannel({ outbound: new OutboundGuard('deny') });
    const message: OutboundMessage = {
      id: 'msg-literal',
      tenantId: 'tenant-literal',
      channel: 'WEBHOOK',
      purpose: 'MARKETING',
      to: receiver.url,
      subject: null,
      body: 'hi',
      html: null,
      triggerId: 'trigger-1',
      triggerName: 'hook',
      customerExternalId: 'c-1',
      stepIndex: 0,
      scheduledFor: new Date('2025-06-02T10:00:00Z'),
      signingSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      idempotencyKey: 'tenant-literal:enrollment-1:0',
      links: null,
      push: null,
      statusCallbackUrl: null,
    };
    try {
      expect(await webhook.deliver(message)).toEqual({
        ok: false,
        permanent: true,
        reason: 'webhook not contacted: 127.0.0.1 (loopback) is not a public address',
      });
      expect(receiver.received).toHaveLength(before);
    } finally {
      await webhook.close();
    }
  });
});

describe('NUDGE_OUTBOUND_PRIVATE=allow', () => {
  let t: TestNudge;
  const receiver = new WebhookReceiver();

  beforeAll(async () => {
    t = await startTestNudge({
      env: { NUDGE_OUTBOUND_PRIVATE: 'allow' },
      start: { outboundResolver: peerResolver },
    });
    await receiver.start();
  });
  afterAll(async () => {
    await t.stop();
    await receiver.stop();
  });

  it('the same name reaches the receiver on 127.0.0.1 (the socket uses the checked address)', async () => {
    const { tenantId, secret } = await tenantWithWebhook(
      t,
      viaName(receiver.url, 'hooks.peer.test'),
    );

    await track(t, secret, { customerExternalId: 'w-allow', event: 'ping' });
    await advance(t, 'PT0S');

    const [m] = await messagesOf(t, secret, 'w-allow');
    expect([m.status, m.attempts]).toEqual(['SENT', 1]);
    const hits = receiver.countsWithPrefix(tenantId);
    expect([...hits.values()]).toEqual([1]);
    expect(receiver.received.at(-1)!.body).toContain('hi w-allow');
  });

  it('internal literals may be saved (trial mode and local receivers)', async () => {
    const { secret } = await t.createTenant(`guard-${uniq()}`);

    const saved = await t.ok<any>(secret, UPDATE, {
      input: { webhookUrl: 'http://127.0.0.1:8080/hooks' },
    });

    expect(saved.updateTenantSettings.webhookUrl).toBe('http://127.0.0.1:8080/hooks');
  });
});
