import { startTestNudge, type TestNudge } from './support/harness';
import {
  collect,
  createApiKey,
  createTenantWithKey,
  expectGraphQLError,
  uniq,
  wsClient,
} from './support/graphql-helpers';

/**
 * API keys are looked up once and then kept in memory for a few seconds (ingest must not pay
 * a PostgreSQL round trip per request). Revocation still takes effect at once: on the
 * instance that revoked the key before the mutation answers, and on every other instance
 * sharing the deployment as soon as it hears API_KEY_REVOKED — the same moment its open
 * subscriptions of that key close.
 */

const WHO_AM_I = `{ tenant { id } }`;
const REVOKE = `mutation($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }`;
const FIRED = `subscription { triggerFired { enrollmentId } }`;

describe('API key cache', () => {
  let a: TestNudge;
  let b: TestNudge;

  beforeAll(async () => {
    a = await startTestNudge();
    // A second instance of the same deployment: same database, same Redis prefix.
    b = await startTestNudge({ prefix: a.prefix });
  });

  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  it('a key just used (and cached) is refused by the next request after revokeApiKey answered', async () => {
    const tenant = await createTenantWithKey(a, `cache-${uniq()}`);
    const key = await createApiKey(a, tenant.secret, ['READ']);
    await a.ok(key.secret, WHO_AM_I);
    await a.ok(key.secret, WHO_AM_I);

    await a.ok(tenant.secret, REVOKE, { id: key.id });

    expectGraphQLError(await a.request(key.secret, WHO_AM_I), 'UNAUTHENTICATED');
  });

  it('another instance that cached the key refuses it once the revocation reached it', async () => {
    const tenant = await createTenantWithKey(a, `cache-${uniq()}`);
    const key = await createApiKey(a, tenant.secret, ['READ']);
    expect((await b.ok<any>(key.secret, WHO_AM_I)).tenant.id).toBe(tenant.tenantId);
    // An open subscription on b closes in the same bus handler that forgets the key there.
    const client = wsClient(b, key.secret);
    const connected = new Promise<void>((resolve) => client.on('connected', () => resolve()));
    const received = collect(client, FIRED);
    await connected;

    await a.ok(tenant.secret, REVOKE, { id: key.id });
    expect(((await received.waitForError()) as { code?: number }).code).toBe(4403);

    expectGraphQLError(await b.request(key.secret, WHO_AM_I), 'UNAUTHENTICATED');
    // The tenant's other key is untouched.
    expect((await b.ok<any>(tenant.secret, WHO_AM_I)).tenant.id).toBe(tenant.tenantId);
  });
});
