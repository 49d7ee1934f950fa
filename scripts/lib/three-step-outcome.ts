import type { Database } from '../../src/platform/database';
import { rows } from '../../src/platform/database';
import {
  customerDecisions,
  listFlowMessages,
  type FlowDecision,
  type FlowMessage,
} from './flow-operations';
import type { GraphQLClient } from './graphql-client';
import type { PushServicePeer } from './push-service';
import type { SmsProviderPeer } from './sms-provider';
import type { SmtpSink } from './smtp-sink';
import type { ConversionFigures, StepFigures, ThreeStepSummary } from './three-step-summary';

/** Message states that mean the message went out (as the goal engine credits them). */
const WENT_OUT = new Set(['SENT', 'DELIVERED', 'OPENED', 'CLICKED']);
const NOT_SETTLED = new Set(['QUEUED', 'SENDING']);
const FAILED = new Set(['FAILED', 'DEAD_LETTER']);
/** `Customer.decisions` returns at most the newest 500 (docs/triggers.md). */
const MAX_DECISIONS_PER_CUSTOMER = 500;

/** The parts of the summary that say what the service and the peers did. */
export type FlowOutcome = Pick<ThreeStepSummary, 'enrollments' | 'steps' | 'conversions' | 'peers'>;

/** A step of the trigger, as far as the outcome needs it. */
export interface FlowStep {
  channel: string;
  delay?: string;
  after?: string;
  condition?: { previousStep?: string };
}

/** Where to read the outcome of the replayed tenant. */
export interface FlowOutcomeSources {
  client: GraphQLClient;
  secret: string;
  tenantId: string;
  triggerId: string;
  steps: readonly FlowStep[];
  /** The customers that may have entered (the visitors with an add-to-cart). */
  visitorIds: readonly string[];
  /** Read with the tenant's row-level security; enrollments have no GraphQL query yet. */
  db: Database;
  sink: SmtpSink;
  sms: SmsProviderPeer;
  push: PushServicePeer;
}

/**
 * Reads what the service did for the replay's tenant, step by step: its messages and the
 * decisions about every visitor with an add-to-cart (GraphQL, one call per visitor), its
 * enrollments (SQL, read-only), and what each local peer received, attributed to a step by
 * the idempotency key Nudge sends (`<tenantId>:<enrollmentId>:<step>`, the mail header and
 * the SMS idempotency token) or the push payload's `data.step`. Waits for the sink first.
 */
export async function readFlowOutcome(sources: FlowOutcomeSources): Promise<FlowOutcome> {
  await sources.sink.settle();
  const messages = await listFlowMessages(sources.client, sources.secret, sources.triggerId);
  const decisions: FlowDecision[] = [];
  for (const visitorId of sources.visitorIds) {
    const own = await customerDecisions(
      sources.client,
      sources.secret,
      visitorId,
      sources.triggerId,
    );
    // The API returns a customer's newest 500 decisions; more would undercount quietly.
    if (own.length >= MAX_DECISIONS_PER_CUSTOMER) {
      throw new Error(
        `visitor ${visitorId} has ${own.length} decisions, the most Customer.decisions ` +
          'returns: the per-step figures would be incomplete',
      );
    }
    decisions.push(...own);
  }
  const received = peerReceipts(sources);

  return {
    enrollments: await readEnrollmentStates(sources.db, sources.tenantId),
    steps: sources.steps.map((step, index) =>
      stepFigures(
        step,
        index,
        messages,
        decisions,
        received.byStep.get(`${step.channel} ${index}`) ?? 0,
      ),
    ),
    conversions: conversionFigures(decisions, messages),
    peers: received.totals,
  };
}

function stepFigures(
  step: FlowStep,
  index: number,
  messages: readonly FlowMessage[],
  decisions: readonly FlowDecision[],
  peerReceived: number,
): StepFigures {
  const own = messages.filter((m) => m.stepIndex === index);
  const about = (outcome: string, reason: string) =>
    decisions.filter((d) => d.outcome === outcome && d.reason === reason && d.detail.step === index)
      .length;
  return {
    index,
    channel: step.channel,
    when: whenText(step, index),
    sent: own.filter((m) => WENT_OUT.has(m.status)).length,
    peerReceived,
    skippedByCondition: about('SKIPPED', 'STEP_CONDITION'),
    suppressed: tally(
      own.filter((m) => m.status === 'SUPPRESSED').map((m) => m.suppressionReason ?? '(none)'),
    ),
    failed: own.filter((m) => FAILED.has(m.status)).length,
    pending: own.filter((m) => NOT_SETTLED.has(m.status)).length,
    deferredByQuietHours: about('DEFERRED', 'QUIET_HOURS'),
    opened: own.filter((m) => m.openedAt !== null).length,
  };
}

