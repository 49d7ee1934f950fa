import net from 'node:net';
import { SmtpSink } from '../scripts/lib/smtp-sink';
import { startTestNudge, TestNudge } from './support/harness';

const CREATE = `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`;
const TRACK = `mutation($i: TrackInput!) { track(input: $i) { eventId } }`;

describe('one bad timer or input never stalls the rest', () => {
  let t: TestNudge;
  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => t.stop());

  it('a template whose output cannot be stored fails that message, and time moves on', async () => {
    const { secret } = await t.createTenant('poison');
    await t.setClock('2025-04-01T08:00:00Z');
    await t.ok(secret, CREATE, {
      i: {
        name: 'poison',
        event: 'go',
        steps: [
          { channel: 'EMAIL', template: { subject: 's', body: 'a{{ "%00" | url_decode }}b' } },
        ],
      },
    });
    await t.ok(
      secret,
      `mutation { identify(input: { externalId: "p", email: "p@example.com" }) { id } }`,
    );
    const tracked = await t.request(secret, TRACK, { i: { customerExternalId: 'p', event: 'go' } });
    expect(tracked.errors).toBeUndefined();

    const messages = await t.ok<any>(secret, `{ messages { edges { node { status failure } } } }`);
    expect(messages.messages.edges[0].node.status).toBe('FAILED');
    expect(messages.messages.edges[0].node.failure).toMatch(/^RENDER_ERROR/);
    expect((await t.setClock('2025-04-01T09:00:00Z')).now).toBe('2025-04-01T09:00:00.000Z');
  });

  it('a timer whose effect keeps failing is retried, then parked as FAILED, while others fire', async () => {
    const { secret, tenantId } = await t.createTenant('broken-version');
    await t.setClock('2025-04-02T08:00:00Z');
    await t.ok<any>(secret, CREATE, {
      i: {
        name: 'later',
        event: 'go',
        steps: [{ delay: 'PT1H', channel: 'EMAIL', template: { subject: 's', body: 'b' } }],
      },
    });
    const healthy = await t.createTenant('healthy');
    await t.ok(healthy.secret, CREATE, {
      i: {
        name: 'later',
        event: 'go',
        steps: [{ delay: 'PT1H', channel: 'EMAIL', template: { subject: 's', body: 'ok' } }],
      },
    });
    await t.ok(
      healthy.secret,
      `mutation { identify(input: { externalId: "h", email: "h@example.com" }) { id } }`,
    );
    await t.ok(secret, TRACK, { i: { customerExternalId: 'x', event: 'go' } });
    await t.ok(healthy.secret, TRACK, { i: { customerExternalId: 'h', event: 'go' } });
    // Point the run at a trigger version that does not exist, underneath the engine.
    await t.nudge.db.dataSource.query(
      'UPDATE enrollments SET trigger_version = 999 WHERE tenant_id = $1',
      [tenantId],
    );

    await t.setClock('2025-04-02T09:00:00Z');
    const healthyMessages = await t.ok<any>(
      healthy.secret,
      `{ messages { edges { node { status } } } }`,
    );
    expect(healthyMessages.messages.edges.map((e: any) => e.node.status)).toEqual(['SENT']);

    for (let minute = 1; minute <= 6; minute++) {
      await t.setClock(`2025-04-02T09:0${minute}:00Z`);
    }
    const [timer] = await t.nudge.db.dataSource.query(
      `SELECT state, attempts, last_error FROM timers WHERE tenant_id = $1 AND kind = 'STEP'`,
      [tenantId],
    );
    expect(timer).toMatchObject({ state: 'FAILED', attempts: 5 });
    expect(timer.last_error).toMatch(/missing/);
  });

  it('a property nested 5,000 levels deep is BAD_USER_INPUT, not an internal error', async () => {
    const { secret } = await t.createTenant('deep-input');
    // Written as text: building it as an object would overflow this test's own stack.
    const deep = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);
    const body = `{"query":${JSON.stringify(TRACK)},"variables":{"i":{"customerExternalId":"o","event":"e","properties":${deep}}}}`;
    const response = await fetch(t.nudge.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${secret}` },
      body,
    });
    const result = (await response.json()) as any;
    expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0].extensions?.field).toMatch(/^input\.properties/);
    expect((await t.ok<any>(secret, `{ customer(externalId: "o") { id } }`)).customer).toBeNull();
  });

  it.each([
    ['an unpaired surrogate in a property', { note: 'x\ud800y' }, /^input\.properties\.note$/],
    ['an unpaired surrogate in a key', { ['k\udc00']: 1 }, /^input\.properties/],
  ])('%s is BAD_USER_INPUT, not an internal error', async (_label, properties, field) => {
    const { secret } = await t.createTenant('odd-input');
    const result = await t.request(secret, TRACK, {
      i: { customerExternalId: 'o', event: 'e', properties },
    });
    expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0].extensions?.field).toMatch(field);
    expect((await t.ok<any>(secret, `{ customer(externalId: "o") { id } }`)).customer).toBeNull();
  });

  it('a cursor beyond the id range is BAD_USER_INPUT', async () => {
    const { secret } = await t.createTenant('cursor');
    const after = Buffer.from('seq:9999999999999999999').toString('base64url');
    const result = await t.request(
      secret,
      `query($a: String) { triggers(after: $a) { edges { cursor } } }`,
      { a: after },
    );
    expect(result.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });

  it('a renamed trigger renders its new name without a new version', async () => {
    const { secret } = await t.createTenant('rename');
    await t.setClock('2025-04-03T08:00:00Z');
    await t.ok(
      secret,
      `mutation { identify(input: { externalId: "r", email: "r@example.com" }) { id } }`,
    );
    const created = await t.ok<any>(secret, CREATE, {
      i: {
        name: 'Old name',
        event: 'go',
        steps: [{ channel: 'EMAIL', template: { subject: '{{ trigger.name }}', body: 'b' } }],
      },
    });
    await t.ok(secret, TRACK, { i: { customerExternalId: 'r', event: 'go' } });
    await t.ok(
      secret,
      `mutation($id: ID!) { updateTrigger(id: $id, input: { name: "New name" }) { version } }`,
      {
        id: created.createTrigger.id,
      },
    );
    await t.ok(secret, TRACK, { i: { customerExternalId: 'r', event: 'go' } });
    const messages = await t.ok<any>(secret, `{ messages { edges { node { subject } } } }`);
    expect(messages.messages.edges.map((e: any) => e.node.subject)).toEqual([
      'Old name',
      'New name',
    ]);
  });
});

describe('a slow tenant endpoint does not delay other tenants', () => {
  let t: TestNudge;
  let sink: SmtpSink;
  let blackhole: net.Server;
  const sockets: net.Socket[] = [];

  beforeAll(async () => {
    sink = new SmtpSink();
    await sink.start();
    blackhole = net.createServer((socket) => sockets.push(socket)); // accepts, never answers
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', () => resolve()));
    t = await startTestNudge({
      smtp: sink,
      env: { NUDGE_CLOCK: 'system', NUDGE_TIMER_POLL_MS: '10' },
    });
  });
  afterAll(async () => {
    // Refuse new connections first, so queued deliveries fail fast instead of hanging.
    const closed = new Promise<void>((resolve) => blackhole.close(() => resolve()));
    sockets.forEach((s) => s.destroy());
    await t.stop();
    await closed;
    await sink.stop();
  }, 60_000);

  it('ten hanging webhooks of one tenant leave another tenant’s email on time', async () => {
    const slow = await t.createTenant('slow');
    const port = (blackhole.address() as net.AddressInfo).port;
    await t.ok(
      slow.secret,
      `mutation($u: String!) { updateTenantSettings(input: { webhookUrl: $u }) { id } }`,
      {
        u: `http://127.0.0.1:${port}/hook`,
      },
    );
    await t.ok(slow.secret, CREATE, {
      i: { name: 'hook', event: 'go', steps: [{ channel: 'WEBHOOK', template: { body: 'x' } }] },
    });
    const fast = await t.createTenant('fast');
    const address = `fast-${Date.now()}@example.com`;
    await t.ok(
      fast.secret,
      `mutation($e: String!) { identify(input: { externalId: "f", email: $e }) { id } }`,
      { e: address },
    );
    await t.ok(fast.secret, CREATE, {
      i: {
        name: 'mail',
        event: 'go',
        steps: [{ delay: 'PT0.5S', channel: 'EMAIL', template: { subject: 's', body: 'b' } }],
      },
    });

    for (let i = 0; i < 10; i++)
      await t.ok(slow.secret, TRACK, { i: { customerExternalId: `s${i}`, event: 'go' } });
    const startedMs = Date.now();
    await t.ok(fast.secret, TRACK, { i: { customerExternalId: 'f', event: 'go' } });

    while (!sink.received.some((m) => m.to[0] === address) && Date.now() - startedMs < 9_000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(sink.received.some((m) => m.to[0] === address)).toBe(true);
    expect(Date.now() - startedMs).toBeLessThan(5_000);
  });
});
