import type { TestNudge } from './harness';

/** What `experimentResults` returns, every field. */
export interface ExperimentResultsNode {
  triggerId: string;
  step: number;
  experimentId: string | null;
  name: string | null;
  status: string;
  control: string | null;
  winner: string | null;
  requiredSamplePerVariant: number | null;
  variants: Array<{
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
    relativeUplift: number | null;
    pValue: number | null;
    probabilityToBeatControl: number | null;
    medianTimeToConvertSeconds: number | null;
    timeToConvertPValue: number | null;
  }>;
}

export const EXPERIMENT_RESULTS = `query($triggerId: ID!, $step: Int!) {
  experimentResults(triggerId: $triggerId, step: $step) {
    triggerId step experimentId name status control winner requiredSamplePerVariant
    variants { name weight isHoldout entries sent conversions conversionRate uplift upliftLow
      upliftHigh relativeUplift pValue probabilityToBeatControl medianTimeToConvertSeconds
      timeToConvertPValue }
  }
}`;

export async function experimentResults(
  t: TestNudge,
  secret: string,
  triggerId: string,
  step = 0,
): Promise<ExperimentResultsNode> {
  const data = await t.ok<{ experimentResults: ExperimentResultsNode }>(
    secret,
    EXPERIMENT_RESULTS,
    { triggerId, step },
  );
  return data.experimentResults;
}

/** A message with its variant, run and customer. */
export interface VariantMessage {
  id: string;
  enrollmentId: string;
  stepIndex: number;
  status: string;
  suppressionReason: string | null;
  variant: string | null;
  scheduledFor: string;
  sentAt: string | null;
  customer: { id: string; externalId: string };
}

/** Every message of a trigger, oldest first, following the cursor to the end. */
export async function variantMessages(
  t: TestNudge,
  secret: string,
  triggerId: string,
): Promise<VariantMessage[]> {
  const all: VariantMessage[] = [];
  let after: string | null = null;
  for (;;) {
    const data: any = await t.ok(
      secret,
      `query($triggerId: ID, $after: String) {
         messages(triggerId: $triggerId, first: 100, after: $after) {
           edges { node { id enrollmentId stepIndex status suppressionReason variant scheduledFor
             sentAt customer { id externalId } } }
           pageInfo { hasNextPage endCursor }
         }
       }`,
      { triggerId, after },
    );
    all.push(...data.messages.edges.map((e: { node: VariantMessage }) => e.node));
    if (!data.messages.pageInfo.hasNextPage) return all;
    after = data.messages.pageInfo.endCursor;
  }
}

/** `trackBatch` of at most 1,000 events that must all be accepted. */
export async function trackAll(
  t: TestNudge,
  secret: string,
  events: Array<{
    customerExternalId: string;
    event: string;
    properties?: Record<string, unknown>;
    occurredAt?: string;
  }>,
): Promise<void> {
  for (let i = 0; i < events.length; i += 1000) {
    const data = await t.ok<any>(
      secret,
      `mutation($e: [TrackInput!]!) { trackBatch(events: $e) { accepted rejected { index code } } }`,
      { e: events.slice(i, i + 1000) },
    );
    if (data.trackBatch.rejected.length > 0) {
      throw new Error(`rejected: ${JSON.stringify(data.trackBatch.rejected.slice(0, 3))}`);
    }
  }
}

/** Runs `work` over `items`, `width` at a time. */
export async function inParallel<T>(
  items: readonly T[],
  width: number,
  work: (item: T) => Promise<unknown>,
): Promise<void> {
  for (let i = 0; i < items.length; i += width) {
    await Promise.all(items.slice(i, i + width).map(work));
  }
}
