import { getIntrospectionQuery } from 'graphql';
import { startTestNudge, type GraphQLResponse, type TestNudge } from './support/harness';
import {
  collect,
  createTenantWithKey,
  expectGraphQLError,
  uniq,
  wsClient,
  type TestTenant,
} from './support/graphql-helpers';

/**
 * Request cost limits (src/server/request-limits.ts): depth 7, 10 aliases, 10,000 tokens,
 * 20 directives, one `trackBatch` per document. Without them one request fetched 59 MB of
 * nested connections, stored 100,000 events through aliases, or held the event loop for
 * seconds in the parser.
 */

const TOO_DEEP = `{ messages(first: 100) { edges { node { customer {
  messages(first: 100) { edges { node { body } } } } } } } }`;

/** The deepest query we ship (depth 7). */
const DEEPEST_SHIPPED = `{ messages { edges { node { trigger { steps { template { subject } } } } } } }`;

const CUSTOMER = `query($externalId: String!) { customer(externalId: $externalId) { id } }`;

const aliasedTenants = (count: number): string =>
  `{ ${Array.from({ length: count }, (_, i) => `t${i}: tenant { id }`).join(' ')} }`;

const batchOf = (externalId: string, size: number) =>
  Array.from({ length: size }, (_, i) => ({
    customerExternalId: externalId,
    event: 'page_viewed',
    properties: { n: i },
  }));

interface Answer extends GraphQLResponse {
  status: number;
  ms: number;
}

