/**
 * The dashboard's view of Nudge's GraphQL API (docs/api.md): queries over HTTP with the API
 * key as a Bearer token, subscriptions over graphql-ws with it in `connectionParams`.
 */
import { createClient, type Client } from 'graphql-ws';
import type { Counts } from './format';

const COUNTS = `
  eligible entries activationRate sent delivered opened clicked failed suppressed
  suppressedByReason { reason count } conversions conversionRate
  timeToConvertMedianSeconds timeToConvertP90Seconds attributedValue`;

export const SIGN_IN_QUERY = `query DashboardSignIn {
  tenant { id name timezone }
  triggers(first: 100) {
    edges { node { id name event status createdAt steps { channel variants { name weight } } } }
  }
}`;

export const TRIGGER_METRICS_QUERY = `query DashboardTriggerMetrics(
  $triggerId: ID!, $from: DateTime!, $to: DateTime!
) {
  triggerMetrics(triggerId: $triggerId, from: $from, to: $to, bucket: DAY) {
    from to
    totals { ${COUNTS} }
    buckets { start counts { entries sent conversions } }
    steps { step channel variant counts { ${COUNTS} } }
  }
}`;

export const EXPERIMENT_RESULTS_QUERY = `query DashboardExperimentResults($triggerId: ID!, $step: Int!) {
  experimentResults(triggerId: $triggerId, step: $step) {
    triggerId step experimentId status control winner requiredSamplePerVariant
    variants {
      name weight isHoldout entries sent conversions conversionRate uplift upliftLow upliftHigh
      pValue probabilityToBeatControl medianTimeToConvertSeconds
    }
  }
}`;

export const METRICS_UPDATED_SUBSCRIPTION = `subscription DashboardMetrics($triggerId: ID!) {
  metricsUpdated(triggerId: $triggerId) {
    triggerId at
    totals { ${COUNTS} }
    change { ${COUNTS} }
  }
}`;

export const TRIGGER_FIRED_SUBSCRIPTION = `subscription DashboardFirings($triggerId: ID) {
  triggerFired(triggerId: $triggerId) { firedAt enrollmentId customer { externalId } }
}`;

export interface TriggerSummary {
  id: string;
  name: string;
  event: string;
  status: string;
  createdAt: string;
  steps: Array<{ channel: string; variants: Array<{ name: string; weight: number }> }>;
}

export interface SignInResult {
  tenant: { id: string; name: string; timezone: string };
  triggers: { edges: Array<{ node: TriggerSummary }> };
}

export interface StepMetrics {
  step: number;
  channel: string;
  variant: string | null;
  counts: Counts;
}

export interface TriggerMetrics {
  from: string;
  to: string;
  totals: Counts;
  buckets: Array<{ start: string; counts: Pick<Counts, 'entries' | 'sent' | 'conversions'> }>;
  steps: StepMetrics[];
}

export interface VariantResult {
  name: string;
  weight: number;
  isHoldout: boolean;
  entries: number;
  sent: number;
  conversions: number;
  conversionRate: number | null;
  uplift: number | null;
  upliftLow: number | null;
  upliftHigh: number | null;
  pValue: number | null;
  probabilityToBeatControl: number | null;
  medianTimeToConvertSeconds: number | null;
}

export interface ExperimentResults {
  triggerId: string;
  step: number;
  experimentId: string | null;
  status: string;
  control: string | null;
  winner: string | null;
  requiredSamplePerVariant: number | null;
  variants: VariantResult[];
}

export interface MetricsUpdate {
  triggerId: string;
  at: string;
  totals: Counts;
  change: Counts;
}

export interface Firing {
  firedAt: string;
  enrollmentId: string;
  customer: { externalId: string | null };
}

/** Why a call failed, in the words the page shows. `kind` decides where it is shown. */
export class ApiError extends Error {
  constructor(
    readonly kind: 'unauthenticated' | 'forbidden' | 'network' | 'unavailable' | 'server',
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

interface GraphQLErrorShape {
  message: string;
  extensions?: { code?: string; requestId?: string };
}

/** Turns the first GraphQL error of a response into an ApiError. */
export function errorOf(errors: readonly GraphQLErrorShape[]): ApiError {
  const [first] = errors;
  const code = first?.extensions?.code;
  if (code === 'UNAUTHENTICATED')
    return new ApiError('unauthenticated', 'That API key was not accepted.', code);
  if (code === 'FORBIDDEN')
    return new ApiError('forbidden', 'This API key may not read metrics (it needs READ).', code);
  if (code === 'GRAPHQL_VALIDATION_FAILED')
    return new ApiError('unavailable', 'This Nudge server does not offer this yet.', code);
  const requestId = first?.extensions?.requestId;
  return new ApiError(
    'server',
    `${first?.message ?? 'Unknown error'}${requestId ? ` (request ${requestId})` : ''}`,
    code,
  );
}

/** POSTs one operation to `/graphql` and returns `data`, or throws an ApiError. */
export async function request<T>(
  apiKey: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<T> {
  let response: Response;
  try {
    response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('network', 'Cannot reach Nudge: check the connection and try again.');
  }
  let body: { data?: T | null; errors?: GraphQLErrorShape[] };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new ApiError('server', `Nudge answered HTTP ${response.status} without GraphQL.`);
  }
  if (body.errors?.length) throw errorOf(body.errors);
  if (!body.data) throw new ApiError('server', `Nudge answered HTTP ${response.status} no data.`);
  return body.data;
}

export interface LiveHandlers {
  onConnected(): void;
  onClosed(code: number | null, reason: string): void;
}

/** Close codes after which retrying with the same key cannot help. */
const FINAL_CLOSE_CODES = new Set([4400, 4401, 4403]);

/** A graphql-ws client on this page's origin that authenticates with `apiKey`. */
export function liveClient(apiKey: string, handlers: LiveHandlers): Client {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return createClient({
    url: `${scheme}://${location.host}/graphql`,
    connectionParams: { authorization: `Bearer ${apiKey}` },
    retryAttempts: 8,
    shouldRetry: (event) => !(isCloseEvent(event) && FINAL_CLOSE_CODES.has(event.code)),
    on: {
      connected: () => handlers.onConnected(),
      closed: (event) =>
        isCloseEvent(event)
          ? handlers.onClosed(event.code, event.reason)
          : handlers.onClosed(null, ''),
    },
  });
}

export function isCloseEvent(value: unknown): value is CloseEvent {
  return typeof value === 'object' && value !== null && 'code' in value && 'reason' in value;
}
