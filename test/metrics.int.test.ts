import { rows } from '../src/platform/database';
import { compactMetricDeltas } from '../src/engine/metrics/metrics-store';
import { expectGraphQLError } from './support/graphql-helpers';
import type { TestNudge } from './support/harness';
import {
  COUNTS_FIELDS,
  expectedTotals,
  recountFromRawTables,
  type Recount,
} from './support/metrics-recount';
import { createTrigger, listMessages, track } from './support/scenario';
import { consent, startNudgeWithPeers, stopPeers, type ChannelPeers } from './support/sequences';

/**
 * Issue #5, metrics model and queries: counters are written where the engine acts, in the
 * same transaction, derived from rows that changed — so `triggerMetrics` equals a recount of
 * messages, enrollments, decisions and conversions, a retried step never counts twice, and
 * compaction into the hourly rollup changes no number. Another tenant's trigger is NOT_FOUND.
 */
const TRIGGER_METRICS = `query($id: ID!, $from: DateTime!, $to: DateTime!, $bucket: MetricBucket) {
  triggerMetrics(triggerId: $id, from: $from, to: $to, bucket: $bucket) {
    triggerId from to bucket
    totals { ${COUNTS_FIELDS} }
    buckets { start counts { ${COUNTS_FIELDS} } }
    steps { step channel variant counts { ${COUNTS_FIELDS} } }
  }
}`;
const OVERVIEW = `query($from: DateTime!, $to: DateTime!) {
  metricsOverview(from: $from, to: $to) {
    from to totals { ${COUNTS_FIELDS} } triggers { triggerId name totals { ${COUNTS_FIELDS} } }
  }
}`;
const IDENTIFY = `mutation($i: IdentifyInput!) { identify(input: $i) { id } }`;

const FLOW = {
  name: 'welcome flow',
  event: 'signed_up',
  steps: [
    {
      channel: 'EMAIL',
      delay: 'PT10M',
      template: { subject: 'Welcome', body: 'Hello' },
      variants: [
        { name: 'A', weight: 50 },
        { name: 'B', weight: 50, template: { subject: 'Welcome!', body: 'Hi' } },
      ],
    },
    { channel: 'SMS', delay: 'PT1H', template: { body: 'Still there?' } },
  ],
  goal: { event: 'purchase', within: 'P7D' },
};

const START = '2025-07-08T10:00:00.000Z';
const WIDE = { from: '2025-07-01T00:00:00Z', to: '2025-08-01T00:00:00Z' };

