import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { startTestNudge, type GraphQLResponse, type TestNudge } from './support/harness';
import {
  createApiKey,
  createTenantWithKey,
  uniq,
  wsClient,
  wsUrlOf,
  type TestTenant,
} from './support/graphql-helpers';

/**
 * Errors over graphql-ws follow the same policy as over HTTP (src/server/format-error.ts):
 * Nudge's own errors and GraphQL's request errors keep a stable `extensions.code`; anything
 * else reaches the client as INTERNAL_SERVER_ERROR with no SQL, driver text or stack.
 * Before, raw messages such as `value "9999999999999999999" is out of range for type bigint`
 * reached ws clients without a code, because Apollo's formatError never sees ws traffic.
 */

/** One query or mutation over the socket: its result, or the errors of an error message. */
function runOnce(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GraphQLResponse> {
  return new Promise((resolve, reject) => {
    let result: GraphQLResponse = {};
    client.subscribe(
      { query, variables },
      {
        next: (value) => {
          result = value as GraphQLResponse;
        },
        error: (err) => (Array.isArray(err) ? resolve({ errors: err }) : reject(err)),
        complete: () => resolve(result),
      },
    );
  });
}

/** Nothing a client could use to learn about our database or code. */
function expectNothingInternal(response: GraphQLResponse): void {
  const text = JSON.stringify(response.errors);
  expect(text).not.toMatch(/connection|select|postgres|typeorm|bigint|\bat \S+\.(js|ts)|stack/i);
  for (const error of response.errors ?? []) {
    expect(error.extensions).not.toHaveProperty('stacktrace');
    expect(error.extensions).not.toHaveProperty('exception');
  }
}

describe('graphql-ws errors are masked like HTTP errors', () => {
  let t: TestNudge;
  let tenant: TestTenant;
  let client: Client;

  beforeAll(async () => {
    t = await startTestNudge();
    tenant = await createTenantWithKey(t, `ws-errors-${uniq()}`);
    client = wsClient(t, tenant.secret);
  });
  afterAll(async () => {
    await client.dispose();
    await t.stop();
  });

  it('answers a valid query over ws (the baseline)', async () => {
    const response = await runOnce(client, `{ tenant { id } }`);

    expect(response.errors).toBeUndefined();
    expect(response.data?.tenant.id).toBe(tenant.tenantId);
  });

  it('gives an unknown field GRAPHQL_VALIDATION_FAILED', async () => {
    const response = await runOnce(client, `{ tenant { id nope } }`);

    expect(response.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('gives a syntax error GRAPHQL_PARSE_FAILED and keeps the socket open', async () => {
    const response = await runOnce(client, `{ tenant { id `);
    expect(response.errors?.[0].extensions?.code).toBe('GRAPHQL_PARSE_FAILED');

    const after = await runOnce(client, `{ tenant { id } }`);
    expect(after.data?.tenant.id).toBe(tenant.tenantId);
  });

  it('gives a variable that does not coerce BAD_USER_INPUT with its field', async () => {
    const response = await runOnce(
      client,
      `query($first: Int) { triggers(first: $first) { edges { cursor } } }`,
      { first: 'many' },
    );

    expect(response.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(response.errors?.[0].extensions?.field).toBe('first');
  });

  it("passes Nudge's own errors through with their extensions", async () => {
    const response = await runOnce(client, `{ triggers(first: 1000) { edges { cursor } } }`);

    expect(response.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'first' });
  });

  it('masks an internal error as INTERNAL_SERVER_ERROR with a request id', async () => {
    // A separate instance whose database goes away under an open connection.
    const broken = await startTestNudge();
    const brokenTenant = await createTenantWithKey(broken, `ws-broken-${uniq()}`);
    // Never used before the database goes: keys are cached by prefix for a few seconds, and a
    // cached key would authenticate without touching the database.
    const unusedKey = await createApiKey(broken, brokenTenant.secret, ['READ']);
    // Not lazy: the socket (authenticated while the database was up) stays open between
    // operations, so the failure happens inside execution, not in onConnect.
    const brokenClient = createClient({
      url: wsUrlOf(broken),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${brokenTenant.secret}` },
      lazy: false,
      retryAttempts: 0,
    });
    try {
      const before = await runOnce(brokenClient, `{ tenant { id } }`);
      expect(before.data?.tenant.id).toBe(brokenTenant.tenantId);
      await broken.nudge.db.dataSource.destroy();

      const response = await runOnce(
        brokenClient,
        `{ triggers { edges { cursor } } customer(externalId: "c1") { id } }`,
      );

      expect(response.errors?.length).toBeGreaterThan(0);
      for (const error of response.errors!) {
        expect(error.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
        expect(error.extensions?.requestId).toEqual(expect.any(String));
        expect(error.message).toBe('internal error; the service logged the details');
      }
      expectNothingInternal(response);

      // A new connection now fails while authenticating: the close reason stays generic.
      const fresh = wsClient(broken, unusedKey.secret);
      // graphql-ws itself prints the (generic) error it closed with.
      const consoleError = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        const closed = (await runOnce(fresh, `{ tenant { id } }`).then(
          (result) => {
            throw new Error(`expected the socket to close, got ${JSON.stringify(result)}`);
          },
          (err: unknown) => err,
        )) as { code: number; reason: string };
        expect(closed.code).toBe(4500);
        expect(closed.reason).toBe('Internal server error');
      } finally {
        consoleError.mockRestore();
        await fresh.dispose();
      }
    } finally {
      await brokenClient.dispose();
      await broken.stop();
    }
  });
});
