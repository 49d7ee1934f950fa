import type { Database } from '../../src/platform/database';
import { rows } from '../../src/platform/database';
import type { ExpectedRun } from './expected-reminders';
import type { GraphQLClient } from './graphql-client';
import { listTriggerMessages, visitorIdOf, type MessageSummary } from './nudge-operations';
import type { RunMismatch, ReplaySummary, VisitorMismatch } from './replay-summary';
import type { VariantRun } from './replay-variants';
import type { SmtpSink } from './smtp-sink';

/** The parts of the summary that say what the service did. */
export type ServiceOutcome = Pick<
  ReplaySummary,
  'enrollments' | 'messages' | 'sink' | 'reminderMismatches' | 'runMismatches' | 'sendMismatches'
>;

/** Where to read the outcome of one replayed tenant, and what it is compared with. */
export interface OutcomeSources {
  client: GraphQLClient;
  secret: string;
  tenantId: string;
  triggerId: string;
  /** Read with the tenant's row-level security; enrollments have no GraphQL query yet. */
  db: Database;
  sink: SmtpSink;
  expectedRuns: VariantRun[];
  /** The group a run belongs to in `sendMismatches`: its visitor, or its visitor and item. */
  runKey: (visitorId: string, itemId: string | null) => string;
}

/**
 * Reads what the service did for the replay's tenant: its messages (GraphQL), its enrollments
 * (SQL, read-only), the mails the sink received, and where the service differs from the
 * expectation: visitor by visitor, the reminders and run counts; run group by run group (see
 * `OutcomeSources.runKey`), the instants reminders were scheduled for. Waits for the sink to
 * settle first.
 */
export async function readOutcome(sources: OutcomeSources): Promise<ServiceOutcome> {
  await sources.sink.settle();
  const messages = await listTriggerMessages(sources.client, sources.secret, sources.triggerId);
  const runs = await readRuns(sources.db, sources.tenantId);
  const runById = new Map(runs.map((run) => [run.id, run]));
  const enrollments = countByVisitorAndState(runs);
  const sent = messages.filter((m) => m.status === 'SENT');
  const received = sources.sink.received;

  return {
    enrollments: {
      total: runs.length,
      byState: tally(runs.map((run) => [run.state, 1])),
    },
    messages: {
      byStatus: tally(messages.map((m) => [m.status, 1])),
      sent: sent.length,
      maxLatenessMs: sent.length === 0 ? null : Math.max(...sent.map(latenessMs)),
      deferred: messages.filter((m) => isDeferred(m, runById.get(m.enrollmentId))).length,
    },
    sink: {
      received: received.length,
      forTenant: received.filter((mail) => isMailOfTenant(mail.headers, sources.tenantId)).length,
    },
    ...compareByVisitor(sources.expectedRuns, sent, enrollments),
    sendMismatches: compareSendInstants(sources.expectedRuns, sent, runById, sources.runKey),
  };
}

/** One enrollment of the tenant, with the item of the event that last entered it. */
interface LiveRun {
  id: string;
  visitorId: string;
  itemId: string | null;
  state: string;
  deadlineMs: number | null;
}

async function readRuns(db: Database, tenantId: string): Promise<LiveRun[]> {
  const found = await db.withTenant(tenantId, (tx) =>
    rows<{
      id: string;
      external_id: string;
      item_id: string | null;
      state: string;
      deadline_at: Date | null;
    }>(
      tx,
      `SELECT e.id::text AS id, c.external_id, ev.properties->>'itemId' AS item_id, e.state,
         e.deadline_at
       FROM enrollments e
       JOIN customers c ON c.tenant_id = e.tenant_id AND c.id = e.customer_id
       LEFT JOIN events ev ON ev.tenant_id = e.tenant_id AND ev.id = e.entry_event_id
       WHERE e.tenant_id = $1`,
      [tenantId],
    ),
  );
  return found.map((r) => ({
    id: r.id,
    visitorId: r.external_id,
    itemId: r.item_id,
    state: r.state,
    deadlineMs: r.deadline_at?.getTime() ?? null,
  }));
}

interface EnrollmentCount {
  visitorId: string;
  state: string;
  count: number;
}

