import { randomBytes } from 'node:crypto';
import type { ReceivedMail, SmtpSink } from '../../scripts/lib/smtp-sink';
import type { GraphQLResponse, TestNudge } from './harness';

/**
 * Small GraphQL helpers shared by the case suites (C05, C07, C23). Everything goes through
 * the public API; nothing here reads the database or Redis.
 */

export interface TrackArgs {
  customerExternalId: string;
  event: string;
  properties?: Record<string, unknown>;
  occurredAt?: string;
  messageId?: string;
}

export interface TrackResult {
  eventId: string;
  duplicate: boolean;
}

export interface MessageNode {
  id: string;
  channel: string;
  status: string;
  suppressionReason: string | null;
  to: string | null;
  subject: string | null;
  stepIndex: number;
  scheduledFor: string;
  sentAt: string | null;
  trigger: { id: string };
  customer: { externalId: string };
}

export interface EventNode {
  id: string;
  name: string;
  properties: Record<string, unknown>;
  occurredAt: string;
  messageId: string | null;
}

/** The C05 trigger: "added_to_cart, unless a purchase of that cart within 2 h", one email. */
export const CART_ABANDONMENT_TRIGGER = {
  name: 'cart-reminder-1',
  event: 'added_to_cart',
  entryKey: ['cartId'],
  unless: { event: 'purchase', within: 'PT2H', matchOn: ['cartId'] },
  steps: [
    {
      channel: 'EMAIL',
      template: { subject: 'You left something', body: 'Cart {{ event.properties.cartId }}' },
    },
  ],
};

/** A mailbox no other test in the run shares (the SMTP sink is shared by every test of a file). */
export function uniqueEmail(externalId: string): string {
  return `${externalId}.${randomBytes(4).toString('hex')}@example.test`;
}

/** The same instant as `iso`, in the canonical `toISOString` form (ms precision, `Z`). */
export function isoOf(iso: string): string {
  return new Date(iso).toISOString();
}

export async function createTrigger(
  t: TestNudge,
  secret: string,
  input: Record<string, unknown>,
): Promise<string> {
  const data = await t.ok<{ createTrigger: { id: string } }>(
    secret,
    `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`,
    { i: input },
  );
  return data.createTrigger.id;
}

export async function identify(
  t: TestNudge,
  secret: string,
  externalId: string,
  email: string,
): Promise<void> {
  await t.ok(secret, `mutation($i: IdentifyInput!) { identify(input: $i) { id } }`, {
    i: { externalId, email },
  });
}

const TRACK = `mutation($i: TrackInput!) { track(input: $i) { eventId duplicate } }`;

/** `track` as sent; the caller inspects `data` or `errors`. */
export function trackRaw(
  t: TestNudge,
  secret: string,
  input: TrackArgs,
): Promise<GraphQLResponse<{ track: TrackResult }>> {
  return t.request<{ track: TrackResult }>(secret, TRACK, { i: input });
}

/** `track` that must succeed. */
export async function track(t: TestNudge, secret: string, input: TrackArgs): Promise<TrackResult> {
  const data = await t.ok<{ track: TrackResult }>(secret, TRACK, { i: input });
  return data.track;
}

/** Every message matching the filter, oldest first (follows the Relay cursor to the end). */
export function listMessages(
  t: TestNudge,
  secret: string,
  filter: { triggerId?: string; customerExternalId?: string },
): Promise<MessageNode[]> {
  return pagedMessages<MessageNode>(
    t,
    secret,
    filter,
    `id channel status suppressionReason to subject stepIndex scheduledFor sentAt
     trigger { id } customer { externalId }`,
  );
}

