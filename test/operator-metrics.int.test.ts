import { OPERATOR_TOKEN, startTestNudge, type TestNudge } from './support/harness';
import { WebhookReceiver } from './support/webhook-receiver';

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format into samples (comments skipped). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key] = value;
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** The sum of a metric's samples whose labels include `labels`. */
function total(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name)
    .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

function metricsUrl(t: TestNudge): string {
  return t.nudge.url.replace(/\/graphql$/, '/metrics');
}

async function scrape(t: TestNudge, token: string | null) {
  return fetch(metricsUrl(t), {
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
}

describe('operator metrics (issue #5): GET /metrics in Prometheus text format', () => {
  let t: TestNudge;
  let receiver: WebhookReceiver;

  beforeAll(async () => {
    t = await startTestNudge();
    receiver = new WebhookReceiver();
    await receiver.start();
  });
  afterAll(async () => {
    await t.stop();
    await receiver.stop();
  });

  it('refuses a scrape without the bearer token (401) and other methods (405)', async () => {
    expect((await scrape(t, null)).status).toBe(401);
    expect((await scrape(t, 'wrong-token-0123456789')).status).toBe(401);
    const post = await fetch(metricsUrl(t), {
      method: 'POST',
      headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
    });
    expect(post.status).toBe(405);
  });

  it('after traffic: request, ingest, timer, lateness and delivery histograms have counts, and no label carries a tenant id', async () => {
    await t.setClock('2026-04-01T08:00:00Z');
    const tenants = [await t.createTenant('metrics-a'), await t.createTenant('metrics-b')];
    for (const tenant of tenants) {
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
          i: {
            name: 'later hook',
            event: 'signed_up',
            steps: [{ delay: 'PT1H', channel: 'WEBHOOK', template: { body: 'hello' } }],
          },
        },
      );
      await t.ok(
        tenant.secret,
        `mutation { track(input: { customerExternalId: "m-1", event: "signed_up" }) { eventId } }`,
      );
      await t.ok(
        tenant.secret,
        `mutation($e: [TrackInput!]!) { trackBatch(events: $e) { accepted } }`,
        {
          e: [
            { customerExternalId: 'm-2', event: 'viewed' },
            { customerExternalId: 'm-3', event: 'viewed' },
          ],
        },
      );
    }
    // One request that fails validation: an `error` outcome.
    await t.request(tenants[0].secret, `query { noSuchField }`);

    const before = parseExposition(await (await scrape(t, OPERATOR_TOKEN)).text());
    const pendingBefore = total(before, 'nudge_timers_pending');
    expect(pendingBefore).toBeGreaterThanOrEqual(2);

    await t.setClock('2026-04-01T10:00:00Z');
    const response = await scrape(t, OPERATOR_TOKEN);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const samples = parseExposition(text);

    const count = (name: string, labels: Record<string, string> = {}) =>
      total(samples, `${name}_count`, labels);
    expect(
      count('nudge_http_request_duration_seconds', {
        route: 'graphql',
        operation: 'mutation',
        outcome: 'ok',
      }),
    ).toBeGreaterThanOrEqual(10);
    expect(
      count('nudge_http_request_duration_seconds', { route: 'graphql', outcome: 'error' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      count('nudge_http_request_duration_seconds', { route: 'metrics' }),
    ).toBeGreaterThanOrEqual(1);
    expect(
      count('nudge_event_ingest_duration_seconds', { operation: 'track', outcome: 'ok' }),
    ).toBe(2);
    expect(
      count('nudge_event_ingest_duration_seconds', { operation: 'trackBatch', outcome: 'ok' }),
    ).toBe(2);
    expect(total(samples, 'nudge_events_received_total')).toBe(6);
    expect(
      count('nudge_timer_processing_duration_seconds', { outcome: 'fired' }),
    ).toBeGreaterThanOrEqual(2);
    expect(count('nudge_timer_lateness_seconds')).toBeGreaterThanOrEqual(2);
    // setClock walks the manual clock through each due time, so these timers were on time.
    expect(total(samples, 'nudge_timer_lateness_seconds_sum')).toBeGreaterThanOrEqual(0);
    expect(
      count('nudge_delivery_duration_seconds', { channel: 'WEBHOOK', outcome: 'ok' }),
    ).toBeGreaterThanOrEqual(2);
    expect(total(samples, 'nudge_timers_pending')).toBeLessThanOrEqual(pendingBefore - 2);
    expect(samples.some((s) => s.name === 'process_cpu_user_seconds_total')).toBe(true);
    expect(samples.some((s) => s.name === 'nodejs_heap_size_used_bytes')).toBe(true);

    // Bounded labels: no value is a tenant id, or any id at all.
    const tenantIds = new Set(tenants.map((tenant) => tenant.tenantId));
    const labelValues = samples.flatMap((s) => Object.values(s.labels));
    expect(labelValues.length).toBeGreaterThan(0);
    expect(labelValues.filter((value) => tenantIds.has(value))).toEqual([]);
    expect(labelValues.filter((value) => UUID.test(value))).toEqual([]);
    for (const id of tenantIds) expect(text).not.toContain(id);
  });
});

describe('operator metrics with NUDGE_METRICS_TOKEN', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge({ env: { NUDGE_METRICS_TOKEN: 'scrape-token-0123456789' } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('accepts that token only; the operator token no longer opens /metrics', async () => {
    expect((await scrape(t, 'scrape-token-0123456789')).status).toBe(200);
    expect((await scrape(t, OPERATOR_TOKEN)).status).toBe(401);
  });

  it('keeps its own registry: the traffic of the instance before it in this process does not show', async () => {
    const body = await (await scrape(t, 'scrape-token-0123456789')).text();
    const samples = parseExposition(body);
    // This instance saw no ingest; the first describe's instance saw six events.
    expect(total(samples, 'nudge_events_received_total')).toBe(0);
  });
});
