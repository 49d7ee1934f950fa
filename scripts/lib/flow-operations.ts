import type { GraphQLClient } from './graphql-client';
import { pageTriggerMessages } from './nudge-operations';
import type { SyntheticContact } from './three-step-flow';

/**
 * The GraphQL operations the three-step replay adds to those in nudge-operations.ts, exactly
 * as an integrator would call them (docs/consent.md). Each function is one HTTP call unless
 * it says otherwise; aliased mutations in one call run one after another, in order.
 */

/** ADMIN. Quiet hours, frequency caps, explicit-consent channels (fields left out stay). */
export async function updateTenantSettings(
  client: GraphQLClient,
  secret: string,
  input: Record<string, unknown>,
): Promise<void> {
  await client.request(
    'updateTenantSettings',
    secret,
    `mutation Settings($input: UpdateTenantSettingsInput!) {
       updateTenantSettings(input: $input) { id }
     }`,
    { input },
  );
}

/** Identifies each visitor with their email and (if any) phone, `perRequest` per call. */
export async function identifyContacts(
  client: GraphQLClient,
  secret: string,
  contacts: readonly SyntheticContact[],
  perRequest: number,
): Promise<void> {
  const calls = contacts.map((c) => ({
    mutation: 'identify',
    input: { externalId: c.visitorId, email: c.email, ...(c.phone ? { phone: c.phone } : {}) },
  }));
  await aliased(client, secret, 'identify', 'IdentifyInput', '{ id }', perRequest, calls);
}

/** One grant or revocation of SMS marketing consent. */
export interface SmsConsentRecord {
  visitorId: string;
  isGranted: boolean;
  occurredAtMs: number;
}

/**
 * Records SMS/MARKETING grants and revocations in the order given, `perRequest` per call.
 * The customers must exist (identify first).
 */
export async function recordSmsConsents(
  client: GraphQLClient,
  secret: string,
  records: readonly SmsConsentRecord[],
  perRequest: number,
): Promise<void> {
  const calls = records.map((r) => ({
    mutation: r.isGranted ? 'grantConsent' : 'revokeConsent',
    input: {
      customerExternalId: r.visitorId,
      channel: 'SMS',
      purpose: 'MARKETING',
      source: r.isGranted ? 'replay: checkout checkbox' : 'replay: STOP',
      occurredAt: new Date(r.occurredAtMs).toISOString(),
    },
  }));
  await aliased(client, secret, 'consent', 'ConsentInput', '{ granted }', perRequest, calls);
}

/** A browser subscription of one visitor, as `PushSubscription.toJSON()` gives it. */
export interface VisitorSubscription {
  visitorId: string;
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

/** Registers each subscription for its visitor, `perRequest` per call. */
export async function registerPushSubscriptions(
  client: GraphQLClient,
  secret: string,
  subscriptions: readonly VisitorSubscription[],
  perRequest: number,
): Promise<void> {
  const calls = subscriptions.map((s) => ({
    mutation: 'registerPushSubscription',
    input: { customerExternalId: s.visitorId, endpoint: s.endpoint, keys: s.keys },
  }));
  await aliased(
    client,
    secret,
    'registerPushSubscription',
    'RegisterPushSubscriptionInput',
    '{ id }',
    perRequest,
    calls,
  );
}

/** The fields of a `Message` the three-step replay reads. */
export interface FlowMessage {
  id: string;
  stepIndex: number;
  channel: string;
  status: string;
  suppressionReason: string | null;
  failure: string | null;
  scheduledFor: string;
  sentAt: string | null;
  openedAt: string | null;
}

/** Every message of one trigger, oldest first; one HTTP call per 100 messages. */
export function listFlowMessages(
  client: GraphQLClient,
  secret: string,
  triggerId: string,
): Promise<FlowMessage[]> {
  return pageTriggerMessages(
    client,
    secret,
    triggerId,
    'id stepIndex channel status suppressionReason failure scheduledFor sentAt openedAt',
  );
}

/** One entry of `Customer.decisions`, as far as the replay reads it. */
export interface FlowDecision {
  outcome: string;
  reason: string;
  enrollmentId: string | null;
  detail: Record<string, unknown>;
}

/**
 * The decisions of one trigger about one customer (the newest 500), oldest first. One call
 * per customer: aliased `customer` fields would resolve at the same time, which embedded
 * PostgreSQL (trial mode) does not take well.
 */
export async function customerDecisions(
  client: GraphQLClient,
  secret: string,
  externalId: string,
  triggerId: string,
): Promise<FlowDecision[]> {
  const data = await client.request<{ customer: { decisions: FlowDecision[] } | null }>(
    'decisions',
    secret,
    `query Decisions($externalId: String!, $triggerId: ID) {
       customer(externalId: $externalId) {
         decisions(triggerId: $triggerId) { outcome reason enrollmentId detail }
       }
     }`,
    { externalId, triggerId },
  );
  return data.customer?.decisions ?? [];
}

/** One aliased mutation field: which mutation, with which `input`. */
interface AliasedCall {
  mutation: string;
  input: Record<string, unknown>;
}

/**
 * `perRequest` aliased mutations per HTTP call (all taking an `input` of `inputType` and
 * selecting `selection`), one call after another; `operation` names the calls in the counts.
 */
async function aliased(
  client: GraphQLClient,
  secret: string,
  operation: string,
  inputType: string,
  selection: string,
  perRequest: number,
  calls: readonly AliasedCall[],
): Promise<void> {
  for (let start = 0; start < calls.length; start += perRequest) {
    const slice = calls.slice(start, start + perRequest);
    const declarations = slice.map((_, k) => `$c${k}: ${inputType}!`).join(', ');
    const selections = slice
      .map((call, k) => `c${k}: ${call.mutation}(input: $c${k}) ${selection}`)
      .join('\n');
    const variables = Object.fromEntries(slice.map((call, k) => [`c${k}`, call.input]));
    const query = `mutation Replay(${declarations}) {\n${selections}\n}`;
    await client.request(operation, secret, query, variables);
  }
}