describe('#5 metrics model and queries', () => {
  let t: TestNudge;
  let peers: ChannelPeers;

  beforeAll(async () => {
    ({ t, peers } = await startNudgeWithPeers());
  });
  afterAll(async () => {
    await t.stop();
    await stopPeers(peers);
  });

  /** A tenant whose flow ran for six customers: sends, suppressions, a conversion with value. */
  async function ranFlow(
    finish: 'all' | 'after-emails' = 'all',
  ): Promise<{ tenantId: string; secret: string; triggerId: string }> {
    const { tenantId, secret } = await t.createTenant('t-metrics');
    await t.setClock(START);
    const triggerId = await createTrigger(t, secret, FLOW);
    for (let i = 1; i <= 6; i++) {
      const contact: Record<string, string> = { externalId: `c${i}` };
      if (i !== 3) contact.email = `c${i}.${tenantId.slice(0, 8)}@example.test`;
      if (i % 2 === 0) contact.phone = `+1555010000${i}`;
      await t.ok(secret, IDENTIFY, { i: contact });
    }
    await consent(t, secret, 'grantConsent', {
      customerExternalId: 'c4',
      channel: 'SMS',
      purpose: 'MARKETING',
    });
    for (let i = 1; i <= 6; i++) {
      await track(t, secret, { customerExternalId: `c${i}`, event: 'signed_up' });
    }
    if (finish === 'after-emails') {
      await t.setClock('2025-07-08T10:15:00.000Z');
      return { tenantId, secret, triggerId };
    }
    await t.setClock('2025-07-08T10:20:00.000Z');
    await track(t, secret, {
      customerExternalId: 'c1',
      event: 'purchase',
      properties: { value: 42.5 },
    });
    await track(t, secret, {
      customerExternalId: 'c2',
      event: 'purchase',
      properties: { value: 'not a number' },
    });
    await t.setClock('2025-07-08T13:00:00.000Z');
    return { tenantId, secret, triggerId };
  }

  async function metricsOf(secret: string, triggerId: string, bucket = 'DAY', range = WIDE) {
    const data = await t.ok<any>(secret, TRIGGER_METRICS, { id: triggerId, bucket, ...range });
    return data.triggerMetrics;
  }

  function stepsOf(r: Recount) {
    return r.steps.map((s) => ({
      step: s.step,
      channel: s.channel,
      variant: s.variant,
      sent: s.sent,
      opened: s.opened,
      failed: s.failed,
      suppressed: s.suppressed,
      conversions: s.conversions,
    }));
  }

  function stepsOfApi(steps: any[]) {
    return steps.map((s) => ({
      step: s.step,
      channel: s.channel,
      variant: s.variant,
      sent: s.counts.sent,
      opened: s.counts.opened,
      failed: s.counts.failed,
      suppressed: s.counts.suppressed,
      conversions: s.counts.conversions,
    }));
  }

  it('triggerMetrics equals a recount from messages, enrollments, decisions and conversions, and what `messages` shows', async () => {
    const { tenantId, secret, triggerId } = await ranFlow();
    const metrics = await metricsOf(secret, triggerId);
    const recount = await recountFromRawTables(t.nudge.db, tenantId, triggerId);

    expect(metrics.totals).toEqual(expectedTotals(recount));
    expect(stepsOfApi(metrics.steps)).toEqual(stepsOf(recount));
    // The scenario exercised what it claims to: sends, both suppression kinds, a valued goal.
    expect(metrics.totals).toMatchObject({ eligible: 6, entries: 6, conversions: 2 });
    expect(metrics.totals.attributedValue).toBe(42.5);
    expect(metrics.totals.sent).toBeGreaterThanOrEqual(5);
    expect(metrics.totals.suppressedByReason.map((r: any) => r.reason).sort()).toEqual([
      'INVALID_ADDRESS',
      'NO_CONSENT',
    ]);
    expect(metrics.totals.timeToConvertMedianSeconds).toBe(20 * 60);

    const messages = await listMessages(t, secret, { triggerId });
    const sentShown = messages.filter((m) =>
      ['SENT', 'DELIVERED', 'OPENED', 'CLICKED'].includes(m.status),
    ).length;
    expect(metrics.totals.sent).toBe(sentShown);
    expect(metrics.totals.suppressed).toBe(
      messages.filter((m) => m.status === 'SUPPRESSED').length,
    );
  });

  it('buckets cover the widened range, sum to the totals, and count each thing by when it happened', async () => {
    const { tenantId, secret, triggerId } = await ranFlow();
    const range = { from: '2025-07-08T09:30:00Z', to: '2025-07-08T12:10:00Z' };
    const hourly = await metricsOf(secret, triggerId, 'HOUR', range);

    expect(hourly.from).toBe('2025-07-08T09:00:00.000Z');
    expect(hourly.to).toBe('2025-07-08T13:00:00.000Z');
    expect(hourly.buckets.map((b: any) => b.start)).toEqual([
      '2025-07-08T09:00:00.000Z',
      '2025-07-08T10:00:00.000Z',
      '2025-07-08T11:00:00.000Z',
      '2025-07-08T12:00:00.000Z',
    ]);
    for (const name of ['eligible', 'entries', 'sent', 'suppressed', 'conversions']) {
      const summed = hourly.buckets.reduce((n: number, b: any) => n + b.counts[name], 0);
      expect(summed).toBe(hourly.totals[name]);
    }
    // Entries, emails and conversions happened at 10:xx; the SMS step came due at 11:10.
    const recount10 = await recountFromRawTables(
      t.nudge.db,
      tenantId,
      triggerId,
      new Date('2025-07-08T10:00:00Z'),
      new Date('2025-07-08T11:00:00Z'),
    );
    expect(hourly.buckets[1].counts).toEqual(expectedTotals(recount10));
    expect(hourly.buckets[1].counts.entries).toBe(6);
    expect(hourly.buckets[2].counts.entries).toBe(0);
    expect(hourly.buckets[2].counts.suppressed + hourly.buckets[2].counts.sent).toBeGreaterThan(0);
  });

  it('a retried step and a retried event count once', async () => {
    const { tenantId, secret, triggerId } = await ranFlow('after-emails');
    const before = await metricsOf(secret, triggerId);
    expect(before.totals).toMatchObject({ entries: 6, sent: 5, suppressed: 1 });

    // The email steps run again, as after a lost acknowledgement: the runs are still active,
    // so each re-run reaches the message insert, which finds its step's message already there.
    const reset = await t.nudge.db.withTenant(tenantId, (tx) =>
      rows(
        tx,
        `UPDATE timers SET state = 'PENDING' WHERE tenant_id = $1 AND kind = 'STEP'
           AND step_index = 0 RETURNING id`,
        [tenantId],
      ),
    );
    expect(reset).toHaveLength(6);
    await t.nudge.timers.rebuildIndex();
    await t.setClock('2025-07-08T10:16:00.000Z');
    const pending = await t.nudge.db.withTenant(tenantId, (tx) =>
      rows(
        tx,
        `SELECT id FROM timers WHERE tenant_id = $1 AND kind = 'STEP' AND step_index = 0
           AND state = 'PENDING'`,
        [tenantId],
      ),
    );
    expect(pending).toHaveLength(0);

    // The same sign-up again, by messageId: a duplicate, not a second evaluation.
    const first = await track(t, secret, {
      customerExternalId: 'c5',
      event: 'signed_up',
      messageId: 'retry-1',
    });
    const again = await track(t, secret, {
      customerExternalId: 'c5',
      event: 'signed_up',
      messageId: 'retry-1',
    });
    expect(again).toEqual({ eventId: first.eventId, duplicate: true });

    const after = await metricsOf(secret, triggerId);
    expect(after.totals).toMatchObject({ eligible: 7, sent: 5, suppressed: 1 });
    expect(after.steps).toEqual(before.steps);
    expect(after.totals).toEqual(
      expectedTotals(await recountFromRawTables(t.nudge.db, tenantId, triggerId)),
    );
  });

  it('compacting the deltas into the hourly rollup changes no number', async () => {
    const { secret, triggerId } = await ranFlow();
    const before = await metricsOf(secret, triggerId, 'HOUR', {
      from: '2025-07-08T00:00:00Z',
      to: '2025-07-09T00:00:00Z',
    });
    let folded = 0;
    for (let n = -1; n !== 0; folded += n) n = await t.nudge.db.asSystem(compactMetricDeltas);
    expect(folded).toBeGreaterThan(0);
    const after = await metricsOf(secret, triggerId, 'HOUR', {
      from: '2025-07-08T00:00:00Z',
      to: '2025-07-09T00:00:00Z',
    });
    expect(after).toEqual(before);
  });

  it('metricsOverview gives the tenant totals and each trigger, and nothing of other tenants', async () => {
    const mine = await ranFlow();
    const other = await ranFlow();
    const secondId = await createTrigger(t, mine.secret, { ...FLOW, name: 'quiet one' });
    const data = await t.ok<any>(mine.secret, OVERVIEW, WIDE);
    const overview = data.metricsOverview;

    expect(overview.triggers.map((x: any) => [x.triggerId, x.name])).toEqual([
      [mine.triggerId, 'welcome flow'],
      [secondId, 'quiet one'],
    ]);
    const flow = await metricsOf(mine.secret, mine.triggerId);
    expect(overview.triggers[0].totals).toEqual(flow.totals);
    expect(overview.totals).toEqual(flow.totals);
    expect(overview.triggers[1].totals).toMatchObject({ eligible: 0, sent: 0, conversions: 0 });
    expect(overview.triggers.map((x: any) => x.triggerId)).not.toContain(other.triggerId);
  });

  it('another tenant’s trigger is NOT_FOUND, an empty or oversized range is BAD_USER_INPUT', async () => {
    const mine = await ranFlow();
    const other = await t.createTenant('t-other');
    const foreign = await t.request(other.secret, TRIGGER_METRICS, {
      id: mine.triggerId,
      ...WIDE,
    });
    expectGraphQLError(foreign, 'NOT_FOUND', 'triggerId');
    const garbage = await t.request(other.secret, TRIGGER_METRICS, { id: 'nope', ...WIDE });
    expectGraphQLError(garbage, 'NOT_FOUND', 'triggerId');

    const backwards = await t.request(mine.secret, TRIGGER_METRICS, {
      id: mine.triggerId,
      from: WIDE.to,
      to: WIDE.from,
    });
    expectGraphQLError(backwards, 'BAD_USER_INPUT', 'to');
    const huge = await t.request(mine.secret, TRIGGER_METRICS, {
      id: mine.triggerId,
      from: '2020-01-01T00:00:00Z',
      to: '2025-01-01T00:00:00Z',
      bucket: 'HOUR',
    });
    expectGraphQLError(huge, 'BAD_USER_INPUT', 'to');
  });
});
