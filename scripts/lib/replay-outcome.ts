import type { Database } from '../../src/platform/database';
import { rows } from '../../src/platform/database';
import type { ExpectedRun } from './expected-reminders';
import type { GraphQLClient } from './graphql-client';
import { listTriggerMessages, visitorIdOf, type MessageSummary } from './nudge-operations';
import type { ReplaySummary, VisitorMismatch } from './replay-summary';
import type { SmtpSink } from './smtp-sink';

/** The parts of the summary that say what the service did. */
export type ServiceOutcome = Pick<
  ReplaySummary,
  'enrollments' | 'messages' | 'sink' | 'reminderMismatches' | 'runMismatches'
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
  expectedRuns: ExpectedRun[];
}

/**
 * Reads what the service did for the replay's tenant: its messages (GraphQL), its enrollments
 * by state (SQL, read-only), the mails the sink received, and, visitor by visitor, where the
 * reminders or run counts differ from the expectation. Waits for the sink to settle first.
 */
export async function readOutcome(sources: OutcomeSources): Promise<ServiceOutcome> {
  await sources.sink.settle();
  const messages = await listTriggerMessages(sources.client, sources.secret, sources.triggerId);
  const enrollments = await enrollmentsByVisitor(sources.db, sources.tenantId);
  const sent = messages.filter((m) => m.status === 'SENT');
  const received = sources.sink.received;

  return {
    enrollments: {
      total: enrollments.reduce((n, e) => n + e.count, 0),
      byState: tally(enrollments.map((e) => [e.state, e.count])),
    },
    messages: {
      byStatus: tally(messages.map((m) => [m.status, 1])),
      sent: sent.length,
      maxLatenessMs: sent.length === 0 ? null : Math.max(...sent.map(latenessMs)),
    },
    sink: {
      received: received.length,
      forTenant: received.filter((mail) => isMailOfTenant(mail.headers, sources.tenantId)).length,
    },
    ...compareByVisitor(sources.expectedRuns, sent, enrollments),
  };
}

interface EnrollmentCount {
  visitorId: string;
  state: string;
  count: number;
}

async function enrollmentsByVisitor(db: Database, tenantId: string): Promise<EnrollmentCount[]> {
  const found = await db.withTenant(tenantId, (tx) =>
    rows<{ external_id: string; state: string; count: number }>(
      tx,
      `SELECT c.external_id, e.state, count(*)::int AS count
       FROM enrollments e JOIN customers c ON c.tenant_id = e.tenant_id AND c.id = e.customer_id
       WHERE e.tenant_id = $1
       GROUP BY c.external_id, e.state`,
      [tenantId],
    ),
  );
  return found.map((r) => ({ visitorId: r.external_id, state: r.state, count: r.count }));
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
