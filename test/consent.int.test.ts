import { randomBytes } from 'node:crypto';
import { startTestNudge, type TestNudge } from './support/harness';
import {
  createApiKey,
  createTenantWithKey,
  expectGraphQLError,
  uniq,
} from './support/graphql-helpers';
import { identifyWith, trackAs } from './support/scenario';
import {
  latestPushSubscription,
  prunePushSubscription,
} from '../src/engine/consent/push-subscriptions';

/**
 * Consent (issue #4, field case C13): an append-only log per customer, channel and purpose
 * whose latest record by occurredAt is current; and Web Push subscriptions. Everything through
 * GraphQL on the manual clock, except the two engine functions the PUSH channel calls.
 */

const NOW = '2025-04-14T09:00:00.000Z';

const GRANT = `mutation($input: ConsentInput!) {
  grantConsent(input: $input) { channel purpose granted source occurredAt recordedAt }
}`;
const REVOKE = `mutation($input: ConsentInput!) {
  revokeConsent(input: $input) { channel purpose granted source occurredAt recordedAt }
}`;
const CONSENTS = `query($externalId: String!) {
  customer(externalId: $externalId) {
    consents { channel purpose granted source occurredAt recordedAt }
    pushSubscriptions { id endpoint createdAt prunedAt }
  }
}`;
const REGISTER = `mutation($input: RegisterPushSubscriptionInput!) {
  registerPushSubscription(input: $input) { id endpoint createdAt prunedAt }
}`;
const UNREGISTER = `mutation($endpoint: String!) {
  unregisterPushSubscription(endpoint: $endpoint) { id endpoint createdAt prunedAt }
}`;

interface Consent {
  channel: string;
  purpose: string;
  granted: boolean;
  source: string;
  occurredAt: string;
  recordedAt: string;
}

/** A browser subscription as PushSubscription.toJSON() gives it. */
function browserSubscription(): { endpoint: string; keys: { p256dh: string; auth: string } } {
  const key = Buffer.concat([Buffer.from([4]), randomBytes(64)]);
  return {
    endpoint: `https://push.example.test/send/${uniq()}`,
    keys: { p256dh: key.toString('base64url'), auth: randomBytes(16).toString('base64url') },
  };
}

