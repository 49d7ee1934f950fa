import type { Client } from 'graphql-ws';
import { collect, createApiKey, wsClient } from './support/graphql-helpers';
import { describeWithRedis, startTestNudge, type TestNudge } from './support/harness';
import { COUNTS_FIELDS } from './support/metrics-recount';
import { createTrigger, track } from './support/scenario';

/**
 * Issue #5, live metrics: `metricsUpdated` starts with a snapshot of the trigger's all-time
 * totals (change = zeros), then sends at most one message per second while counts move, each
 * with the totals and the change since the previous one. What a second instance counts reaches
 * a subscriber on the first; a dashboard that reconnects gets a consistent snapshot; another
 * tenant's trigger is NOT_FOUND.
 */
const UPDATED = `subscription($id: ID!) {
  metricsUpdated(triggerId: $id) {
    triggerId at totals { ${COUNTS_FIELDS} } change { ${COUNTS_FIELDS} }
  }
}`;
const ALL_TIME = `query($id: ID!) {
  triggerMetrics(triggerId: $id, from: "2025-01-01T00:00:00Z", to: "2026-01-01T00:00:00Z") {
    totals { ${COUNTS_FIELDS} }
  }
}`;
const IDENTIFY = `mutation($i: IdentifyInput!) { identify(input: $i) { id } }`;
const START = '2025-07-08T10:00:00.000Z';

interface Update {
  metricsUpdated: { triggerId: string; at: string; totals: any; change: any };
}