function countByVisitorAndState(runs: LiveRun[]): EnrollmentCount[] {
  const counts = tally(runs.map((run) => [`${run.visitorId}\n${run.state}`, 1]));
  return Object.entries(counts).map(([key, count]) => {
    const [visitorId, state] = key.split('\n');
    return { visitorId, state, count };
  });
}

/** A message scheduled for another instant than its run's deadline (moved by a window). */
function isDeferred(message: MessageSummary, run: LiveRun | undefined): boolean {
  return run?.deadlineMs != null && Date.parse(message.scheduledFor) !== run.deadlineMs;
}

/**
 * Per run group: the expected send instants of the reminded runs against the `scheduledFor`
 * of the SENT messages, both sorted. A message is grouped by its run's visitor and entry
 * item (read from the database), so a reminder for the wrong item is a mismatch too.
 */
function compareSendInstants(
  expectedRuns: VariantRun[],
  sent: MessageSummary[],
  runById: Map<string, LiveRun>,
  runKey: OutcomeSources['runKey'],
): RunMismatch[] {
  const byKey = new Map<string, RunMismatch>();
  const of = (key: string) => {
    let m = byKey.get(key);
    if (!m) {
      m = { key, expectedSendAt: [], scheduledFor: [] };
      byKey.set(key, m);
    }
    return m;
  };
  for (const run of expectedRuns) {
    if (run.sendAtMs === null) continue;
    of(runKey(run.visitorId, run.itemId)).expectedSendAt.push(new Date(run.sendAtMs).toISOString());
  }
  for (const message of sent) {
    const run = runById.get(message.enrollmentId);
    const key = run
      ? runKey(run.visitorId, run.itemId)
      : `(enrollment ${message.enrollmentId} not found)`;
    of(key).scheduledFor.push(new Date(message.scheduledFor).toISOString());
  }

  const all = [...byKey.values()];
  for (const m of all) {
    m.expectedSendAt.sort();
    m.scheduledFor.sort();
  }
  return all
    .filter((m) => m.expectedSendAt.join() !== m.scheduledFor.join())
    .sort((a, b) => a.key.localeCompare(b.key, 'en', { numeric: true }));
}

function compareByVisitor(
  runs: ExpectedRun[],
  sent: MessageSummary[],
  enrollments: EnrollmentCount[],
): Pick<ReplaySummary, 'reminderMismatches' | 'runMismatches'> {
  const byVisitor = new Map<string, VisitorMismatch>();
  const of = (visitorId: string) => {
    let m = byVisitor.get(visitorId);
    if (!m) {
      m = { visitorId, expectedReminders: 0, sentReminders: 0, expectedRuns: 0, enrollments: 0 };
      byVisitor.set(visitorId, m);
    }
    return m;
  };
  for (const run of runs) {
    of(run.visitorId).expectedRuns++;
    if (run.isReminded) of(run.visitorId).expectedReminders++;
  }
  for (const message of sent)
    of(visitorIdOf(message.to) ?? `(address ${message.to})`).sentReminders++;
  for (const e of enrollments) of(e.visitorId).enrollments += e.count;

  const all = [...byVisitor.values()].sort((a, b) =>
    a.visitorId.localeCompare(b.visitorId, 'en', { numeric: true }),
  );
  return {
    reminderMismatches: all.filter((m) => m.expectedReminders !== m.sentReminders),
    runMismatches: all.filter((m) => m.expectedRuns !== m.enrollments),
  };
}

/** The EMAIL channel stamps `X-Nudge-Idempotency-Key: <tenantId>:<enrollmentId>:<step>`. */
function isMailOfTenant(headers: Map<string, unknown>, tenantId: string): boolean {
  const key = headers.get('x-nudge-idempotency-key');
  return typeof key === 'string' && key.startsWith(`${tenantId}:`);
}

function latenessMs(message: MessageSummary): number {
  return Date.parse(message.sentAt!) - Date.parse(message.scheduledFor);
}

function tally(pairs: Array<[key: string, count: number]>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const [key, count] of pairs) counts[key] = (counts[key] ?? 0) + count;
  return counts;
}
