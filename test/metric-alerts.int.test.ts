import net from 'node:net';
import { Webhook } from 'standardwebhooks';
import { emailLinks } from '../src/engine/engagement/link-tokens';
import { describeWithRedis, startTestNudge, type TestNudge } from './support/harness';
import { collect, createApiKey, expectGraphQLError, wsClient } from './support/graphql-helpers';
import { WebhookReceiver } from './support/webhook-receiver';
import { createTrigger, identifyWith, track, uniqueEmail } from './support/scenario';

const ALERT_FIELDS = `id triggerId metric comparison threshold overLastSends webhookUrl state
  lastValue lastSends`;
const EVENT_SUBSCRIPTION = `subscription($t: ID) { metricAlert(triggerId: $t) {
  alert { id metric comparison threshold overLastSends state } triggerId value sends state at } }`;

interface AlertEvent {
  metricAlert: {
    alert: { id: string; state: string; overLastSends: number };
    triggerId: string | null;
    value: number;
    sends: number;
    state: 'FIRING' | 'RESOLVED';
    at: string;
  };
}

const BROWSER =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)';

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until the instances have evaluated what the last sends notified and sent their
 * webhooks: notifications arrive asynchronously (PostgreSQL NOTIFY at commit), so settle a
 * few rounds.
 */
async function quiesce(...instances: TestNudge[]): Promise<void> {
  for (let round = 0; round < 3; round++) {
    await sleep(80);
    await Promise.all(instances.map((i) => i.nudge.alerts.settled()));
  }
}