describe('request cost limits', () => {
  let t: TestNudge;
  let tenant: TestTenant;

  /** Like `t.request`, but keeps the HTTP status and the time to answer. */
  async function post(
    query: string,
    variables?: Record<string, unknown>,
    secret: string | null = tenant.secret,
  ): Promise<Answer> {
    const started = Date.now();
    const response = await fetch(t.nudge.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(secret ? { authorization: `Bearer ${secret}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as GraphQLResponse;
    return { ...body, status: response.status, ms: Date.now() - started };
  }

  beforeAll(async () => {
    t = await startTestNudge();
    await t.setClock('2025-05-06T09:00:00Z');
  });
  afterAll(async () => {
    await t.stop();
  });
  beforeEach(async () => {
    tenant = await createTenantWithKey(t, `limits-${uniq()}`);
  });

  it('refuses a query deeper than 7 with 400 GRAPHQL_VALIDATION_FAILED', async () => {
    const answer = await post(TOO_DEEP);

    expect(answer.status).toBe(400);
    expectGraphQLError(answer, 'GRAPHQL_VALIDATION_FAILED');
    expect(answer.data).toBeUndefined();
  });

  it('counts depth through fragments as fields, not as spreads', async () => {
    const viaFragments = `{ messages(first: 100) { ...Page } }
      fragment Page on MessageConnection { edges { node { ...Msg } } }
      fragment Msg on Message { customer { messages(first: 100) { edges { node { body } } } } }`;

    expectGraphQLError(await post(viaFragments), 'GRAPHQL_VALIDATION_FAILED');
  });

  it('answers the deepest shipped query (depth 7), also when written with fragments', async () => {
    const customerId = `deep-${uniq()}`;
    await t.ok(
      tenant.secret,
      `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`,
      {
        i: {
          name: 'cart',
          event: 'added_to_cart',
          steps: [{ channel: 'EMAIL', template: { subject: 'Still there?', body: 'Hi' } }],
        },
      },
    );
    await t.ok(tenant.secret, `mutation($i: IdentifyInput!) { identify(input: $i) { id } }`, {
      i: { externalId: customerId, email: `${customerId}@example.com` },
    });
    await t.ok(tenant.secret, `mutation($i: TrackInput!) { track(input: $i) { eventId } }`, {
      i: { customerExternalId: customerId, event: 'added_to_cart' },
    });
    await t.setClock('2025-05-06T09:00:01Z');

    const plain = await post(DEEPEST_SHIPPED);
    expect(plain.errors).toBeUndefined();
    expect(plain.data?.messages.edges).toEqual([
      { node: { trigger: { steps: [{ template: { subject: 'Still there?' } }] } } },
    ]);

    const withFragments = await post(`{ messages { ...Page } }
      fragment Page on MessageConnection { edges { node { ...Msg } } }
      fragment Msg on Message { trigger { steps { template { subject } } } }`);
    expect(withFragments.errors).toBeUndefined();
    expect(withFragments.data).toEqual(plain.data);
  });

  it('keeps the full introspection query working (tools like GraphiQL send it)', async () => {
    const answer = await post(getIntrospectionQuery({ descriptions: true }));

    expect(answer.errors).toBeUndefined();
    expect(answer.data?.__schema.queryType.name).toBe('Query');
  });

  it('allows 10 aliases and refuses 11', async () => {
    const ten = await post(aliasedTenants(10));
    expect(ten.errors).toBeUndefined();
    expect(Object.keys(ten.data ?? {})).toHaveLength(10);

    const eleven = await post(aliasedTenants(11));
    expect(eleven.status).toBe(400);
    expectGraphQLError(eleven, 'GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses more than 20 directives', async () => {
    const fields = (count: number) => '__typename @include(if: true) '.repeat(count);

    const twenty = await post(`{ tenant { ${fields(20)} } }`);
    expect(twenty.errors).toBeUndefined();

    const answer = await post(`{ tenant { ${fields(21)} } }`);

    expect(answer.status).toBe(400);
    expectGraphQLError(answer, 'GRAPHQL_VALIDATION_FAILED');
  });

  it('refuses two trackBatch fields in one mutation and stores nothing', async () => {
    const customerId = `batch-${uniq()}`;
    const events = batchOf(customerId, 3);

    const aliased = await post(
      `mutation($e: [TrackInput!]!) {
         a: trackBatch(events: $e) { accepted }
         b: trackBatch(events: $e) { accepted }
       }`,
      { e: events },
    );
    expect(aliased.status).toBe(400);
    expectGraphQLError(aliased, 'BAD_USER_INPUT', 'trackBatch');
    expect(aliased.errors![0].message).toMatch(/one trackBatch per request/);
    expect(aliased.data).toBeUndefined();

    const viaFragment = await post(
      `mutation($e: [TrackInput!]!) { trackBatch(events: $e) { accepted } ...More }
       fragment More on Mutation { again: trackBatch(events: $e) { accepted } }`,
      { e: events },
    );
    expectGraphQLError(viaFragment, 'BAD_USER_INPUT', 'trackBatch');

    const stored = await t.ok(tenant.secret, CUSTOMER, { externalId: customerId });
    expect(stored.customer).toBeNull();
  });

  it('accepts a 1,000-event trackBatch passed in variables', async () => {
    const customerId = `bulk-${uniq()}`;

    const answer = await post(
      `mutation($e: [TrackInput!]!) { trackBatch(events: $e) { accepted rejected { index } } }`,
      { e: batchOf(customerId, 1000) },
    );

    expect(answer.errors).toBeUndefined();
    expect(answer.data?.trackBatch).toEqual({ accepted: 1000, rejected: [] });
  });

  it('refuses a 4.6 MB token-heavy query quickly, before it reaches the validator', async () => {
    const query = `{ ${'tenant { id } '.repeat(330_000)} }`;
    expect(query.length).toBeGreaterThan(4_600_000);

    const answer = await post(query);

    expect(answer.status).toBe(400);
    expectGraphQLError(answer, 'GRAPHQL_PARSE_FAILED');
    expect(answer.errors![0].message).toMatch(/10000 tokens/);
    expect(answer.ms).toBeLessThan(1500);

    const unauthenticated = await post(query, undefined, null);
    expect(unauthenticated.status).toBe(400);
    expectGraphQLError(unauthenticated, 'GRAPHQL_PARSE_FAILED');
  });

  it('applies the same limits over graphql-ws', async () => {
    const client = wsClient(t, tenant.secret);
    try {
      for (const [query, variables, code, field] of [
        [TOO_DEEP, {}, 'GRAPHQL_VALIDATION_FAILED', undefined],
        [aliasedTenants(11), {}, 'GRAPHQL_VALIDATION_FAILED', undefined],
        [`{ ${'tenant { id } '.repeat(3000)} }`, {}, 'GRAPHQL_PARSE_FAILED', undefined],
        [
          `mutation($e: [TrackInput!]!) { a: trackBatch(events: $e) { accepted } b: trackBatch(events: $e) { accepted } }`,
          { e: batchOf(`ws-${uniq()}`, 1) },
          'BAD_USER_INPUT',
          'trackBatch',
        ],
      ] as const) {
        const result = collect(client, query, variables);
        const errors = (await result.waitForError()) as Array<{ extensions?: any }>;
        expect(errors[0].extensions?.code).toBe(code);
        if (field) expect(errors[0].extensions?.field).toBe(field);
        result.dispose();
      }
    } finally {
      await client.dispose();
    }
  });
});