async function pagedMessages<T>(
  t: TestNudge,
  secret: string,
  filter: { triggerId?: string; customerExternalId?: string },
  selection: string,
): Promise<T[]> {
  const all: T[] = [];
  let after: string | null = null;
  for (;;) {
    const data: any = await t.ok(
      secret,
      `query($triggerId: ID, $customerExternalId: String, $after: String) {
         messages(triggerId: $triggerId, customerExternalId: $customerExternalId, first: 100, after: $after) {
           edges { node { ${selection} } }
           pageInfo { hasNextPage endCursor }
         }
       }`,
      { ...filter, after },
    );
    all.push(...data.messages.edges.map((e: { node: T }) => e.node));
    if (!data.messages.pageInfo.hasNextPage) return all;
    after = data.messages.pageInfo.endCursor;
  }
}

/** The customer's stored events, oldest first; throws if the customer does not exist. */
export async function customerEvents(
  t: TestNudge,
  secret: string,
  externalId: string,
): Promise<EventNode[]> {
  const all: EventNode[] = [];
  let after: string | null = null;
  for (;;) {
    const data: any = await t.ok(
      secret,
      `query($externalId: String!, $after: String) {
         customer(externalId: $externalId) {
           events(first: 100, after: $after) {
             edges { node { id name properties occurredAt messageId } }
             pageInfo { hasNextPage endCursor }
           }
         }
       }`,
      { externalId, after },
    );
    if (!data.customer) throw new Error(`customer ${externalId} not found`);
    all.push(...data.customer.events.edges.map((e: { node: EventNode }) => e.node));
    if (!data.customer.events.pageInfo.hasNextPage) return all;
    after = data.customer.events.pageInfo.endCursor;
  }
}

/** Mail the sink received for one address, once every message in flight is parsed. */
export async function mailsTo(smtp: SmtpSink, address: string): Promise<ReceivedMail[]> {
  await smtp.settle();
  return smtp.received.filter((m) => m.to.includes(address));
}

/** Every profile field `identify` takes; unset fields are left as stored. */
export interface IdentifyArgs {
  externalId: string;
  anonymousId?: string;
  email?: string;
  phone?: string;
  timezone?: string;
  locale?: string;
  traits?: Record<string, unknown>;
}

/** `identify` with any profile fields (time zone, traits …); must succeed. */
export async function identifyWith(
  t: TestNudge,
  secret: string,
  input: IdentifyArgs,
): Promise<void> {
  await t.ok(secret, `mutation($i: IdentifyInput!) { identify(input: $i) { id } }`, { i: input });
}

export interface DecisionNode {
  at: string;
  event: { id: string; name: string; occurredAt: string } | null;
  triggerId: string;
  triggerVersion: number;
  enrollmentId: string | null;
  outcome: string;
  reason: string;
  detail: Record<string, unknown>;
}

/** The customer's decision log (oldest first), optionally for one trigger. */
export async function listDecisions(
  t: TestNudge,
  secret: string,
  externalId: string,
  triggerId?: string,
): Promise<DecisionNode[]> {
  const data: any = await t.ok(
    secret,
    `query($externalId: String!, $triggerId: ID) {
       customer(externalId: $externalId) {
         decisions(triggerId: $triggerId) {
           at event { id name occurredAt } triggerId triggerVersion enrollmentId outcome reason detail
         }
       }
     }`,
    { externalId, triggerId },
  );
  if (!data.customer) throw new Error(`customer ${externalId} not found`);
  return data.customer.decisions;
}

/** `track` naming the customer by external id, anonymous id, or both (which links them). */
export type AnyTrackArgs = Omit<TrackArgs, 'customerExternalId'> & {
  customerExternalId?: string;
  anonymousId?: string;
};

/** `track` by any customer reference, as sent; the caller inspects `data` or `errors`. */
export function trackAsRaw(
  t: TestNudge,
  secret: string,
  input: AnyTrackArgs,
): Promise<GraphQLResponse<{ track: TrackResult }>> {
  return t.request<{ track: TrackResult }>(secret, TRACK, { i: input });
}

/** `track` by any customer reference; must succeed. */
export async function trackAs(
  t: TestNudge,
  secret: string,
  input: AnyTrackArgs,
): Promise<TrackResult> {
  const data = await t.ok<{ track: TrackResult }>(secret, TRACK, { i: input });
  return data.track;
}