describe('metric alerts (issue #5): raised once per crossing, on the subscription and signed', () => {
  let t: TestNudge;
  let steps: WebhookReceiver;
  let alerts: WebhookReceiver;
  let customer = 0;

  beforeAll(async () => {
    t = await startTestNudge();
    steps = new WebhookReceiver();
    alerts = new WebhookReceiver();
    await steps.start();
    await alerts.start();
  });
  afterAll(async () => {
    await t.stop();
    await steps.stop();
    await alerts.stop();
  });

  /** A tenant whose one trigger sends a WEBHOOK step to `steps` at entry. */
  async function tenantWithTrigger(name: string) {
    const tenant = await t.createTenant(name);
    await t.ok(
      tenant.secret,
      `mutation($u: String!) { updateTenantSettings(input: { webhookUrl: $u }) { webhookUrl } }`,
      { u: steps.url },
    );
    const rotated = await t.ok(tenant.secret, `mutation { rotateWebhookSecret { secret } }`);
    const created = await t.ok(
      tenant.secret,
      `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`,
      {
        i: {
          name: 'signup hook',
          event: 'signed_up',
          steps: [{ channel: 'WEBHOOK', template: { body: 'hi {{ customer.externalId }}' } }],
        },
      },
    );
    return {
      ...tenant,
      signingSecret: rotated.rotateWebhookSecret.secret as string,
      triggerId: created.createTrigger.id as string,
    };
  }

  /** One customer enters: one WEBHOOK send, answered with `status` (400 = FAILED). */
  async function send(secret: string, status: number): Promise<void> {
    steps.status = status;
    await t.ok(
      secret,
      `mutation($c: String!) { track(input: { customerExternalId: $c, event: "signed_up" }) { eventId } }`,
      { c: `c-${++customer}` },
    );
  }

  async function alertOf(secret: string, id: string) {
    const data = await t.ok(secret, `query { metricAlerts { ${ALERT_FIELDS} } }`);
    return (data.metricAlerts as Array<Record<string, any>>).find((a) => a.id === id)!;
  }

  it('FIRING once when the failure rate crosses, RESOLVED once when it recovers, nothing before N sends', async () => {
    await t.setClock('2026-03-01T08:00:00Z');
    const shop = await tenantWithTrigger('alerts-shop');
    const other = await tenantWithTrigger('alerts-other');
    const created = await t.ok(
      shop.secret,
      `mutation($i: CreateMetricAlertInput!) { createMetricAlert(input: $i) { ${ALERT_FIELDS} } }`,
      {
        i: {
          triggerId: shop.triggerId,
          metric: 'FAILURE_RATE',
          comparison: 'ABOVE',
          threshold: 0.5,
          overLastSends: 4,
          webhookUrl: alerts.url,
        },
      },
    );
    const alert = created.createMetricAlert;
    expect(alert).toMatchObject({ state: 'OK', overLastSends: 4, webhookUrl: alerts.url });

    const shopClient = wsClient(t, shop.secret);
    const otherClient = wsClient(t, other.secret);
    const seen = collect<AlertEvent>(shopClient, EVENT_SUBSCRIPTION, { t: shop.triggerId });
    const seenAll = collect<AlertEvent>(shopClient, EVENT_SUBSCRIPTION, {});
    const seenByOther = collect<AlertEvent>(otherClient, EVENT_SUBSCRIPTION, {});
    await sleep(200);
    try {
      // Three failures: a failure rate of 100 %, but only 3 of the 4 sends the alert needs.
      for (let i = 0; i < 3; i++) await send(shop.secret, 400);
      await quiesce(t);
      expect(await alertOf(shop.secret, alert.id)).toMatchObject({
        state: 'OK',
        lastSends: 3,
        lastValue: 1,
      });
      expect(seen.items).toHaveLength(0);
      expect(alerts.received).toHaveLength(0);

      // The fourth failure crosses; two more keep it above: still one FIRING.
      for (let i = 0; i < 3; i++) await send(shop.secret, 400);
      const firing = await seen.waitFor((e) => e.metricAlert.state === 'FIRING');
      await quiesce(t);
      expect(firing.metricAlert).toMatchObject({
        triggerId: shop.triggerId,
        value: 1,
        sends: 4,
        alert: { id: alert.id, state: 'FIRING', overLastSends: 4 },
      });
      expect(new Date(firing.metricAlert.at).toISOString()).toBe('2026-03-01T08:00:00.000Z');
      expect(seen.items).toHaveLength(1);
      expect(seenAll.items).toHaveLength(1);
      expect((await alertOf(shop.secret, alert.id)).state).toBe('FIRING');

      // The webhook: one event, signed with the tenant's secret, verifiable with stock code.
      expect(alerts.received).toHaveLength(1);
      const hook = alerts.received[0];
      const payload = new Webhook(shop.signingSecret).verify(hook.body, {
        'webhook-id': String(hook.headers['webhook-id']),
        'webhook-timestamp': String(hook.headers['webhook-timestamp']),
        'webhook-signature': String(hook.headers['webhook-signature']),
      }) as Record<string, any>;
      expect(payload).toMatchObject({
        type: 'metric_alert.firing',
        id: `${alert.id}:1`,
        state: 'FIRING',
        triggerId: shop.triggerId,
        value: 1,
        sends: 4,
        alert: { id: alert.id, metric: 'FAILURE_RATE', comparison: 'ABOVE', threshold: 0.5 },
      });
      expect(hook.webhookId).toBe(`${alert.id}:1`);
      expect(() =>
        new Webhook(other.signingSecret).verify(hook.body, {
          'webhook-id': String(hook.headers['webhook-id']),
          'webhook-timestamp': String(hook.headers['webhook-timestamp']),
          'webhook-signature': String(hook.headers['webhook-signature']),
        }),
      ).toThrow();

      // Recovery: successes push the failures out of the last 4; 2 of 4 (50 %) is not above.
      await send(shop.secret, 204);
      await quiesce(t);
      expect(seen.items).toHaveLength(1);
      await send(shop.secret, 204);
      const resolved = await seen.waitFor((e) => e.metricAlert.state === 'RESOLVED');
      for (let i = 0; i < 2; i++) await send(shop.secret, 204);
      await quiesce(t);
      expect(resolved.metricAlert).toMatchObject({ value: 0.5, sends: 4 });
      expect(seen.items.map((e) => e.metricAlert.state)).toEqual(['FIRING', 'RESOLVED']);
      expect(await alertOf(shop.secret, alert.id)).toMatchObject({
        state: 'OK',
        lastSends: 4,
        lastValue: 0,
      });
      expect(alerts.received.map((h) => JSON.parse(h.body).type)).toEqual([
        'metric_alert.firing',
        'metric_alert.resolved',
      ]);
      expect(alerts.received[1].webhookId).toBe(`${alert.id}:2`);

      // Another tenant's subscriber saw nothing of it.
      expect(seenByOther.items).toHaveLength(0);
    } finally {
      seen.dispose();
      seenAll.dispose();
      seenByOther.dispose();
      await shopClient.dispose();
      await otherClient.dispose();
    }
  });

  it('a webhook answered 503 is retried with the same webhook-id until it is accepted', async () => {
    const shop = await tenantWithTrigger('alerts-retry');
    const before = alerts.received.length;
    alerts.nextStatuses = [503];
    await t.ok(
      shop.secret,
      `mutation($i: CreateMetricAlertInput!) { createMetricAlert(input: $i) { id } }`,
      {
        i: {
          triggerId: shop.triggerId,
          metric: 'DELIVERY_RATE',
          comparison: 'BELOW',
          threshold: 0.9,
          overLastSends: 1,
          webhookUrl: alerts.url,
        },
      },
    );
    // A WEBHOOK step is SENT, never DELIVERED: a delivery rate of 0 over 1 send.
    await send(shop.secret, 204);
    await quiesce(t);
    const hits = alerts.received.slice(before);
    expect(hits).toHaveLength(2);
    expect(hits[0].webhookId).toBe(hits[1].webhookId);
    for (const hit of hits) {
      expect(() =>
        new Webhook(shop.signingSecret).verify(hit.body, {
          'webhook-id': String(hit.headers['webhook-id']),
          'webhook-timestamp': String(hit.headers['webhook-timestamp']),
          'webhook-signature': String(hit.headers['webhook-signature']),
        }),
      ).not.toThrow();
    }
  });

  it('another tenant’s triggers and alerts are NOT_FOUND', async () => {
    const a = await tenantWithTrigger('alerts-a');
    const b = await tenantWithTrigger('alerts-b');
    const created = await t.ok(
      a.secret,
      `mutation($t: ID!) { createMetricAlert(input: { triggerId: $t, metric: OPEN_RATE,
        comparison: BELOW, threshold: 0.2, overLastSends: 200 }) { id } }`,
      { t: a.triggerId },
    );
    const alertId = created.createMetricAlert.id;

    expectGraphQLError(
      await t.request(
        b.secret,
        `mutation($t: ID!) { createMetricAlert(input: { triggerId: $t, metric: OPEN_RATE,
          comparison: BELOW, threshold: 0.2, overLastSends: 200 }) { id } }`,
        { t: a.triggerId },
      ),
      'NOT_FOUND',
      'input.triggerId',
    );
    expectGraphQLError(
      await t.request(b.secret, `mutation($id: ID!) { deleteMetricAlert(id: $id) }`, {
        id: alertId,
      }),
      'NOT_FOUND',
      'id',
    );
    expectGraphQLError(
      await t.request(b.secret, `query($t: ID) { metricAlerts(triggerId: $t) { id } }`, {
        t: a.triggerId,
      }),
      'NOT_FOUND',
      'triggerId',
    );
    const clientB = wsClient(t, b.secret);
    try {
      const foreign = collect(clientB, EVENT_SUBSCRIPTION, { t: a.triggerId });
      const error = (await foreign.waitForError()) as Array<{ extensions?: { code?: string } }>;
      expect(error[0].extensions?.code).toBe('NOT_FOUND');
      expect(foreign.items).toEqual([]);
    } finally {
      await clientB.dispose();
    }
    const listedByB = await t.ok(b.secret, `query { metricAlerts { id } }`);
    expect(listedByB.metricAlerts).toEqual([]);

    const listedByA = await t.ok(a.secret, `query($t: ID) { metricAlerts(triggerId: $t) { id } }`, {
      t: a.triggerId,
    });
    expect(listedByA.metricAlerts).toEqual([{ id: alertId }]);
    expect(
      (await t.ok(a.secret, `mutation($id: ID!) { deleteMetricAlert(id: $id) }`, { id: alertId }))
        .deleteMetricAlert,
    ).toBe(true);
    expect((await t.ok(a.secret, `query { metricAlerts { id } }`)).metricAlerts).toEqual([]);
  });

  it.each([
    [{ threshold: 1.5 }, 'input.threshold'],
    [{ threshold: -0.1 }, 'input.threshold'],
    [{ overLastSends: 0 }, 'input.overLastSends'],
    [{ overLastSends: 10_001 }, 'input.overLastSends'],
    [{ webhookUrl: 'ftp://hooks.example.com/x' }, 'input.webhookUrl'],
    [{ webhookUrl: 'not a url' }, 'input.webhookUrl'],
    [{ webhookUrl: 'https://user:pw@hooks.example.com/x' }, 'input.webhookUrl'],
  ])('bad input %j is BAD_USER_INPUT at %s and stores nothing', async (change, field) => {
    const shop = await tenantWithTrigger('alerts-bad');
    const input = {
      triggerId: shop.triggerId,
      metric: 'CLICK_RATE',
      comparison: 'BELOW',
      threshold: 0.1,
      overLastSends: 50,
      ...change,
    };
    expectGraphQLError(
      await t.request(
        shop.secret,
        `mutation($i: CreateMetricAlertInput!) { createMetricAlert(input: $i) { id } }`,
        { i: input },
      ),
      'BAD_USER_INPUT',
      field,
    );
    expect((await t.ok(shop.secret, `query { metricAlerts { id } }`)).metricAlerts).toEqual([]);
  });

  it('an alert without triggerId watches all the tenant’s triggers together; its events carry no triggerId', async () => {
    const shop = await tenantWithTrigger('alerts-wide');
    const second = await t.ok(
      shop.secret,
      `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`,
      {
        i: {
          name: 'order hook',
          event: 'ordered',
          steps: [{ channel: 'WEBHOOK', template: { body: 'thanks' } }],
        },
      },
    );
    const created = await t.ok(
      shop.secret,
      `mutation { createMetricAlert(input: { metric: FAILURE_RATE, comparison: ABOVE,
        threshold: 0.4, overLastSends: 2 }) { id triggerId } }`,
    );
    expect(created.createMetricAlert.triggerId).toBeNull();
    const client = wsClient(t, shop.secret);
    const all = collect<AlertEvent>(client, EVENT_SUBSCRIPTION, {});
    const ofFirst = collect<AlertEvent>(client, EVENT_SUBSCRIPTION, { t: shop.triggerId });
    await sleep(200);
    try {
      // One failure on each trigger: 2 of the tenant's last 2 sends failed.
      await send(shop.secret, 400);
      steps.status = 400;
      await t.ok(
        shop.secret,
        `mutation { track(input: { customerExternalId: "wide-1", event: "ordered" }) { eventId } }`,
      );
      const firing = await all.waitFor((e) => e.metricAlert.state === 'FIRING');
      await quiesce(t);
      expect(firing.metricAlert).toMatchObject({ triggerId: null, value: 1, sends: 2 });
      expect(all.items).toHaveLength(1);
      // Filtered to one trigger, a tenant-wide alert's events are not that trigger's.
      expect(ofFirst.items).toHaveLength(0);
      // Listing one trigger's alerts leaves the tenant-wide one out.
      const ofSecond = await t.ok(
        shop.secret,
        `query($t: ID) { metricAlerts(triggerId: $t) { id } }`,
        { t: second.createTrigger.id },
      );
      expect(ofSecond.metricAlerts).toEqual([]);
    } finally {
      all.dispose();
      ofFirst.dispose();
      await client.dispose();
    }
  });

  it('a key without WRITE may list alerts but not create them (FORBIDDEN)', async () => {
    const shop = await tenantWithTrigger('alerts-scopes');
    const { secret: readOnly } = await createApiKey(t, shop.secret, ['READ'], 'read only');
    expect((await t.ok(readOnly, `query { metricAlerts { id } }`)).metricAlerts).toEqual([]);
    expectGraphQLError(
      await t.request(
        readOnly,
        `mutation($t: ID!) { createMetricAlert(input: { triggerId: $t, metric: OPEN_RATE,
          comparison: BELOW, threshold: 0.2, overLastSends: 10 }) { id } }`,
        { t: shop.triggerId },
      ),
      'FORBIDDEN',
    );
  });
});

