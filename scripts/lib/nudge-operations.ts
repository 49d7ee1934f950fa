import type { GraphQLClient } from './graphql-client';

/**
 * The GraphQL operations the replay uses, exactly as an integrator would call them (API.md).
 * Each function is one HTTP call unless it says otherwise.
 */

/** Input of one `trackBatch` item. */
export interface TrackInput {
  customerExternalId: string;
  event: string;
  occurredAt: string;
  properties: Record<string, unknown>;
  messageId: string;
}

/** What `trackBatch` reports: counts, and the rejected items by their index in the call. */
export interface TrackBatchResult {
  accepted: number;
  duplicates: number;
  rejected: Array<{ index: number; code: string; message: string }>;
}

/** The fields of a `Message` the replay reads. */
export interface MessageSummary {
  /** The run (enrollment) the message belongs to. */
  enrollmentId: string;
  status: string;
  /** The recipient's address (`visitor-<id>@replay.example` here). */
  to: string | null;
  scheduledFor: string;
  sentAt: string | null;
}

const VISITOR_EMAIL = /^visitor-(.+)@replay\.example$/;

/** The address the replay gives a visitor; `visitorIdOf` reverses it. */
export function visitorEmail(visitorId: string): string {
  return `visitor-${visitorId}@replay.example`;
}

/** The visitor id in an address made by `visitorEmail`, or null for any other address. */
export function visitorIdOf(address: string | null): string | null {
  return (address && VISITOR_EMAIL.exec(address)?.[1]) ?? null;
}

/**
 * Operator only. Creates a tenant in `timezone` (the zone local times and send windows are
 * read in for customers without one) and returns its id and the ADMIN secret (shown once).
 */
export async function createTenant(
  client: GraphQLClient,
  operatorToken: string,
  name: string,
  timezone = 'UTC',
): Promise<{ tenantId: string; secret: string }> {
  const data = await client.request<{ createTenant: { tenant: { id: string }; secret: string } }>(
    'createTenant',
    operatorToken,
    `mutation CreateTenant($input: CreateTenantInput!) {
       createTenant(input: $input) { tenant { id } secret }
     }`,
    { input: { name, timezone } },
  );
  return { tenantId: data.createTenant.tenant.id, secret: data.createTenant.secret };
}

/** Operator only, manual clock. Moves the clock; every timer due on the way fires first. */
export async function setClock(
  client: GraphQLClient,
  operatorToken: string,
  toMs: number,
): Promise<{ timersFired: number }> {
  const data = await client.request<{ setClock: { timersFired: number } }>(
    'setClock',
    operatorToken,
    `mutation SetClock($to: DateTime!) { setClock(to: $to) { now timersFired } }`,
    { to: new Date(toMs).toISOString() },
  );
  return data.setClock;
}

/**
 * The replay's trigger, "Cart reminder": on `addtocart`, unless a `transaction` follows within
 * 2 h, one email at the deadline naming the last item added.
 */
export const CART_REMINDER_TRIGGER = {
  name: 'Cart reminder',
  event: 'addtocart',
  unless: { event: 'transaction', within: 'PT2H' },
  steps: [
    {
      delay: 'PT0S',
      channel: 'EMAIL',
      template: {
        subject: 'Still thinking about item {{ event.properties.itemId }}?',
        body:
          'Hello! Item {{ event.properties.itemId }} is still in your cart ' +
          '(added {{ event.occurredAt }}).',
      },
    },
  ],
};

/** Creates a trigger (by default `CART_REMINDER_TRIGGER`) and returns its id. */
export async function createCartReminderTrigger(
  client: GraphQLClient,
  secret: string,
  input: Record<string, unknown> = CART_REMINDER_TRIGGER,
): Promise<string> {
  const data = await client.request<{ createTrigger: { id: string } }>(
    'createTrigger',
    secret,
    `mutation CreateTrigger($input: CreateTriggerInput!) { createTrigger(input: $input) { id } }`,
    { input },
  );
  return data.createTrigger.id;
}

/** The `Simulation` fields the replay reads (see `simulateTrigger`). */
export interface SimulationFigures {
  entered: number;
  reset: number;
  cancelled: number;
  fired: number;
  pending: number;
  messages: number;
  deferred: number;
  eventsScanned: number;
  durationMs: number;
}

