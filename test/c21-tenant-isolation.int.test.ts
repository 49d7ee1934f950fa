import type { Client } from 'graphql-ws';
import { OPERATOR_TOKEN, startTestNudge, type TestNudge } from './support/harness';
import {
  collect,
  createTenantWithKey,
  expectGraphQLError,
  uniq,
  wsClient,
  type TestTenant,
} from './support/graphql-helpers';

/**
 * C21 — tenant isolation (docs: shared/cases/field-cases.md). Two tenants with the same
 * customer id, the same idempotency key and the same trigger: neither may see, change,
 * reference or collide with the other's data — through the API, through subscriptions, nor
 * underneath the code (PostgreSQL row-level security).
 */

const TENANT_TABLES = [
  'customers',
  'events',
  'triggers',
  'trigger_versions',
  'enrollments',
  'timers',
  'messages',
  'api_keys',
  'decisions',
  'customer_aliases',
  'consent_records',
  'push_subscriptions',
  'message_events',
  'conversions',
] as const;

const CREATE_TRIGGER = `mutation($input: CreateTriggerInput!) { createTrigger(input: $input) { id } }`;
const IDENTIFY = `mutation($input: IdentifyInput!) { identify(input: $input) { id } }`;
const TRACK = `mutation($input: TrackInput!) { track(input: $input) { eventId duplicate } }`;
const GRANT_CONSENT = `mutation($input: ConsentInput!) { grantConsent(input: $input) { granted } }`;
const REGISTER_PUSH = `mutation($input: RegisterPushSubscriptionInput!) {
  registerPushSubscription(input: $input) { id }
}`;

const CART_TRIGGER = {
  name: 'cart reminder',
  event: 'added_to_cart',
  unless: { event: 'purchase', within: 'PT2H' },
  steps: [
    {
      channel: 'EMAIL',
      template: {
        subject: 'Hi {{ customer.traits.firstName }}',
        body: 'Hi {{ customer.traits.firstName }}, your cart is waiting',
      },
    },
  ],
};

interface Side extends TestTenant {
  email: string;
  firstName: string;
  triggerId: string;
  customerId: string;
}

interface Pair {
  alpha: Side;
  beta: Side;
}