describeWithRedis('metric alerts across instances', () => {
  let a: TestNudge;
  let b: TestNudge;
  let steps: WebhookReceiver;
  let alerts: WebhookReceiver;

  beforeAll(async () => {
    a = await startTestNudge();
    // Same Redis prefix: one deployment, two processes; both listen and evaluate.
    b = await startTestNudge({ prefix: a.prefix });
    steps = new WebhookReceiver();
    alerts = new WebhookReceiver();
    await steps.start();
    await alerts.start();
  });
  afterAll(async () => {
    await b.stop();
    await a.stop();
    await steps.stop();
    await alerts.stop();
  });

  it('a crossing seen by both instances is raised once: one event on either instance, one webhook', async () => {
    const tenant = await a.createTenant('alerts-two');
    await a.ok(
      tenant.secret,
      `mutation($u: String!) { updateTenantSettings(input: { webhookUrl: $u }) { webhookUrl } }`,
      { u: steps.url },
    );
    await a.ok(tenant.secret, `mutation { rotateWebhookSecret { secret } }`);
    const trigger = await a.ok(
      tenant.secret,
      `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`,
      {
        i: {
          name: 'hook',
          event: 'signed_up',
          steps: [{ channel: 'WEBHOOK', template: { body: 'hi' } }],
        },
      },
    );
    await a.ok(
      tenant.secret,
      `mutation($i: CreateMetricAlertInput!) { createMetricAlert(input: $i) { id } }`,
      {
        i: {
          triggerId: trigger.createTrigger.id,
          metric: 'FAILURE_RATE',
          comparison: 'ABOVE',
          threshold: 0.5,
          overLastSends: 2,
          webhookUrl: alerts.url,
        },
      },
    );
    const onA = wsClient(a, tenant.secret);
    const onB = wsClient(b, tenant.secret);
    const seenOnA = collect<AlertEvent>(onA, EVENT_SUBSCRIPTION, {});
    const seenOnB = collect<AlertEvent>(onB, EVENT_SUBSCRIPTION, {});
    await sleep(200);
    try {
      steps.status = 400;
      for (let i = 0; i < 6; i++) {
        // Entries alternate between the instances; every status change notifies both.
        await (i % 2 ? b : a).ok(
          tenant.secret,
          `mutation($c: String!) { track(input: { customerExternalId: $c, event: "signed_up" }) { eventId } }`,
          { c: `two-${i}` },
        );
      }
      await seenOnB.waitFor((e) => e.metricAlert.state === 'FIRING');
      await quiesce(a, b);

      expect(seenOnA.items.map((e) => e.metricAlert.state)).toEqual(['FIRING']);
      expect(seenOnB.items.map((e) => e.metricAlert.state)).toEqual(['FIRING']);
      expect(alerts.received).toHaveLength(1);
    } finally {
      seenOnA.dispose();
      seenOnB.dispose();
      await onA.dispose();
      await onB.dispose();
    }
  });
});