/**
 * Backtests the definition `input` over the tenant's stored events from `fromMs` to `toMs`;
 * nothing is saved or sent. No sample decisions are asked for.
 */
export async function simulateTrigger(
  client: GraphQLClient,
  secret: string,
  input: Record<string, unknown>,
  fromMs: number,
  toMs: number,
): Promise<SimulationFigures> {
  const data = await client.request<{ simulateTrigger: SimulationFigures }>(
    'simulateTrigger',
    secret,
    `query Simulate($input: SimulateTriggerInput!) {
       simulateTrigger(input: $input) {
         entered reset cancelled fired pending messages deferred eventsScanned durationMs
       }
     }`,
    {
      input: {
        definition: input,
        from: new Date(fromMs).toISOString(),
        to: new Date(toMs).toISOString(),
        sampleSize: 0,
      },
    },
  );
  return data.simulateTrigger;
}

/**
 * Identifies each visitor once (externalId = visitor id, a `replay.example` address), with
 * `perRequest` aliased `identify` mutations per HTTP call, one call after another.
 *
 * Calls are deliberately not overlapped: on embedded PostgreSQL, a request whose pool opens a
 * new connection while another request is mid-query can fail, or see a valid key rejected.
 */
export async function identifyVisitors(
  client: GraphQLClient,
  secret: string,
  visitorIds: readonly string[],
  perRequest: number,
): Promise<void> {
  for (let start = 0; start < visitorIds.length; start += perRequest) {
    const slice = visitorIds.slice(start, start + perRequest);
    const declarations = slice.map((_, k) => `$c${k}: IdentifyInput!`).join(', ');
    const selections = slice.map((_, k) => `c${k}: identify(input: $c${k}) { id }`).join('\n');
    const variables = Object.fromEntries(
      slice.map((id, k) => [`c${k}`, { externalId: id, email: visitorEmail(id) }]),
    );
    const query = `mutation Identify(${declarations}) {\n${selections}\n}`;
    await client.request('identify', secret, query, variables);
  }
}

/** Sends up to 1,000 events in one call; per-item outcomes are counted by the service. */
export async function trackBatch(
  client: GraphQLClient,
  secret: string,
  events: TrackInput[],
): Promise<TrackBatchResult> {
  const data = await client.request<{ trackBatch: TrackBatchResult }>(
    'trackBatch',
    secret,
    `mutation TrackBatch($events: [TrackInput!]!) {
       trackBatch(events: $events) { accepted duplicates rejected { index code message } }
     }`,
    { events },
  );
  return data.trackBatch;
}

/**
 * Every message of one trigger, oldest first; one HTTP call per 100 messages. Only the
 * message's own fields are read: a nested `customer` resolves once per message, all at the
 * same time, which can exhaust the connections of embedded PostgreSQL and fail the query.
 */
export function listTriggerMessages(
  client: GraphQLClient,
  secret: string,
  triggerId: string,
): Promise<MessageSummary[]> {
  return pageTriggerMessages(
    client,
    secret,
    triggerId,
    'enrollmentId status to scheduledFor sentAt',
  );
}

/** Every message of one trigger with the given `Message` fields, 100 per HTTP call. */
export async function pageTriggerMessages<T>(
  client: GraphQLClient,
  secret: string,
  triggerId: string,
  fields: string,
): Promise<T[]> {
  const all: T[] = [];
  let after: string | null = null;
  for (;;) {
    const data: {
      messages: {
        edges: Array<{ node: T }>;
        pageInfo: { hasNextPage: boolean; endCursor: string | null };
      };
    } = await client.request(
      'messages',
      secret,
      `query Messages($triggerId: ID, $after: String) {
         messages(triggerId: $triggerId, first: 100, after: $after) {
           edges { node { ${fields} } }
           pageInfo { hasNextPage endCursor }
         }
       }`,
      { triggerId, after },
    );
    all.push(...data.messages.edges.map((edge) => edge.node));
    if (!data.messages.pageInfo.hasNextPage) return all;
    after = data.messages.pageInfo.endCursor;
  }
}