describe('consent and push subscriptions', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  /** A fresh tenant with customer cust-1, on a definite clock. */
  async function tenant(): Promise<{ tenantId: string; secret: string }> {
    const created = await createTenantWithKey(t, `consent-${uniq()}`);
    await t.setClock(NOW);
    await identifyWith(t, created.secret, { externalId: 'cust-1' });
    return created;
  }

  async function consentsOf(secret: string, externalId = 'cust-1'): Promise<Consent[]> {
    const data = await t.ok<any>(secret, CONSENTS, { externalId });
    return data.customer.consents;
  }

  async function grant(secret: string, input: Record<string, unknown>): Promise<Consent> {
    return (await t.ok<any>(secret, GRANT, { input: input })).grantConsent;
  }

  async function revoke(secret: string, input: Record<string, unknown>): Promise<Consent> {
    return (await t.ok<any>(secret, REVOKE, { input: input })).revokeConsent;
  }

  /** Polls PostgreSQL until some statement waits on a row lock of `customers`. */
  async function waitForLockWait(): Promise<void> {
    for (let attempt = 0; attempt < 500; attempt++) {
      const [row] = await t.nudge.db.asSystem((tx) =>
        tx.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock'
             AND query LIKE '%customers%FOR UPDATE%'`,
        ),
      );
      if ((row as { n: number }).n > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error('no statement ever waited for the customer row lock');
  }

  describe('grant and revoke', () => {
    it('round trip: a grant, then a revocation, each becomes the current state', async () => {
      const { secret } = await tenant();
      const base = { customerExternalId: 'cust-1', channel: 'EMAIL', purpose: 'MARKETING' };
      expect(await consentsOf(secret)).toEqual([]);

      const granted = await grant(secret, { ...base, source: 'checkout checkbox' });
      expect(granted).toEqual({
        channel: 'EMAIL',
        purpose: 'MARKETING',
        granted: true,
        source: 'checkout checkbox',
        occurredAt: NOW,
        recordedAt: NOW,
      });
      expect(await consentsOf(secret)).toEqual([granted]);

      await t.setClock('2025-04-14T12:00:00.000Z');
      const revoked = await revoke(secret, { ...base, source: 'unsubscribe link' });
      expect(revoked).toMatchObject({ granted: false, occurredAt: '2025-04-14T12:00:00.000Z' });
      expect(await consentsOf(secret)).toEqual([revoked]);
    });

    it('the latest occurredAt wins: an older revocation arriving after a newer grant does not undo it', async () => {
      const { secret } = await tenant();
      const base = { customerExternalId: 'cust-1', channel: 'SMS', purpose: 'MARKETING' };
      await grant(secret, { ...base, source: 'sms keyword', occurredAt: '2025-04-14T08:00:00Z' });

      const late = await revoke(secret, {
        ...base,
        source: 'import from old CRM',
        occurredAt: '2025-04-13T10:00:00Z',
      });
      // The revocation is recorded and returned as such ...
      expect(late).toMatchObject({ granted: false, occurredAt: '2025-04-13T10:00:00.000Z' });
      // ... but the grant occurred later, so it stays current.
      expect(await consentsOf(secret)).toEqual([
        expect.objectContaining({ granted: true, source: 'sms keyword' }),
      ]);

      await revoke(secret, { ...base, source: 'STOP', occurredAt: '2025-04-14T08:30:00Z' });
      await grant(secret, { ...base, source: 'old form', occurredAt: '2025-04-14T08:10:00Z' });
      expect(await consentsOf(secret)).toEqual([
        expect.objectContaining({ granted: false, source: 'STOP' }),
      ]);
    });

    it('C13: each channel and purpose stands alone; an email opt-out leaves SMS and PUSH as they were', async () => {
      const { secret } = await tenant();
      const ref = { customerExternalId: 'cust-1', source: 'preference center' };
      for (const channel of ['EMAIL', 'SMS', 'PUSH']) {
        await grant(secret, { ...ref, channel, purpose: 'MARKETING' });
      }
      await t.setClock('2025-04-14T12:00:00.000Z');
      await revoke(secret, { ...ref, channel: 'EMAIL', purpose: 'MARKETING' });
      await revoke(secret, { ...ref, channel: 'SMS', purpose: 'TRANSACTIONAL' });

      const current = await consentsOf(secret);
      const state = Object.fromEntries(
        current.map((c) => [`${c.channel}/${c.purpose}`, c.granted]),
      );
      expect(state).toEqual({
        'EMAIL/MARKETING': false,
        'PUSH/MARKETING': true,
        'SMS/MARKETING': true,
        'SMS/TRANSACTIONAL': false,
      });
    });

    it('an occurredAt too far ahead of the service clock, or before 2000, is refused', async () => {
      const { secret } = await tenant();
      const base = {
        customerExternalId: 'cust-1',
        channel: 'EMAIL',
        purpose: 'MARKETING',
        source: 'x',
      };
      for (const occurredAt of ['2025-04-16T09:00:01Z', '1999-12-31T23:59:59Z']) {
        expectGraphQLError(
          await t.request(secret, GRANT, { input: { ...base, occurredAt } }),
          'BAD_USER_INPUT',
          'input.occurredAt',
        );
      }
      // Within the default skew of 24 hours: accepted.
      await grant(secret, { ...base, occurredAt: '2025-04-15T09:00:00Z' });
    });
    it('waits for the customer row lock, the engine’s first lock, so it is serialised with a step', async () => {
      const { tenantId, secret } = await tenant();
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let signalLocked!: () => void;
      const locked = new Promise<void>((resolve) => (signalLocked = resolve));
      // Stands in for a step being processed: it holds the customer row until released.
      const step = t.nudge.db.withTenant(tenantId, async (tx) => {
        await tx.query(`SELECT id FROM customers WHERE external_id = 'cust-1' FOR UPDATE`);
        signalLocked();
        await released;
      });
      await locked;

      let isDone = false;
      const revoking = revoke(secret, {
        customerExternalId: 'cust-1',
        channel: 'SMS',
        purpose: 'MARKETING',
        source: 'STOP',
      }).then(() => (isDone = true));
      await waitForLockWait();
      expect(isDone).toBe(false);

      release();
      await step;
      await revoking;
      expect(await consentsOf(secret)).toEqual([expect.objectContaining({ granted: false })]);
    });
  });

  describe('customers', () => {
    it('an unknown customer is NOT_FOUND, and is not created', async () => {
      const { secret } = await tenant();
      const response = await t.request(secret, GRANT, {
        input: {
          customerExternalId: 'nobody',
          channel: 'EMAIL',
          purpose: 'MARKETING',
          source: 'x',
        },
      });
      expectGraphQLError(response, 'NOT_FOUND', 'input.customerExternalId');
      const lookup = await t.ok<any>(secret, `{ customer(externalId: "nobody") { id } }`);
      expect(lookup.customer).toBeNull();

      expectGraphQLError(
        await t.request(secret, REVOKE, {
          input: { anonymousId: 'anon-nobody', channel: 'SMS', purpose: 'MARKETING', source: 'x' },
        }),
        'NOT_FOUND',
        'input.anonymousId',
      );
    });

    it('another tenant’s customer is NOT_FOUND', async () => {
      const alpha = await tenant();
      const beta = await createTenantWithKey(t, `beta-${uniq()}`);
      await identifyWith(t, beta.secret, { externalId: 'only-in-beta' });

      const response = await t.request(alpha.secret, GRANT, {
        input: {
          customerExternalId: 'only-in-beta',
          channel: 'EMAIL',
          purpose: 'MARKETING',
          source: 'x',
        },
      });
      expectGraphQLError(response, 'NOT_FOUND', 'input.customerExternalId');
      expect(await consentsOf(beta.secret, 'only-in-beta')).toEqual([]);
    });

    it('consent given while anonymous moves to the customer on merge; the latest record wins', async () => {
      const { secret } = await tenant();
      await revoke(secret, {
        customerExternalId: 'cust-1',
        channel: 'EMAIL',
        purpose: 'MARKETING',
        source: 'account settings',
        occurredAt: '2025-04-14T08:00:00Z',
      });
      await trackAs(t, secret, { anonymousId: 'anon-1', event: 'page_viewed' });
      await grant(secret, {
        anonymousId: 'anon-1',
        channel: 'EMAIL',
        purpose: 'MARKETING',
        source: 'newsletter box',
        occurredAt: '2025-04-14T08:30:00Z',
      });
      await grant(secret, {
        anonymousId: 'anon-1',
        channel: 'PUSH',
        purpose: 'MARKETING',
        source: 'browser prompt',
      });
      const browser = browserSubscription();
      await t.ok(secret, REGISTER, { input: { anonymousId: 'anon-1', ...browser } });

      await identifyWith(t, secret, { externalId: 'cust-1', anonymousId: 'anon-1' });

      const data = await t.ok<any>(secret, CONSENTS, { externalId: 'cust-1' });
      const state = Object.fromEntries(
        data.customer.consents.map((c: Consent) => [c.channel, [c.granted, c.source]]),
      );
      expect(state).toEqual({
        EMAIL: [true, 'newsletter box'],
        PUSH: [true, 'browser prompt'],
      });
      expect(data.customer.pushSubscriptions.map((s: any) => s.endpoint)).toEqual([
        browser.endpoint,
      ]);
    });
  });

  describe('validation', () => {
    const valid = {
      customerExternalId: 'cust-1',
      channel: 'EMAIL',
      purpose: 'MARKETING',
      source: 'x',
    };

    it.each([
      ['an unknown channel', 'input.channel', { channel: 'FAX' }],
      ['an unknown purpose', 'input.purpose', { purpose: 'PROMOTIONAL' }],
      ['an empty source', 'input.source', { source: '' }],
      ['a blank source', 'input.source', { source: '   ' }],
      ['a source over 100 characters', 'input.source', { source: 'x'.repeat(101) }],
      ['no customer reference', 'input.customerExternalId', { customerExternalId: null }],
      ['two customer references', 'input.customerExternalId', { anonymousId: 'anon-1' }],
    ])('%s → BAD_USER_INPUT at %s', async (_what, field, change) => {
      const { secret } = await tenant();
      const response = await t.request(secret, GRANT, { input: { ...valid, ...change } });
      expectGraphQLError(response, 'BAD_USER_INPUT', field);
      expect(await consentsOf(secret)).toEqual([]);
    });

    it('a source of exactly 100 characters is accepted', async () => {
      const { secret } = await tenant();
      const record = await grant(secret, { ...valid, source: 'y'.repeat(100) });
      expect(record.source).toHaveLength(100);
    });
  });

  describe('scopes', () => {
    it('an INGEST key may grant, revoke and register a push subscription; reading needs READ', async () => {
      const { secret } = await tenant();
      const ingest = await createApiKey(t, secret, ['INGEST']);
      const input = { ...{ customerExternalId: 'cust-1', channel: 'SMS', purpose: 'MARKETING' } };

      await grant(ingest.secret, { ...input, source: 'shop backend' });
      await revoke(ingest.secret, { ...input, source: 'shop backend' });
      await t.ok(ingest.secret, REGISTER, {
        input: { customerExternalId: 'cust-1', ...browserSubscription() },
      });
      expectGraphQLError(
        await t.request(ingest.secret, CONSENTS, { externalId: 'cust-1' }),
        'FORBIDDEN',
      );

      const write = await createApiKey(t, secret, ['WRITE']);
      await grant(write.secret, { ...input, source: 'dashboard' });

      const read = await createApiKey(t, secret, ['READ']);
      expectGraphQLError(
        await t.request(read.secret, GRANT, { input: { ...input, source: 'x' } }),
        'FORBIDDEN',
      );
      expect(await consentsOf(read.secret)).toEqual([
        expect.objectContaining({ channel: 'SMS', granted: true, source: 'dashboard' }),
      ]);
    });
  });

  describe('push subscriptions', () => {
    it('register, list without keys, re-register the endpoint for another customer, unregister', async () => {
      const { tenantId, secret } = await tenant();
      await identifyWith(t, secret, { externalId: 'cust-2' });
      const browser = browserSubscription();

      const first = (
        await t.ok<any>(secret, REGISTER, { input: { customerExternalId: 'cust-1', ...browser } })
      ).registerPushSubscription;
      expect(first).toEqual({
        id: expect.any(String),
        endpoint: browser.endpoint,
        createdAt: NOW,
        prunedAt: null,
      });
      expect(
        (await t.ok<any>(secret, CONSENTS, { externalId: 'cust-1' })).customer.pushSubscriptions,
      ).toEqual([first]);

      // The same browser, now logged in as cust-2: the endpoint moves, keeping its id.
      await t.setClock('2025-04-14T10:00:00.000Z');
      const moved = (
        await t.ok<any>(secret, REGISTER, { input: { customerExternalId: 'cust-2', ...browser } })
      ).registerPushSubscription;
      expect(moved).toEqual({ ...first, createdAt: '2025-04-14T10:00:00.000Z' });
      expect(
        (await t.ok<any>(secret, CONSENTS, { externalId: 'cust-1' })).customer.pushSubscriptions,
      ).toEqual([]);
      expect(
        (await t.ok<any>(secret, CONSENTS, { externalId: 'cust-2' })).customer.pushSubscriptions,
      ).toEqual([moved]);

      await t.setClock('2025-04-14T11:00:00.000Z');
      const gone = (await t.ok<any>(secret, UNREGISTER, { endpoint: browser.endpoint }))
        .unregisterPushSubscription;
      expect(gone.prunedAt).toBe('2025-04-14T11:00:00.000Z');
      expect(
        (await t.ok<any>(secret, CONSENTS, { externalId: 'cust-2' })).customer.pushSubscriptions,
      ).toEqual([]);
      // Idempotent: the first pruning time stays.
      await t.setClock('2025-04-14T11:30:00.000Z');
      const again = (await t.ok<any>(secret, UNREGISTER, { endpoint: browser.endpoint }))
        .unregisterPushSubscription;
      expect(again.prunedAt).toBe('2025-04-14T11:00:00.000Z');

      // Registering a pruned endpoint again makes it live.
      const revived = (
        await t.ok<any>(secret, REGISTER, { input: { customerExternalId: 'cust-2', ...browser } })
      ).registerPushSubscription;
      expect(revived).toMatchObject({ id: first.id, prunedAt: null });

      const engineView = await t.nudge.db.withTenant(tenantId, async (tx) => {
        const customerId = (
          await tx.query(`SELECT id FROM customers WHERE external_id = 'cust-2'`)
        )[0].id;
        return latestPushSubscription(tx, tenantId, customerId);
      });
      expect(engineView).toEqual({ id: first.id, endpoint: browser.endpoint, keys: browser.keys });
    });

    it('the engine sees the newest live subscription, and a pruned one no more', async () => {
      const { tenantId, secret } = await tenant();
      const older = browserSubscription();
      const newer = browserSubscription();
      await t.ok(secret, REGISTER, { input: { customerExternalId: 'cust-1', ...older } });
      await t.setClock('2025-04-14T09:05:00.000Z');
      const registered = await t.ok<any>(secret, REGISTER, {
        input: { customerExternalId: 'cust-1', ...newer },
      });
      const newerId = registered.registerPushSubscription.id;

      const latest = () =>
        t.nudge.db.withTenant(tenantId, async (tx) => {
          const [{ id }] = await tx.query(`SELECT id FROM customers WHERE external_id = 'cust-1'`);
          return latestPushSubscription(tx, tenantId, id);
        });
      expect((await latest())?.endpoint).toBe(newer.endpoint);

      const pruned = await t.nudge.db.withTenant(tenantId, async (tx) => [
        await prunePushSubscription(tx, tenantId, newerId, Date.parse('2025-04-14T09:10:00Z')),
        await prunePushSubscription(tx, tenantId, newerId, Date.parse('2025-04-14T09:20:00Z')),
      ]);
      expect(pruned).toEqual([true, false]);
      expect((await latest())?.endpoint).toBe(older.endpoint);
      const listed = (await t.ok<any>(secret, CONSENTS, { externalId: 'cust-1' })).customer
        .pushSubscriptions;
      expect(listed.map((s: any) => s.endpoint)).toEqual([older.endpoint]);
    });

    const auth = randomBytes(16).toString('base64url');
    const p256dh = browserSubscription().keys.p256dh;
    it.each<[string, string, Record<string, unknown>]>([
      ['an endpoint that is not a URL', 'input.endpoint', { endpoint: 'not a url' }],
      ['an ftp endpoint', 'input.endpoint', { endpoint: 'ftp://push.example.test/x' }],
      [
        'a p256dh of the wrong length',
        'input.keys.p256dh',
        { keys: { p256dh: randomBytes(32).toString('base64url'), auth } },
      ],
      ['a p256dh that is not base64url', 'input.keys.p256dh', { keys: { p256dh: '!!!', auth } }],
      [
        'an auth of the wrong length',
        'input.keys.auth',
        { keys: { p256dh, auth: randomBytes(12).toString('base64url') } },
      ],
    ])('%s → BAD_USER_INPUT at %s', async (_what, field, change) => {
      const { secret } = await tenant();
      const response = await t.request(secret, REGISTER, {
        input: { customerExternalId: 'cust-1', ...browserSubscription(), ...change },
      });
      expectGraphQLError(response, 'BAD_USER_INPUT', field);
    });

    it('an unknown customer or endpoint is NOT_FOUND', async () => {
      const { secret } = await tenant();
      expectGraphQLError(
        await t.request(secret, REGISTER, {
          input: { customerExternalId: 'nobody', ...browserSubscription() },
        }),
        'NOT_FOUND',
        'input.customerExternalId',
      );
      expectGraphQLError(
        await t.request(secret, UNREGISTER, { endpoint: 'https://push.example.test/never' }),
        'NOT_FOUND',
        'endpoint',
      );
    });
  });
});