describe('metric alerts on engagement: a person opening the email moves OPEN_RATE', () => {
  let t: TestNudge;
  let baseUrl: string;

  beforeAll(async () => {
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    t = await startTestNudge({ env: { PORT: String(port), NUDGE_PUBLIC_URL: baseUrl } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('FIRING when 0 of the last 2 emails were opened, RESOLVED once one is opened through the pixel', async () => {
    await t.setClock('2026-05-04T09:00:00Z');
    const { tenantId, secret } = await t.createTenant('alerts-opens');
    const triggerId = await createTrigger(t, secret, {
      name: 'newsletter',
      event: 'newsletter_due',
      steps: [{ channel: 'EMAIL', template: { subject: 'News', body: 'This week' } }],
    });
    const created = await t.ok(
      secret,
      `mutation($t: ID!) { createMetricAlert(input: { triggerId: $t, metric: OPEN_RATE,
        comparison: BELOW, threshold: 0.5, overLastSends: 2 }) { id } }`,
      { t: triggerId },
    );
    const client = wsClient(t, secret);
    const seen = collect<AlertEvent>(client, EVENT_SUBSCRIPTION, { t: triggerId });
    await sleep(200);
    try {
      const pixels: string[] = [];
      for (const externalId of ['reader-1', 'reader-2']) {
        await identifyWith(t, secret, { externalId, email: uniqueEmail(externalId) });
        await track(t, secret, { customerExternalId: externalId, event: 'newsletter_due' });
        const [row] = (await t.nudge.db.dataSource.query(
          `SELECT m.id, tn.link_secret FROM messages m
           JOIN customers c ON c.id = m.customer_id JOIN tenants tn ON tn.id = m.tenant_id
           WHERE m.tenant_id = $1 AND c.external_id = $2 AND m.status = 'SENT'`,
          [tenantId, externalId],
        )) as Array<{ id: string; link_secret: string }>;
        pixels.push(emailLinks(baseUrl, tenantId, row.id, row.link_secret).openPixelUrl);
      }
      const firing = await seen.waitFor((e) => e.metricAlert.state === 'FIRING');
      expect(firing.metricAlert).toMatchObject({ value: 0, sends: 2 });

      // Opens a minute later, from a browser: a person, not a scanner.
      await t.setClock('2026-05-04T09:01:00Z');
      for (const pixel of pixels) {
        const response = await fetch(pixel, { headers: { 'user-agent': BROWSER } });
        expect(response.status).toBe(200);
        await response.arrayBuffer();
      }
      const resolved = await seen.waitFor((e) => e.metricAlert.state === 'RESOLVED');
      await quiesce(t);
      expect(resolved.metricAlert).toMatchObject({ value: 0.5, sends: 2 });
      expect(seen.items.map((e) => e.metricAlert.state)).toEqual(['FIRING', 'RESOLVED']);
      const [alert] = (await t.ok(secret, `query { metricAlerts { id state lastValue } }`))
        .metricAlerts;
      expect(alert).toEqual({ id: created.createMetricAlert.id, state: 'OK', lastValue: 1 });
    } finally {
      seen.dispose();
      await client.dispose();
    }
  });
});
