import { TestNudge } from './support/harness';
import { createTrigger, identifyWith, track } from './support/scenario';
import { WebhookReceiver, webhookTenant } from './support/webhook-receiver';
import {
  ChannelPeers,
  advance,
  consent,
  messagesOf,
  registerPush,
  startNudgeWithPeers,
  stopPeers,
} from './support/sequences';

/**
 * Delivery after a step is recorded: retries with backoff under one idempotency key, a
 * dead-letter state, no retry of a permanent failure, and no second message when a provider
 * took the message but its answer never came.
 */
describe('delivery retries and failures', () => {
  let t: TestNudge;
  let peers: ChannelPeers;
  const receiver = new WebhookReceiver();

  beforeAll(async () => {
    ({ t, peers } = await startNudgeWithPeers());
    await receiver.start();
  });
  afterAll(async () => {
    await t.stop();
    await stopPeers(peers);
    await receiver.stop();
  });
  afterEach(() => {
    receiver.status = 204;
  });

  const sql = <T>(text: string, params: unknown[] = []): Promise<T[]> =>
    t.nudge.db.dataSource.query(text, params);

  async function smsCustomer(name: string) {
    const { secret } = await t.createTenant(`t-${name}`);
    await t.setClock('2025-06-02T10:00:00.000Z');
    await createTrigger(t, secret, {
      name: 'sms now',
      event: 'ping',
      steps: [{ channel: 'SMS', template: { body: 'Hello {{ customer.externalId }}' } }],
    });
    const phone = `+1666${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    await identifyWith(t, secret, { externalId: name, phone });
    await consent(t, secret, 'grantConsent', {
      customerExternalId: name,
      channel: 'SMS',
      purpose: 'MARKETING',
    });
    return { secret, phone };
  }

  it('a provider that accepts and then times out: the retry reuses the key, one SMS arrives', async () => {
    const { secret, phone } = await smsCustomer('stall');
    peers.sms.acceptThenStall(2_000); // longer than NUDGE_PROVIDER_TIMEOUT_MS (500)
    await track(t, secret, { customerExternalId: 'stall', event: 'ping' });
    await advance(t, 'PT0S');
    let [m] = await messagesOf(t, secret, 'stall');
    expect([m.status, m.attempts]).toEqual(['QUEUED', 1]);
    expect(m.failure).toMatch(/^TRANSIENT/);

    await advance(t, 'PT30S');
    [m] = await messagesOf(t, secret, 'stall');
    expect([m.status, m.attempts]).toEqual(['SENT', 2]);
    expect(peers.sms.received.filter((r) => r.to === phone)).toHaveLength(1);
    expect(peers.sms.requests).toBeGreaterThanOrEqual(2);
    await advance(t, 'P1D');
    expect(peers.sms.received.filter((r) => r.to === phone)).toHaveLength(1);
  });

  it('a permanent provider error (400) is not retried', async () => {
    const { secret, phone } = await smsCustomer('bad-number');
    peers.sms.failNext(400);
    await track(t, secret, { customerExternalId: 'bad-number', event: 'ping' });
    await advance(t, 'P1D');
    const [m] = await messagesOf(t, secret, 'bad-number');
    expect([m.status, m.attempts]).toEqual(['FAILED', 1]);
    expect(m.failure).toMatch(/^PERMANENT/);
    expect(peers.sms.received.filter((r) => r.to === phone)).toHaveLength(0);
  });

  it('a revocation that lands before a retry stops it (consent is re-read before each call)', async () => {
    const { secret, phone } = await smsCustomer('revoked-before-retry');
    peers.sms.failNext(503);
    await track(t, secret, { customerExternalId: 'revoked-before-retry', event: 'ping' });
    await advance(t, 'PT0S');
    await consent(t, secret, 'revokeConsent', {
      customerExternalId: 'revoked-before-retry',
      channel: 'SMS',
      purpose: 'MARKETING',
    });
    await advance(t, 'P1D');
    const [m] = await messagesOf(t, secret, 'revoked-before-retry');
    expect([m.status, m.suppressionReason]).toEqual(['SUPPRESSED', 'NO_CONSENT']);
    expect(peers.sms.received.filter((r) => r.to === phone)).toHaveLength(0);
  });

  it('a webhook that keeps failing is retried with backoff, then dead-lettered', async () => {
    receiver.status = 503;
    const { tenantId, secret } = await webhookTenant(t, receiver, 'hook-down', {
      name: 'hook',
      event: 'ping',
      steps: [{ channel: 'WEBHOOK', template: { body: 'hi' } }],
    });
    await t.setClock('2025-06-02T10:00:00.000Z');
    await identifyWith(t, secret, { externalId: 'h1' });
    await track(t, secret, { customerExternalId: 'h1', event: 'ping' });
    await advance(t, 'PT0S');
    await advance(t, 'PT1M'); // second attempt at +30 s
    let [m] = await messagesOf(t, secret, 'h1');
    expect([m.status, m.attempts]).toEqual(['QUEUED', 2]);
    await advance(t, 'P1D');
    [m] = await messagesOf(t, secret, 'h1');
    expect([m.status, m.attempts]).toEqual(['DEAD_LETTER', 5]);
    expect(m.failure).toMatch(/^RETRIES_EXHAUSTED after 5 attempts/);
    const ids = [...receiver.countsWithPrefix(tenantId).entries()];
    expect(ids).toEqual([[expect.any(String), 5]]); // one idempotency key, five attempts
  });

  it('a goal reached while a provider call is under way keeps the watchdog: a worker that died mid-call still gets its message settled', async () => {
    const { secret } = await t.createTenant('t-goal-mid-call');
    await t.setClock('2025-06-02T10:00:00.000Z');
    await createTrigger(t, secret, {
      name: 'sms then goal',
      event: 'ping',
      goal: { event: 'purchase', within: 'P1D' },
      steps: [
        { channel: 'SMS', template: { body: 'Hello' } },
        { delay: 'P1D', channel: 'SMS', template: { body: 'Still there?' } },
      ],
    });
    const phone = `+1666${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    await identifyWith(t, secret, { externalId: 'mid-call', phone });
    await consent(t, secret, 'grantConsent', {
      customerExternalId: 'mid-call',
      channel: 'SMS',
      purpose: 'MARKETING',
    });
    peers.sms.acceptThenStall(2_000);
    await track(t, secret, { customerExternalId: 'mid-call', event: 'ping' });
    await advance(t, 'PT0S');
    let [m] = await messagesOf(t, secret, 'mid-call');
    // As if the worker had died inside the provider call: SENDING, its lease already over.
    await sql(
      `UPDATE messages SET status = 'SENDING', sending_until = now() - interval '1 minute'
       WHERE id = $1`,
      [m.id],
    );
    await track(t, secret, { customerExternalId: 'mid-call', event: 'purchase' });
    const watchdogs = await sql<{ state: string }>(
      `SELECT t.state FROM timers t JOIN messages m ON m.enrollment_id = t.enrollment_id
       WHERE m.id = $1 AND t.kind = 'DELIVERY'`,
      [m.id],
    );
    expect(watchdogs.map((w) => w.state)).toEqual(['PENDING']);

    await advance(t, 'PT10M');
    [m] = await messagesOf(t, secret, 'mid-call');
    // The watchdog took the interrupted call back; delivery saw the run had converted.
    expect([m.status, m.suppressionReason]).toEqual(['SUPPRESSED', 'GOAL_REACHED']);
    await advance(t, 'P2D');
    expect((await messagesOf(t, secret, 'mid-call')).map((x) => x.stepIndex)).toEqual([0]);
    expect(peers.sms.received.filter((r) => r.to === phone).length).toBeLessThanOrEqual(1);
  });

  it('a webhook answering 400 fails at once', async () => {
    receiver.status = 400;
    const { secret } = await webhookTenant(t, receiver, 'hook-400', {
      name: 'hook',
      event: 'ping',
      steps: [{ channel: 'WEBHOOK', template: { body: 'hi' } }],
    });
    await identifyWith(t, secret, { externalId: 'h2' });
    await track(t, secret, { customerExternalId: 'h2', event: 'ping' });
    await advance(t, 'P1D');
    const [m] = await messagesOf(t, secret, 'h2');
    expect([m.status, m.attempts]).toEqual(['FAILED', 1]);
  });

  it('an expired push subscription is pruned; the next push step has no address', async () => {
    const { secret } = await t.createTenant('t-push-gone');
    await t.setClock('2025-06-02T10:00:00.000Z');
    await createTrigger(t, secret, {
      name: 'two pushes',
      event: 'ping',
      steps: [
        { channel: 'PUSH', template: { subject: 'One', body: 'first' } },
        { delay: 'PT1H', channel: 'PUSH', template: { subject: 'Two', body: 'second' } },
      ],
    });
    await identifyWith(t, secret, { externalId: 'p1' });
    const subscription = peers.push.newSubscription();
    await registerPush(t, secret, 'p1', subscription);
    peers.push.expire(subscription.endpoint);
    await track(t, secret, { customerExternalId: 'p1', event: 'ping' });
    await advance(t, 'PT2H');
    const messages = await messagesOf(t, secret, 'p1');
    expect(messages.map((m) => [m.status, m.suppressionReason])).toEqual([
      ['FAILED', null],
      ['SUPPRESSED', 'INVALID_ADDRESS'],
    ]);
    const data = await t.ok<any>(
      secret,
      `{ customer(externalId: "p1") { pushSubscriptions { endpoint } } }`,
    );
    expect(data.customer.pushSubscriptions).toEqual([]);
  });
});