function conversionFigures(
  decisions: readonly FlowDecision[],
  messages: readonly FlowMessage[],
): ConversionFigures {
  const converted = decisions.filter((d) => d.outcome === 'CONVERTED');
  const messageById = new Map(messages.map((m) => [m.id, m]));
  const creditedSteps = converted
    .map((d) => messageById.get(String(d.detail.creditedMessageId ?? '')))
    .filter((m): m is FlowMessage => m !== undefined)
    .map((m) => `${m.stepIndex} ${m.channel}`);
  return {
    count: converted.length,
    medianTimeToConvertMs: median(converted.map((d) => Number(d.detail.timeToConvertMs))),
    credited: creditedSteps.length,
    creditedByStep: tally(creditedSteps),
    uncredited: converted.filter((d) => d.detail.creditedMessageId == null).length,
  };
}

/**
 * What the peers received: for this tenant by channel and step (keyed `<channel> <step>`, so
 * a peer's receipt counts only for a step on its own channel), and the totals.
 */
function peerReceipts(sources: FlowOutcomeSources): {
  byStep: Map<string, number>;
  totals: FlowOutcome['peers'];
} {
  const mailSteps = sources.sink.received.map((mail) =>
    stepOfKey(mail.headers.get('x-nudge-idempotency-key'), sources.tenantId),
  );
  const smsSteps = sources.sms.received.map((sms) =>
    stepOfKey(sms.idempotencyToken, sources.tenantId),
  );
  // Push endpoints are this replay's own subscriptions; the payload names trigger and step.
  const pushSteps = sources.push.received.map((push) => {
    const data = (push.payload as { data?: { triggerId?: string; step?: number } }).data;
    return data?.triggerId === sources.triggerId && typeof data.step === 'number'
      ? data.step
      : null;
  });
  const byStep = new Map<string, number>();
  const receipts: Array<[channel: string, steps: Array<number | null>]> = [
    ['EMAIL', mailSteps],
    ['SMS', smsSteps],
    ['PUSH', pushSteps],
  ];
  for (const [channel, steps] of receipts) {
    for (const step of steps.filter((s) => s !== null)) {
      const key = `${channel} ${step}`;
      byStep.set(key, (byStep.get(key) ?? 0) + 1);
    }
  }
  const ours = (steps: Array<number | null>) => steps.filter((s) => s !== null).length;
  const all = [...mailSteps, ...smsSteps, ...pushSteps];

  return {
    byStep,
    totals: {
      smtpMails: ours(mailSteps),
      smsMessages: ours(smsSteps),
      pushDeliveries: ours(pushSteps),
      otherTenants: all.length - ours(all),
    },
  };
}

/** The step of an idempotency key `<tenantId>:<enrollmentId>:<step>` of this tenant, or null. */
function stepOfKey(key: unknown, tenantId: string): number | null {
  if (typeof key !== 'string' || !key.startsWith(`${tenantId}:`)) return null;
  const step = Number(key.slice(key.lastIndexOf(':') + 1));
  return Number.isInteger(step) ? step : null;
}

async function readEnrollmentStates(
  db: Database,
  tenantId: string,
): Promise<FlowOutcome['enrollments']> {
  const found = await db.withTenant(tenantId, (tx) =>
    rows<{ state: string; runs: number }>(
      tx,
      `SELECT state, count(*)::int AS runs FROM enrollments WHERE tenant_id = $1 GROUP BY state`,
      [tenantId],
    ),
  );
  return {
    total: found.reduce((n, r) => n + r.runs, 0),
    byState: Object.fromEntries(found.map((r) => [r.state, r.runs])),
  };
}

function whenText(step: FlowStep, index: number): string {
  const from = index === 0 || step.after === 'ENTRY' ? 'entry' : `step ${index - 1}`;
  const condition = step.condition?.previousStep
    ? `, if step ${index - 1} is ${step.condition.previousStep}`
    : '';
  return `${step.delay ?? 'PT0S'} after ${from}${condition}`;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function tally(keys: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const key of keys) counts[key] = (counts[key] ?? 0) + 1;
  return counts;
}