describeWithRedis('#5 metricsUpdated over graphql-ws', () => {
  let a: TestNudge;
  let b: TestNudge;
  const clients: Client[] = [];

  beforeAll(async () => {
    const prefix = `ml${Date.now().toString(36)}`;
    a = await startTestNudge({ prefix });
    b = await startTestNudge({ prefix, smtp: a.smtp });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.dispose()));
    await a.stop();
    await b.stop();
  });

  function subscribe(t: TestNudge, secret: string, triggerId: string) {
    const client = wsClient(t, secret);
    clients.push(client);
    return { client, received: collect<Update>(client, UPDATED, { id: triggerId }) };
  }

  async function allTime(t: TestNudge, secret: string, triggerId: string) {
    return (await t.ok<any>(secret, ALL_TIME, { id: triggerId })).triggerMetrics.totals;
  }

  async function setBoth(iso: string) {
    await a.setClock(iso);
    await b.setClock(iso);
  }

  async function shopWithTrigger() {
    const shop = await a.createTenant('t-live');
    await setBoth(START);
    const triggerId = await createTrigger(a, shop.secret, {
      name: 'welcome',
      event: 'signed_up',
      steps: [{ channel: 'EMAIL', delay: 'PT5M', template: { subject: 'Hi', body: 'Hi' } }],
      goal: { event: 'purchase', within: 'P1D' },
    });
    return { ...shop, triggerId };
  }

  async function signUp(t: TestNudge, secret: string, externalId: string) {
    await t.ok(secret, IDENTIFY, { i: { externalId, email: `${externalId}@example.test` } });
    await track(t, secret, { customerExternalId: externalId, event: 'signed_up' });
  }

  it('a subscriber on instance A sees the funnel advance from events and sends on instance B, coalesced to at most one message per second', async () => {
    const shop = await shopWithTrigger();
    await signUp(a, shop.secret, 'before-1');
    const { received } = subscribe(a, shop.secret, shop.triggerId);

    const snapshot = await received.waitFor(() => true);
    expect(snapshot.metricsUpdated.triggerId).toBe(shop.triggerId);
    expect(snapshot.metricsUpdated.totals).toMatchObject({ eligible: 1, entries: 1, sent: 0 });
    expect(snapshot.metricsUpdated.change).toMatchObject({ eligible: 0, entries: 0, sent: 0 });

    // Fifteen sign-ups on B as fast as they go, then the emails (on B's clock) and a purchase.
    const startedMs = Date.now();
    for (let i = 0; i < 15; i++) await signUp(b, shop.secret, `b-${i}`);
    // The entries reach the subscriber before anything is sent, so the funnel is seen to
    // advance in at least two steps however fast this machine is.
    await received.waitFor((u) => u.metricsUpdated.totals.entries === 16, 15_000);
    await setBoth('2025-07-08T10:06:00.000Z');
    await track(b, shop.secret, { customerExternalId: 'b-3', event: 'purchase' });
    const expected = await allTime(a, shop.secret, shop.triggerId);
    expect(expected).toMatchObject({ eligible: 16, entries: 16, sent: 16, conversions: 1 });

    const last = await received.waitFor(
      (u) => u.metricsUpdated.totals.conversions === 1 && u.metricsUpdated.totals.sent === 16,
      15_000,
    );
    const tookMs = Date.now() - startedMs;
    expect(last.metricsUpdated.totals).toEqual(expected);

    const updates = received.items;
    // The funnel only moves forward, and each change is the difference to the previous one.
    for (let i = 1; i < updates.length; i++) {
      const [before, after] = [updates[i - 1].metricsUpdated, updates[i].metricsUpdated];
      for (const name of ['eligible', 'entries', 'sent', 'conversions']) {
        expect(after.totals[name]).toBeGreaterThanOrEqual(before.totals[name]);
        expect(after.change[name]).toBe(after.totals[name] - before.totals[name]);
      }
    }
    // 33+ counted changes arrived as a handful of messages (snapshot, entries, sends at least),
    // never two within a second.
    expect(updates.length).toBeGreaterThan(2);
    expect(updates.length - 1).toBeLessThanOrEqual(Math.ceil(tookMs / 1000) + 1);
  });

  it('messages to one subscriber are at least a second apart (wall time)', async () => {
    const shop = await shopWithTrigger();
    const { client } = subscribe(a, shop.secret, shop.triggerId);
    const arrivedMs: number[] = [];
    await new Promise<void>((resolve, reject) => {
      client.subscribe(
        { query: UPDATED, variables: { id: shop.triggerId } },
        {
          next: () => {
            arrivedMs.push(Date.now());
            if (arrivedMs.length === 4) resolve();
          },
          error: reject,
          complete: () => undefined,
        },
      );
      void (async () => {
        for (let i = 0; i < 40 && arrivedMs.length < 4; i++) {
          await signUp(b, shop.secret, `fast-${i}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      })().catch(reject);
    });
    for (let i = 2; i < arrivedMs.length; i++) {
      expect(arrivedMs[i] - arrivedMs[i - 1]).toBeGreaterThanOrEqual(900);
    }
  });

  it('a dashboard that reconnects gets the current totals as its first message, with nothing missed', async () => {
    const shop = await shopWithTrigger();
    const first = subscribe(a, shop.secret, shop.triggerId);
    await first.received.waitFor(() => true);
    await first.client.dispose();

    for (let i = 0; i < 5; i++) await signUp(b, shop.secret, `gap-${i}`);
    await setBoth('2025-07-08T10:06:00.000Z');

    const again = subscribe(b, shop.secret, shop.triggerId);
    const snapshot = await again.received.waitFor(() => true);
    expect(snapshot.metricsUpdated.totals).toEqual(await allTime(b, shop.secret, shop.triggerId));
    expect(snapshot.metricsUpdated.totals).toMatchObject({ eligible: 5, entries: 5, sent: 5 });
    expect(snapshot.metricsUpdated.change).toMatchObject({ eligible: 0, entries: 0, sent: 0 });
  });

  it('another tenant’s trigger is NOT_FOUND and a key without READ is refused (4403); no message is sent', async () => {
    const shop = await shopWithTrigger();
    const other = await a.createTenant('t-other');
    const foreign = subscribe(a, other.secret, shop.triggerId).received;
    const error = (await foreign.waitForError()) as Array<{ extensions?: { code?: string } }>;
    expect(error[0].extensions?.code).toBe('NOT_FOUND');

    const ingestOnly = await createApiKey(a, shop.secret, ['INGEST']);
    const denied = subscribe(a, ingestOnly.secret, shop.triggerId).received;
    // A key that may not read gets no connection at all (4403 Forbidden).
    const refused = (await denied.waitForError()) as { code?: number };
    expect(refused.code).toBe(4403);
    expect(foreign.items).toEqual([]);
    expect(denied.items).toEqual([]);
  });
});
