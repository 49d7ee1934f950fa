import { Client } from 'pg';
import type { NudgeProcess } from './nudge-process';

/**
 * What B3 sends and what it expects back, shared by the workload (set-up) and its client
 * child (`bench/children/b3-event-client.ts`).
 *
 * Event `seq` of a run is for tenant `(seq >> 1) % tenants` and customer `<runTag>-<seq>`
 * (a customer of its own, created beforehand by SQL, so the customer's external id in the
 * `triggerFired` payload names the event). Even events are `b3_now`, which enters the
 * IMMEDIATE trigger: no `unless`, one EMAIL step with delay PT0S, so the run starts — and
 * `triggerFired` is announced — in the `track` call itself. Odd events are `b3_later`, which
 * enters the DELAYED trigger: `unless: { event: "b3_never", within: "PT1S" }`, so the run
 * waits for its deadline (occurredAt + 1 s) and `triggerFired` is announced when the deadline
 * timer fires. (A trigger whose first step is delayed 1 s would announce `triggerFired` at
 * entry, not after the second; only the absence window delays the firing itself.) Its one
 * EMAIL step has delay PT0S after the deadline. The customers have no email address, so the
 * steps end SUPPRESSED (INVALID_ADDRESS) without a delivery attempt: the timer and message
 * work is done, nothing leaves the machine.
 */

export const IMMEDIATE_EVENT = 'b3_now';
export const DELAYED_EVENT = 'b3_later';
export const DELAY_MS = 1000;

export type EventKind = 'immediate' | 'delayed';

export function kindOf(seq: number): EventKind {
  return seq % 2 === 0 ? 'immediate' : 'delayed';
}

export function tenantIndexOf(seq: number, tenants: number): number {
  return (seq >> 1) % tenants;
}

export function customerOf(runTag: string, seq: number): string {
  return `${runTag}-${seq}`;
}

/** The `seq` in a customer id made by `customerOf` for this run, or null. */
export function seqOf(
  runTag: string,
  customerExternalId: string | null | undefined,
): number | null {
  const prefix = `${runTag}-`;
  if (!customerExternalId?.startsWith(prefix)) return null;
  const seq = Number(customerExternalId.slice(prefix.length));
  return Number.isInteger(seq) && seq >= 0 ? seq : null;
}

export interface B3Triggers {
  immediate: string;
  delayed: string;
}

const CREATE_TRIGGER = `mutation CreateTrigger($input: CreateTriggerInput!) {
  createTrigger(input: $input) { id }
}`;

const STEP = {
  channel: 'EMAIL',
  template: { subject: 'Hello {{ customer.externalId }}', body: 'You did {{ event.name }}' },
};

/** Creates the tenant's two ACTIVE triggers over GraphQL; returns their ids. */
export async function createB3Triggers(nudge: NudgeProcess, secret: string): Promise<B3Triggers> {
  const create = async (input: Record<string, unknown>) =>
    (
      await nudge.client.request<{ createTrigger: { id: string } }>(
        'createTrigger',
        secret,
        CREATE_TRIGGER,
        { input },
      )
    ).createTrigger.id;
  return {
    immediate: await create({
      name: 'b3 immediate',
      event: IMMEDIATE_EVENT,
      steps: [{ ...STEP, delay: 'PT0S' }],
    }),
    delayed: await create({
      name: 'b3 delayed',
      event: DELAYED_EVENT,
      unless: { event: 'b3_never', within: `PT${DELAY_MS / 1000}S` },
      steps: [{ ...STEP, delay: 'PT0S' }],
    }),
  };
}

/** Inserts the customers `<runTag>-<seq>` of a run, each in its event's tenant. */
export async function seedB3Customers(
  databaseUrl: string,
  tenantIds: string[],
  runTag: string,
  events: number,
): Promise<void> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    for (let t = 0; t < tenantIds.length; t++) {
      await client.query(
        `INSERT INTO customers (tenant_id, external_id, created_at, updated_at)
         SELECT $1, $2 || '-' || g, now(), now()
         FROM generate_series(0, $3::int - 1) g WHERE (g / 2) % $4::int = $5::int`,
        [tenantIds[t], runTag, events, tenantIds.length, t],
      );
    }
  } finally {
    await client.end();
  }
}

/**
 * Waits (up to `timeoutMs`) until the database holds no PENDING timer due within the next
 * 2 s, so a run that left Nudge behind does not hand its backlog to the next run. Returns
 * how many were still due when it gave up (0 when settled).
 */
export async function waitUntilTimersSettled(
  databaseUrl: string,
  timeoutMs: number,
): Promise<number> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await client.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM timers
         WHERE state = 'PENDING' AND due_at <= now() + interval '2 seconds'`,
      );
      const due = Number(rows[0].n);
      if (due === 0 || Date.now() >= deadline) return due;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  } finally {
    await client.end();
  }
}

/**
 * How many of a run's events started their trigger's run in PostgreSQL (enrollments with
 * `activated_at` set, i.e. fired), whether or not the firing reached a subscriber in time.
 */
export async function countStartedRuns(databaseUrl: string, runTag: string): Promise<number> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM enrollments e
       JOIN customers c ON c.tenant_id = e.tenant_id AND c.id = e.customer_id
       WHERE c.external_id ~ ('^' || $1 || '-[0-9]+$') AND e.activated_at IS NOT NULL`,
      [runTag],
    );
    return Number(rows[0].n);
  } finally {
    await client.end();
  }
}