/** How `customer(...)` finds a customer: by the tenant's id or by an anonymous id. */
export type CustomerLookup = { externalId: string } | { anonymousId: string };

export interface CustomerProfile {
  id: string;
  externalId: string | null;
  email: string | null;
  traits: Record<string, unknown>;
  anonymousIds: string[];
}

/** The customer found by `by`, or null. */
export async function findCustomer(
  t: TestNudge,
  secret: string,
  by: CustomerLookup,
): Promise<CustomerProfile | null> {
  const data: any = await t.ok(
    secret,
    `query($externalId: String, $anonymousId: String) {
       customer(externalId: $externalId, anonymousId: $anonymousId) {
         id externalId email traits anonymousIds
       }
     }`,
    { ...by },
  );
  return data.customer;
}

/** The stored events of the customer found by `by`, oldest first; throws if there is none. */
export async function eventsOf(
  t: TestNudge,
  secret: string,
  by: CustomerLookup,
): Promise<EventNode[]> {
  const all: EventNode[] = [];
  let after: string | null = null;
  for (;;) {
    const data: any = await t.ok(
      secret,
      `query($externalId: String, $anonymousId: String, $after: String) {
         customer(externalId: $externalId, anonymousId: $anonymousId) {
           events(first: 100, after: $after) {
             edges { node { id name properties occurredAt messageId } }
             pageInfo { hasNextPage endCursor }
           }
         }
       }`,
      { ...by, after },
    );
    if (!data.customer) throw new Error(`customer ${JSON.stringify(by)} not found`);
    all.push(...data.customer.events.edges.map((e: { node: EventNode }) => e.node));
    if (!data.customer.events.pageInfo.hasNextPage) return all;
    after = data.customer.events.pageInfo.endCursor;
  }
}

/** The decision log (oldest first) of the customer found by `by`; throws if there is none. */
export async function decisionsOf(
  t: TestNudge,
  secret: string,
  by: CustomerLookup,
  triggerId?: string,
): Promise<DecisionNode[]> {
  const data: any = await t.ok(
    secret,
    `query($externalId: String, $anonymousId: String, $triggerId: ID) {
       customer(externalId: $externalId, anonymousId: $anonymousId) {
         decisions(triggerId: $triggerId) {
           at event { id name occurredAt } triggerId triggerVersion enrollmentId outcome reason detail
         }
       }
     }`,
    { ...by, triggerId },
  );
  if (!data.customer) throw new Error(`customer ${JSON.stringify(by)} not found`);
  return data.customer.decisions;
}

/** A message with the run (enrollment) it belongs to and its rendered text. */
export interface RunMessageNode {
  id: string;
  enrollmentId: string;
  stepIndex: number;
  channel: string;
  status: string;
  suppressionReason: string | null;
  to: string | null;
  subject: string | null;
  body: string | null;
  scheduledFor: string;
  sentAt: string | null;
  trigger: { id: string };
  customer: { id: string; externalId: string | null };
}

/** Like `listMessages`, with each message's run, body and customer id. */
export function listRunMessages(
  t: TestNudge,
  secret: string,
  filter: { triggerId?: string; customerExternalId?: string },
): Promise<RunMessageNode[]> {
  return pagedMessages<RunMessageNode>(
    t,
    secret,
    filter,
    `id enrollmentId stepIndex channel status suppressionReason to subject body scheduledFor
     sentAt trigger { id } customer { id externalId }`,
  );
}

/**
 * `updateTrigger` as sent; the caller inspects `data` or `errors`. The variable is `$input`,
 * so a value the scalars refuse is reported at `input.<path>` (see docs/api.md).
 */
export function updateTriggerRaw(
  t: TestNudge,
  secret: string,
  id: string,
  input: Record<string, unknown>,
): Promise<GraphQLResponse<{ updateTrigger: { id: string; version: number; status: string } }>> {
  return t.request(
    secret,
    `mutation($id: ID!, $input: UpdateTriggerInput!) {
       updateTrigger(id: $id, input: $input) { id version status }
     }`,
    { id, input },
  );
}
