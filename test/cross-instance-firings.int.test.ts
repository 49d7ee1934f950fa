import type { Client } from 'graphql-ws';
import { collect, wsClient } from './support/graphql-helpers';
import { describeWithRedis, startTestNudge, TestNudge } from './support/harness';
import { createTrigger } from './support/scenario';

/**
 * DESIGN.md, "Beyond one machine": subscriptions fan out through Redis pub/sub. A dashboard
 * connected to one instance sees the firings another instance produces — and only its own
 * tenant's.
 */
const FIRED = `subscription($triggerId: ID) {
  triggerFired(triggerId: $triggerId) { trigger { id name } customer { externalId } enrollmentId }
}`;
const TRACK = `mutation($i: TrackInput!) { track(input: $i) { eventId } }`;

describeWithRedis('triggerFired across instances', () => {
  let a: TestNudge;
  let b: TestNudge;
  const clients: Client[] = [];

  beforeAll(async () => {
    const prefix = `xi${Date.now().toString(36)}`;
    a = await startTestNudge({ prefix });
    b = await startTestNudge({ prefix, smtp: a.smtp });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await a.stop();
    await b.stop();
  });

  it('a subscriber on instance A receives a firing that instance B produced, and no other tenant’s', async () => {
    await a.setClock('2025-07-08T10:00:00Z');
    await b.setClock('2025-07-08T10:00:00Z');
    const shop = await a.createTenant('t-shop');
    const other = await a.createTenant('t-other');
    const step = { channel: 'EMAIL', template: { subject: 'Hi', body: 'Hi' } };
    const triggerId = await createTrigger(a, shop.secret, {
      name: 'welcome',
      event: 'signed_up',
      steps: [step],
    });
    await createTrigger(a, other.secret, { name: 'welcome', event: 'signed_up', steps: [step] });

    const client = wsClient(a, shop.secret);
    clients.push(client);
    const received = collect<any>(client, FIRED, { triggerId });
    // The subscription is live once a probe fired through A itself arrives.
    for (let i = 0; ; i++) {
      await a.ok(shop.secret, TRACK, {
        i: { customerExternalId: `probe-${i}`, event: 'signed_up' },
      });
      try {
        await received.waitFor((f) => f.triggerFired.customer.externalId === `probe-${i}`, 200);
        break;
      } catch {
        if (i > 20) throw new Error('subscription never became live');
      }
    }

    await b.ok(other.secret, TRACK, { i: { customerExternalId: 'not-yours', event: 'signed_up' } });
    await b.ok(shop.secret, TRACK, { i: { customerExternalId: 'cust-b', event: 'signed_up' } });

    const fromB = await received.waitFor((f) => f.triggerFired.customer.externalId === 'cust-b');
    expect(fromB.triggerFired.trigger).toEqual({ id: triggerId, name: 'welcome' });
    // Ordered delivery on one channel: the other tenant's firing (published first) never came.
    expect(
      received.items.filter((f) => f.triggerFired.customer.externalId === 'not-yours'),
    ).toEqual([]);
  });
});