describe('C21 tenant isolation', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  /** Fresh alpha and beta, each with cust-42 and an identical trigger definition. */
  async function setUpPair(trigger: Record<string, unknown> = CART_TRIGGER): Promise<Pair> {
    const run = uniq();
    const side = async (name: string, firstName: string): Promise<Side> => {
      const tenant = await createTenantWithKey(t, `t-${name}-${run}`);
      const email = `${firstName.toLowerCase()}.${run}@${name}.example`;
      const identified = await t.ok<any>(tenant.secret, IDENTIFY, {
        input: { externalId: 'cust-42', email, traits: { firstName } },
      });
      const created = await t.ok<any>(tenant.secret, CREATE_TRIGGER, { input: trigger });
      return {
        ...tenant,
        email,
        firstName,
        triggerId: created.createTrigger.id,
        customerId: identified.identify.id,
      };
    };
    return { alpha: await side('alpha', 'Lina'), beta: await side('beta', 'Omar') };
  }

  /** C21 step 1: both tenants track the same event with the same messageId; deadline passes. */
  async function runCartScenario(): Promise<Pair & { eventIds: { alpha: string; beta: string } }> {
    await t.setClock('2025-07-07T09:00:00Z');
    const pair = await setUpPair();
    await t.setClock('2025-07-07T10:00:00Z');
    const track = { customerExternalId: 'cust-42', event: 'added_to_cart', messageId: 'm-0001' };
    const alphaTrack = await t.ok<any>(pair.alpha.secret, TRACK, { input: track });
    const betaTrack = await t.ok<any>(pair.beta.secret, TRACK, { input: track });
    expect(alphaTrack.track.duplicate).toBe(false);
    expect(betaTrack.track.duplicate).toBe(false);
    await t.setClock('2025-07-07T12:00:00Z');
    await t.smtp.settle();
    return {
      ...pair,
      eventIds: { alpha: alphaTrack.track.eventId, beta: betaTrack.track.eventId },
    };
  }

  const MESSAGES = `query($triggerId: ID, $customerExternalId: String) {
    messages(triggerId: $triggerId, customerExternalId: $customerExternalId) {
      edges { node { id to status trigger { id } customer { id externalId traits } } }
    }
  }`;

  describe('same customer id and same messageId in two tenants', () => {
    it('stores both events: the messageId dedupe namespace is per tenant', async () => {
      const { alpha, beta, eventIds } = await runCartScenario();

      expect(eventIds.alpha).not.toBe(eventIds.beta);
      const EVENTS = `{ customer(externalId: "cust-42") { events { edges { node { id name messageId } } } } }`;
      for (const [side, eventId] of [
        [alpha, eventIds.alpha],
        [beta, eventIds.beta],
      ] as const) {
        const data = await t.ok<any>(side.secret, EVENTS);
        const events = data.customer.events.edges.map((e: any) => e.node);
        expect(events).toEqual([{ id: eventId, name: 'added_to_cart', messageId: 'm-0001' }]);
      }
    });

    it('a retry of m-0001 in beta is a duplicate of beta’s own event, never of alpha’s', async () => {
      const { beta, eventIds } = await runCartScenario();

      const retry = await t.ok<any>(beta.secret, TRACK, {
        input: { customerExternalId: 'cust-42', event: 'added_to_cart', messageId: 'm-0001' },
      });

      expect(retry.track).toEqual({ eventId: eventIds.beta, duplicate: true });
    });

    it('each tenant’s trigger emails its own cust-42, rendered with its own traits', async () => {
      const { alpha, beta } = await runCartScenario();

      const toAlpha = t.smtp.received.filter((m) => m.to.includes(alpha.email));
      const toBeta = t.smtp.received.filter((m) => m.to.includes(beta.email));
      expect(toAlpha).toHaveLength(1);
      expect(toBeta).toHaveLength(1);
      expect(toAlpha[0].to).toEqual([alpha.email]);
      expect(toBeta[0].to).toEqual([beta.email]);
      expect(toAlpha[0].subject).toBe('Hi Lina');
      expect(toBeta[0].subject).toBe('Hi Omar');
    });

    it('each tenant’s messages list holds exactly its own message', async () => {
      const { alpha, beta } = await runCartScenario();

      for (const side of [alpha, beta]) {
        const data = await t.ok<any>(side.secret, MESSAGES);
        const nodes = data.messages.edges.map((e: any) => e.node);
        expect(nodes).toHaveLength(1);
        expect(nodes[0]).toMatchObject({
          to: side.email,
          status: 'SENT',
          trigger: { id: side.triggerId },
          customer: {
            id: side.customerId,
            externalId: 'cust-42',
            traits: { firstName: side.firstName },
          },
        });
      }
    });
  });

  describe('direct look-ups of another tenant’s ids with beta’s key', () => {
    it('trigger(id: <alpha trigger>) is null, as for an id that does not exist', async () => {
      const { alpha, beta } = await setUpPair();
      const QUERY = `query($id: ID!) { trigger(id: $id) { id name } }`;

      const own = await t.ok<any>(alpha.secret, QUERY, { id: alpha.triggerId });
      expect(own.trigger).toMatchObject({ id: alpha.triggerId });

      const foreign = await t.request<any>(beta.secret, QUERY, { id: alpha.triggerId });
      expect(foreign.errors).toBeUndefined();
      expect(foreign.data?.trigger).toBeNull();
    });

    it('updateTrigger(id: <alpha trigger>) is NOT_FOUND and leaves alpha’s trigger unchanged', async () => {
      const { alpha, beta } = await setUpPair();
      const UPDATE = `mutation($id: ID!, $input: UpdateTriggerInput!) {
        updateTrigger(id: $id, input: $input) { id name status version }
      }`;

      const foreign = await t.request<any>(beta.secret, UPDATE, {
        id: alpha.triggerId,
        input: { name: 'hijacked', status: 'PAUSED' },
      });
      expectGraphQLError(foreign, 'NOT_FOUND');

      const missing = await t.request<any>(beta.secret, UPDATE, {
        id: '00000000-0000-4000-8000-000000000000',
        input: { name: 'hijacked' },
      });
      expect(foreign.errors![0].extensions).toEqual(missing.errors![0].extensions);

      const after = await t.ok<any>(
        alpha.secret,
        `query($id: ID!) { trigger(id: $id) { name status version } }`,
        {
          id: alpha.triggerId,
        },
      );
      expect(after.trigger).toEqual({ name: 'cart reminder', status: 'ACTIVE', version: 1 });
    });

    it('revokeApiKey(id: <alpha key>) is NOT_FOUND and alpha’s key keeps working', async () => {
      const { alpha, beta } = await setUpPair();
      const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;

      const foreign = await t.request<any>(beta.secret, REVOKE, { id: alpha.apiKeyId });
      expectGraphQLError(foreign, 'NOT_FOUND');

      const stillWorks = await t.request<any>(alpha.secret, `{ tenant { id } }`);
      expect(stillWorks.errors).toBeUndefined();
      expect(stillWorks.data?.tenant.id).toBe(alpha.tenantId);
    });

    it('messages(triggerId: <alpha trigger>) is empty for beta although alpha has messages', async () => {
      const { alpha, beta } = await runCartScenario();

      const own = await t.ok<any>(alpha.secret, MESSAGES, { triggerId: alpha.triggerId });
      expect(own.messages.edges).toHaveLength(1);

      const foreign = await t.ok<any>(beta.secret, MESSAGES, { triggerId: alpha.triggerId });
      expect(foreign.messages.edges).toEqual([]);
    });

    it('customer(externalId: "cust-42") with beta’s key is beta’s Omar', async () => {
      const { beta } = await setUpPair();

      const data = await t.ok<any>(
        beta.secret,
        `{ customer(externalId: "cust-42") { id email traits } }`,
      );

      expect(data.customer).toEqual({
        id: beta.customerId,
        email: beta.email,
        traits: { firstName: 'Omar' },
      });
    });

    it('nested resolvers (messages → customer, trigger) never show alpha’s rows to beta', async () => {
      const { alpha, beta } = await runCartScenario();

      for (const variables of [{}, { customerExternalId: 'cust-42' }]) {
        const data = await t.ok<any>(beta.secret, MESSAGES, variables);
        const nodes = data.messages.edges.map((e: any) => e.node);
        expect(nodes.length).toBeGreaterThan(0);
        for (const node of nodes) {
          expect(node.customer.traits.firstName).not.toBe('Lina');
          expect(node.customer.id).toBe(beta.customerId);
          expect(node.to).toBe(beta.email);
          expect(node.trigger.id).not.toBe(alpha.triggerId);
        }
      }
    });
  });

  describe('the tenant always comes from the credential', () => {
    it('a tenantId argument on a query is rejected by GraphQL validation', async () => {
      const { alpha, beta } = await setUpPair();

      const response = await t.request<any>(
        beta.secret,
        `query($tenantId: ID!) { customer(externalId: "cust-42", tenantId: $tenantId) { traits } }`,
        { tenantId: alpha.tenantId },
      );

      expectGraphQLError(response, 'GRAPHQL_VALIDATION_FAILED');
      expect(response.data ?? null).toBeNull();
    });

    it('a tenantId field inside a mutation input is rejected and nothing is stored', async () => {
      const { alpha, beta } = await setUpPair();

      const response = await t.request<any>(beta.secret, IDENTIFY, {
        input: {
          externalId: 'cust-43',
          tenantId: alpha.tenantId,
          traits: { firstName: 'Mallory' },
        },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT');
      for (const side of [alpha, beta]) {
        const data = await t.ok<any>(side.secret, `{ customer(externalId: "cust-43") { id } }`);
        expect(data.customer).toBeNull();
      }
    });

    it('an x-tenant-id header is ignored: beta’s key still reads beta’s data', async () => {
      const { alpha, beta } = await setUpPair();

      const response = await fetch(t.nudge.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${beta.secret}`,
          'x-tenant-id': alpha.tenantId,
          'x-nudge-tenant': alpha.tenantId,
        },
        body: JSON.stringify({
          query: `{ tenant { id } customer(externalId: "cust-42") { traits } }`,
        }),
      });
      const body = (await response.json()) as any;

      expect(body.errors).toBeUndefined();
      expect(body.data).toEqual({
        tenant: { id: beta.tenantId },
        customer: { traits: { firstName: 'Omar' } },
      });
    });
  });

  describe('triggerFired subscriptions over graphql-ws', () => {
    const FIRED = `subscription($triggerId: ID) {
      triggerFired(triggerId: $triggerId) { trigger { id name } customer { externalId } enrollmentId firedAt }
    }`;
    const IMMEDIATE_TRIGGER = {
      name: 'welcome',
      event: 'added_to_cart',
      steps: [
        {
          channel: 'EMAIL',
          template: { subject: 'Hi', body: 'Hi {{ customer.traits.firstName }}' },
        },
      ],
    };
    let clients: Client[] = [];

    afterEach(async () => {
      await Promise.all(clients.map((c) => c.dispose()));
      clients = [];
    });

    const open = (secret: string | null): Client => {
      const client = wsClient(t, secret);
      clients.push(client);
      return client;
    };

    /**
     * The server registers a subscription asynchronously after the client sends it; fire
     * probe events for `secret`'s tenant until one arrives, so the subscription is live.
     */
    async function untilLive(
      secret: string,
      received: { waitFor: (p: (i: any) => boolean, ms?: number) => Promise<any> },
    ) {
      for (let attempt = 0; attempt < 50; attempt++) {
        const probe = `probe-${attempt}`;
        await t.ok(secret, TRACK, { input: { customerExternalId: probe, event: 'added_to_cart' } });
        try {
          await received.waitFor(
            (f) => f.triggerFired.customer.externalId.startsWith('probe-'),
            100,
          );
          return;
        } catch {
          // not live yet; probe again
        }
      }
      throw new Error('subscription never became live');
    }

    it('beta receives only beta’s firings when both tenants fire', async () => {
      await t.setClock('2025-07-08T10:00:00Z');
      const { alpha, beta } = await setUpPair(IMMEDIATE_TRIGGER);
      const received = collect<any>(open(beta.secret), FIRED);
      await untilLive(beta.secret, received);

      const alphaFired = collect<any>(open(alpha.secret), FIRED);
      await untilLive(alpha.secret, alphaFired);
      await t.ok(alpha.secret, TRACK, {
        input: { customerExternalId: 'cust-42', event: 'added_to_cart' },
      });
      await alphaFired.waitFor((f) => f.triggerFired.customer.externalId === 'cust-42');
      await t.ok(beta.secret, TRACK, {
        input: { customerExternalId: 'cust-42', event: 'added_to_cart' },
      });
      await received.waitFor((f) => f.triggerFired.customer.externalId === 'cust-42');
      await new Promise((resolve) => setTimeout(resolve, 100));

      expect(received.errors).toEqual([]);
      const triggerIds = new Set(received.items.map((f) => f.triggerFired.trigger.id));
      expect([...triggerIds]).toEqual([beta.triggerId]);
      const real = received.items.filter((f) => f.triggerFired.customer.externalId === 'cust-42');
      expect(real).toHaveLength(1);
    });

    it.each([
      ['a garbage key', 'nk_notarealkey0_000000000000000000000000000000000'],
      ['no key at all', null],
    ])('a connection with %s is closed with 4403 and receives nothing', async (_label, secret) => {
      const received = collect<any>(open(secret), FIRED);

      const error = (await received.waitForError()) as { code?: number };

      expect(error.code).toBe(4403);
      expect(received.items).toEqual([]);
    });

    it('the operator token is not a tenant: its connection is closed with 4403', async () => {
      const received = collect<any>(open(OPERATOR_TOKEN), FIRED);

      const error = (await received.waitForError()) as { code?: number };

      expect(error.code).toBe(4403);
    });

    it('revoking a key closes its open subscription with 4403, and it cannot reconnect', async () => {
      const { beta } = await setUpPair(IMMEDIATE_TRIGGER);
      const reader = await t.ok<any>(
        beta.secret,
        `mutation { createApiKey(input: { name: "dashboard", scopes: [READ] }) { apiKey { id } secret } }`,
      );
      const received = collect<any>(open(reader.createApiKey.secret), FIRED);
      await untilLive(beta.secret, received);

      await t.ok(beta.secret, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, {
        id: reader.createApiKey.apiKey.id,
      });

      expect(((await received.waitForError()) as { code?: number }).code).toBe(4403);
      const again = collect<any>(open(reader.createApiKey.secret), FIRED);
      expect(((await again.waitForError()) as { code?: number }).code).toBe(4403);
    });

    it('the last active ADMIN key cannot be revoked (CONFLICT), so a tenant never locks itself out', async () => {
      const { beta } = await setUpPair(IMMEDIATE_TRIGGER);
      const result = await t.request(
        beta.secret,
        `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`,
        {
          id: beta.apiKeyId,
        },
      );
      expect(result.errors?.[0].extensions?.code).toBe('CONFLICT');
      expect(result.errors?.[0].extensions?.reason).toBe('LAST_ADMIN_KEY');
      await t.ok(beta.secret, `{ tenant { id } }`);
    });

    it('with a triggerId filter, only that trigger’s firings arrive', async () => {
      await t.setClock('2025-07-08T11:00:00Z');
      const { beta } = await setUpPair(IMMEDIATE_TRIGGER);
      const other = await t.ok<any>(beta.secret, CREATE_TRIGGER, {
        input: { ...IMMEDIATE_TRIGGER, name: 'browse', event: 'viewed_product' },
      });
      const received = collect<any>(open(beta.secret), FIRED, { triggerId: beta.triggerId });
      await untilLive(beta.secret, received);

      await t.ok(beta.secret, TRACK, {
        input: { customerExternalId: 'cust-42', event: 'viewed_product' },
      });
      await t.ok(beta.secret, TRACK, {
        input: { customerExternalId: 'cust-42', event: 'added_to_cart' },
      });
      await received.waitFor((f) => f.triggerFired.customer.externalId === 'cust-42');
      await new Promise((resolve) => setTimeout(resolve, 100));

      expect(received.errors).toEqual([]);
      const triggerIds = new Set(received.items.map((f) => f.triggerFired.trigger.id));
      expect([...triggerIds]).toEqual([beta.triggerId]);
      expect(triggerIds.has(other.createTrigger.id)).toBe(false);
    });
  });

  describe('row-level security underneath the application filter', () => {
    let pair: Pair;

    beforeAll(async () => {
      pair = await runCartScenario();
      // An anonymous visitor in each tenant, with the same anonymous id: a customer_aliases row.
      for (const side of [pair.alpha, pair.beta]) {
        await t.ok(side.secret, TRACK, { input: { anonymousId: 'anon-42', event: 'page_viewed' } });
        await t.ok(side.secret, GRANT_CONSENT, {
          input: {
            customerExternalId: 'cust-42',
            channel: 'SMS',
            purpose: 'MARKETING',
            source: 'c21',
          },
        });
        await t.ok(side.secret, REGISTER_PUSH, {
          input: {
            customerExternalId: 'cust-42',
            // The same endpoint in both tenants: unique per tenant, not across them.
            endpoint: 'https://push.example.test/c21',
            keys: {
              p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 7)]).toString('base64url'),
              auth: Buffer.alloc(16, 9).toString('base64url'),
            },
          },
        });
        // An open and a conversion per tenant, written directly: RLS is what is under test.
        await t.nudge.db.asSystem(async (tx) => {
          await tx.query(
            `INSERT INTO message_events (tenant_id, message_id, kind, occurred_at)
             SELECT tenant_id, id, 'OPENED', now() FROM messages WHERE tenant_id = $1 LIMIT 1`,
            [side.tenantId],
          );
          await tx.query(
            `INSERT INTO conversions (tenant_id, enrollment_id, trigger_id, trigger_version,
               customer_id, event_id, started_at, converted_at, recorded_at)
             SELECT tenant_id, id, trigger_id, trigger_version, customer_id, entry_event_id,
               first_entry_at, now(), now()
             FROM enrollments WHERE tenant_id = $1 LIMIT 1
             ON CONFLICT DO NOTHING`,
            [side.tenantId],
          );
        });
      }
    });

    const countAsSystem = async (table: string, tenantId: string): Promise<number> => {
      const column = table === 'tenants' ? 'id' : 'tenant_id';
      const [row] = await t.nudge.db.asSystem((tx) =>
        tx.query(`SELECT count(*)::int AS n FROM ${table} WHERE ${column} = $1`, [tenantId]),
      );
      return (row as { n: number }).n;
    };

    it.each(TENANT_TABLES)(
      'SELECT * FROM %s without a tenant filter returns only beta’s rows',
      async (table) => {
        const { alpha, beta } = pair;
        expect(await countAsSystem(table, alpha.tenantId)).toBeGreaterThan(0);
        const betaCount = await countAsSystem(table, beta.tenantId);
        expect(betaCount).toBeGreaterThan(0);

        const seen = (await t.nudge.db.withTenant(beta.tenantId, (tx) =>
          tx.query(`SELECT * FROM ${table}`),
        )) as Array<{
          tenant_id: string;
        }>;

        expect(seen).toHaveLength(betaCount);
        expect(new Set(seen.map((r) => r.tenant_id))).toEqual(new Set([beta.tenantId]));
      },
    );

    it('SELECT * FROM tenants without a filter returns only beta itself', async () => {
      const { beta } = pair;

      const seen = (await t.nudge.db.withTenant(beta.tenantId, (tx) =>
        tx.query('SELECT id FROM tenants'),
      )) as Array<{
        id: string;
      }>;

      expect(seen).toEqual([{ id: beta.tenantId }]);
    });

    it('customers joined to messages across tenants show no alpha rows to beta', async () => {
      const { beta } = pair;

      const seen = (await t.nudge.db.withTenant(beta.tenantId, (tx) =>
        tx.query(
          `SELECT c.traits->>'firstName' AS first_name FROM messages m JOIN customers c ON c.id = m.customer_id`,
        ),
      )) as Array<{ first_name: string }>;

      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((r) => r.first_name === 'Omar')).toBe(true);
    });

    it.each([
      [
        'customers',
        `INSERT INTO customers (tenant_id, external_id, created_at, updated_at) VALUES ($1, 'rls-probe', now(), now())`,
      ],
      [
        'events',
        `INSERT INTO events (tenant_id, customer_id, name, occurred_at, received_at, message_id, payload_hash)
         VALUES ($1, $2, 'rls-probe', now(), now(), 'rls-probe', 'x')`,
      ],
      [
        'triggers',
        `INSERT INTO triggers (tenant_id, name, event_name, status, version, definition, created_at, updated_at)
         VALUES ($1, 'rls-probe', 'x', 'ACTIVE', 1, '{}'::jsonb, now(), now())`,
      ],
      [
        'api_keys',
        `INSERT INTO api_keys (tenant_id, name, prefix, key_hash, scopes)
         VALUES ($1, 'rls-probe', 'nk_rlsprobe' || substr(md5(random()::text), 1, 8), 'x', '{ADMIN}')`,
      ],
    ])(
      'INSERT into %s with alpha’s tenant_id inside beta’s context fails (WITH CHECK)',
      async (table, sql) => {
        const { alpha, beta } = pair;
        const before = await countAsSystem(table, alpha.tenantId);

        const params = sql.includes('$2') ? [alpha.tenantId, alpha.customerId] : [alpha.tenantId];

        await expect(
          t.nudge.db.withTenant(beta.tenantId, (tx) => tx.query(sql, params)),
        ).rejects.toThrow(/row-level security/);

        expect(await countAsSystem(table, alpha.tenantId)).toBe(before);
      },
    );

    it('INSERT of a new tenant row inside beta’s context fails', async () => {
      const { beta } = pair;

      await expect(
        t.nudge.db.withTenant(beta.tenantId, (tx) =>
          tx.query(`INSERT INTO tenants (name) VALUES ('rls-rogue-tenant') RETURNING id`),
        ),
      ).rejects.toThrow(/row-level security/);

      const [row] = await t.nudge.db.asSystem((tx) =>
        tx.query(`SELECT count(*)::int AS n FROM tenants WHERE name = 'rls-rogue-tenant'`),
      );
      expect((row as { n: number }).n).toBe(0);
    });

    it('moving a beta row to alpha inside beta’s context fails (WITH CHECK on UPDATE)', async () => {
      const { alpha, beta } = pair;

      await expect(
        t.nudge.db.withTenant(beta.tenantId, (tx) =>
          tx.query(`UPDATE customers SET tenant_id = $1 WHERE external_id = 'cust-42'`, [
            alpha.tenantId,
          ]),
        ),
      ).rejects.toThrow(/row-level security/);

      const data = await t.ok<any>(beta.secret, `{ customer(externalId: "cust-42") { id } }`);
      expect(data.customer).toEqual({ id: beta.customerId });
    });

    it('UPDATE and DELETE of alpha’s rows inside beta’s context touch nothing', async () => {
      const { alpha, beta } = pair;

      await t.nudge.db.withTenant(beta.tenantId, async (tx) => {
        await tx.query(
          `UPDATE customers SET traits = '{"firstName":"Hacked"}'::jsonb WHERE tenant_id = $1`,
          [alpha.tenantId],
        );
        await tx.query(`DELETE FROM messages WHERE tenant_id = $1`, [alpha.tenantId]);
      });

      const customer = await t.ok<any>(
        alpha.secret,
        `{ customer(externalId: "cust-42") { traits } }`,
      );
      expect(customer.customer.traits).toEqual({ firstName: 'Lina' });
      expect(await countAsSystem('messages', alpha.tenantId)).toBe(1);
    });
  });
});
