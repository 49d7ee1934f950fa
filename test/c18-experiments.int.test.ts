import type { TestNudge } from './support/harness';
import { isoOf } from './support/scenario';
import {
  setTenantSettings,
  startNudgeWithPeers,
  stopPeers,
  ChannelPeers,
} from './support/sequences';
import { experimentResults, inParallel, trackAll, variantMessages } from './support/experiments';
import { bucketOf, pickVariant } from '../src/engine/experiments/experiment-assignment';
import { requiredSamplePerVariant } from '../src/engine/experiments/experiment-stats';
import type { StepVariant } from '../src/engine/triggers/trigger-definition';

/**
 * Field case C18: an A/B test of timing on J-cart (tenant t-prism). 1,000 customers enter at
 * 2025-08-04T10:00Z; A sends the SMS at entry + 24 h, B at entry + 6 h; goal: purchase of the
 * cart within P3D. Mid-test the split becomes A40/B40/C20 (C at + 12 h), later A goes to 0 %;
 * cust-18001 re-enters; finally the test is archived and a new one re-uses the name.
 * Everything goes through GraphQL on the manual clock; expected variants are recomputed from
 * (tenant, experiment id, customer id) with the documented hash.
 */

const SMS_BODY = { body: 'Your cart {{ event.properties.cartId }} is waiting' };

function steps(variants: Array<{ name: string; weight: number; delay: string }>) {
  return [
    {
      delay: 'PT24H',
      after: 'ENTRY',
      channel: 'SMS',
      template: SMS_BODY,
      variants,
      experiment: { name: 'sms-delay', baselineRate: 0.3, minimumDetectableEffect: 0.1 },
    },
  ];
}
const A = { name: 'A', weight: 50, delay: 'PT24H' };
const B = { name: 'B', weight: 50, delay: 'PT6H' };

const J_CART = {
  name: 'J-cart',
  event: 'added_to_cart',
  entryKey: ['cartId'],
  goal: { event: 'purchase', within: 'P3D', matchOn: ['cartId'] },
  steps: steps([A, B]),
};

const ids = (from: number, n: number) => Array.from({ length: n }, (_, i) => `cust-${from + i}`);
const OLD = ids(18000, 1000);
const AFTER_SPLIT = ids(19000, 300);
const AFTER_ZERO = ids(19300, 200);

/** The variant the documented hash gives a customer under some weights. */
function expected(tenantId: string, experimentId: string, customerId: string, weights: object) {
  const variants = Object.entries(weights).map(
    ([name, weight]): StepVariant => ({
      name,
      weight,
      delay: null,
      delayMs: null,
      template: null,
      isHoldout: false,
    }),
  );
  return pickVariant(bucketOf(tenantId, experimentId, customerId), variants)!.name;
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

function medianOf(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

describe('C18 A/B test of timing: sticky assignment, edits mid-test, per-variant metrics', () => {
  let t: TestNudge;
  let peers: ChannelPeers;
  let secret: string;
  let tenantId: string;
  let triggerId: string;
  let experimentId: string;
  /** Customer ids by external id (from `identify`). */
  const customerIds = new Map<string, string>();
  /** The variant of each customer's first run, recomputed from the documented hash. */
  const firstVariant = new Map<string, string>();
  const assign = (customers: string[], weights: object) => {
    for (const c of customers) {
      firstVariant.set(c, expected(tenantId, experimentId, customerIds.get(c)!, weights));
    }
  };
  /** OLD customers who buy cart -1 at 20:00 on the first day (after B's SMS, before A's). */
  const earlyBuyer = (c: string) => OLD.indexOf(c) % 4 === 0;
  /** OLD customers who buy cart -1 at 12:00 on the second day (after both). */
  const lateBuyer = (c: string) => OLD.indexOf(c) % 4 === 1;

  const results = () => experimentResults(t, secret, triggerId, 0);
  const updateSteps = async (input: object) => {
    const data = await t.ok<any>(
      secret,
      `mutation($id: ID!, $input: UpdateTriggerInput!) { updateTrigger(id: $id, input: $input) {
         version steps { experiment { id name } } } }`,
      { id: triggerId, input: { steps: input } },
    );
    return data.updateTrigger as { version: number; steps: Array<{ experiment: any }> };
  };
  const enter = (customers: string[], cart: string, at: string) =>
    trackAll(
      t,
      secret,
      customers.map((c) => ({
        customerExternalId: c,
        event: 'added_to_cart',
        properties: { cartId: `${c}-${cart}` },
        occurredAt: at,
      })),
    );
  const buy = (customers: string[], at: string) =>
    trackAll(
      t,
      secret,
      customers.map((c) => ({
        customerExternalId: c,
        event: 'purchase',
        properties: { cartId: `${c}-1` },
        occurredAt: at,
      })),
    );
  const identifyAll = (customers: string[]) =>
    inParallel(customers, 20, async (c) => {
      const data = await t.ok<{ identify: { id: string } }>(
        secret,
        `mutation($i: IdentifyInput!) { identify(input: $i) { id } }`,
        { i: { externalId: c, phone: `+1555${c.slice(5).padStart(7, '0')}` } },
      );
      customerIds.set(c, data.identify.id);
    });

  beforeAll(async () => {
    ({ t, peers } = await startNudgeWithPeers());
    const tenant = await t.createTenant('t-prism');
    secret = tenant.secret;
    tenantId = tenant.tenantId;
    await t.setClock('2025-08-04T09:00:00.000Z');
    await setTenantSettings(t, secret, {
      explicitConsentChannels: [],
      frequencyCaps: [{ purpose: 'MARKETING', channel: 'SMS', max: 1, within: 'P30D' }],
    });
    await identifyAll([...OLD, ...AFTER_SPLIT, ...AFTER_ZERO]);
    const data = await t.ok<any>(
      secret,
      `mutation($i: CreateTriggerInput!) {
         createTrigger(input: $i) { id steps { experiment { id name } } } }`,
      { i: J_CART },
    );
    triggerId = data.createTrigger.id;
    experimentId = data.createTrigger.steps[0].experiment.id;
  }, 300_000);

  afterAll(async () => {
    await t?.stop();
    if (peers) await stopPeers(peers);
  });

  it('1,000 customers entering at 10:00 split 500 ± 47 per variant, exactly as the hash of (tenant, test, customer) says', async () => {
    expect(experimentId).toMatch(/^[0-9a-f-]{36}$/);
    await t.setClock('2025-08-04T10:00:00.000Z');
    await enter(OLD, '1', '2025-08-04T10:00:00.000Z');

    const r = await results();
    expect(r).toMatchObject({
      experimentId,
      name: 'sms-delay',
      status: 'RUNNING',
      control: 'A',
      winner: null,
      requiredSamplePerVariant: requiredSamplePerVariant(0.3, 0.1),
    });
    const [a, b] = r.variants;
    expect([a.name, b.name]).toEqual(['A', 'B']);
    assign(OLD, { A: 50, B: 50 });
    expect({ A: a.entries, B: b.entries }).toEqual(countBy(OLD, (c) => firstVariant.get(c)!));
    expect(a.entries + b.entries).toBe(1000);
    expect(Math.abs(a.entries - 500)).toBeLessThanOrEqual(47);
    expect(Math.abs(b.entries - 500)).toBeLessThanOrEqual(47);
    expect(a.sent + b.sent).toBe(0);
  }, 300_000);

  it('B customers get the SMS at 2025-08-04T16:00Z', async () => {
    await t.setClock('2025-08-04T16:00:00.000Z');
    const early = await variantMessages(t, secret, triggerId);
    expect(early).toHaveLength(OLD.filter((c) => firstVariant.get(c) === 'B').length);
    for (const m of early) {
      expect(m.variant).toBe('B');
      expect(isoOf(m.sentAt!)).toBe('2025-08-04T16:00:00.000Z');
    }
    await t.setClock('2025-08-04T20:00:00.000Z');
    await buy(OLD.filter(earlyBuyer), '2025-08-04T20:00:00.000Z');
  }, 300_000);

  it('the split edit to A40/B40/C20 keeps the test id; customers in flight are neither reassigned nor rescheduled (A at 2025-08-05T10:00Z); only new entrants land in C', async () => {
    await t.setClock('2025-08-05T00:00:00.000Z');
    const edited = await updateSteps(
      steps([
        { ...A, weight: 40 },
        { ...B, weight: 40 },
        { name: 'C', weight: 20, delay: 'PT12H' },
      ]),
    );
    expect(edited.version).toBe(2);
    expect(edited.steps[0].experiment).toEqual({ id: experimentId, name: 'sms-delay' });

    await t.setClock('2025-08-05T01:00:00.000Z');
    await enter(AFTER_SPLIT, '1', '2025-08-05T01:00:00.000Z');
    await t.setClock('2025-08-05T12:00:00.000Z');
    await buy(OLD.filter(lateBuyer), '2025-08-05T12:00:00.000Z');
    await t.setClock('2025-08-07T00:00:00.000Z');

    assign(AFTER_SPLIT, { A: 40, B: 40, C: 20 });
    const all = await variantMessages(t, secret, triggerId);
    const byCustomer = new Map(all.map((m) => [m.customer.externalId, m]));
    for (const m of all) expect(m.variant).toBe(firstVariant.get(m.customer.externalId));
    for (const c of OLD) {
      const m = byCustomer.get(c);
      if (firstVariant.get(c) === 'A' && earlyBuyer(c)) {
        // Bought before A's SMS was due: the goal ended the run and nothing was sent.
        expect({ c, message: m }).toEqual({ c, message: undefined });
        continue;
      }
      const due = m!.variant === 'A' ? '2025-08-05T10:00:00.000Z' : '2025-08-04T16:00:00.000Z';
      expect({
        c,
        status: m!.status,
        scheduledFor: isoOf(m!.scheduledFor),
        sentAt: isoOf(m!.sentAt!),
      }).toEqual({ c, status: 'SENT', scheduledFor: due, sentAt: due });
    }
    expect(OLD.filter((c) => firstVariant.get(c) === 'C')).toHaveLength(0);
    const inC = AFTER_SPLIT.filter((c) => firstVariant.get(c) === 'C');
    expect(inC.length).toBeGreaterThan(30);
    for (const c of inC) expect(isoOf(byCustomer.get(c)!.sentAt!)).toBe('2025-08-05T13:00:00.000Z');
  }, 300_000);

  it('a variant at 0 % gets no new entrant', async () => {
    const edited = await updateSteps(
      steps([
        { ...A, weight: 0 },
        { ...B, weight: 50 },
        { name: 'C', weight: 50, delay: 'PT12H' },
      ]),
    );
    expect(edited.steps[0].experiment.id).toBe(experimentId);
    await t.setClock('2025-08-07T01:00:00.000Z');
    await enter(AFTER_ZERO, '1', '2025-08-07T01:00:00.000Z');
    await t.setClock('2025-08-08T12:00:00.000Z');

    assign(AFTER_ZERO, { A: 0, B: 50, C: 50 });
    const late = (await variantMessages(t, secret, triggerId)).filter((m) =>
      AFTER_ZERO.includes(m.customer.externalId),
    );
    expect(late).toHaveLength(200);
    expect(late.filter((m) => m.variant === 'A')).toHaveLength(0);
    for (const m of late) expect(m.variant).toBe(firstVariant.get(m.customer.externalId));
  }, 300_000);

  it('cust-18001 keeps its original variant on re-entry, and the frequency cap counts it as the same message', async () => {
    await t.setClock('2025-08-12T10:00:00.000Z');
    await enter(['cust-18001'], '2', '2025-08-12T10:00:00.000Z');
    await t.setClock('2025-08-14T00:00:00.000Z');

    const mine = (await variantMessages(t, secret, triggerId)).filter(
      (m) => m.customer.externalId === 'cust-18001',
    );
    expect(mine).toHaveLength(2);
    const [first, second] = mine;
    expect(second.enrollmentId).not.toBe(first.enrollmentId);
    expect(first.variant).toBe(firstVariant.get('cust-18001'));
    expect(second.variant).toBe(first.variant);
    expect({ status: second.status, reason: second.suppressionReason }).toEqual({
      status: 'SUPPRESSED',
      reason: 'FREQUENCY_CAP',
    });
  }, 300_000);

  it('metrics per variant (entries, sends, conversions, rate, median time to convert) match a recount; each conversion is credited to exactly one variant', async () => {
    const all = await variantMessages(t, secret, triggerId);
    const runs = [...firstVariant.entries()].map(([c, variant]) => ({ c, variant }));
    runs.push({ c: 'cust-18001', variant: firstVariant.get('cust-18001')! }); // its re-entry
    const secondsToConvert = (c: string) =>
      earlyBuyer(c) ? 10 * 3600 : lateBuyer(c) ? 26 * 3600 : null;

    const r = await results();
    expect(r.variants.map((v) => [v.name, v.weight])).toEqual([
      ['A', 0],
      ['B', 50],
      ['C', 50],
    ]);
    expect(r.variants.reduce((sum, v) => sum + v.conversions, 0)).toBe(500);
    for (const v of r.variants) {
      const mine = runs.filter((run) => run.variant === v.name);
      // The re-entry run of cust-18001 (cart -2) is never bought: only first runs convert.
      const converted = [...new Set(mine.map((run) => run.c))].filter(
        (c) => secondsToConvert(c) !== null,
      );
      expect({
        name: v.name,
        entries: v.entries,
        sent: v.sent,
        conversions: v.conversions,
      }).toEqual({
        name: v.name,
        entries: mine.length,
        sent: all.filter((m) => m.variant === v.name && m.status === 'SENT').length,
        conversions: converted.length,
      });
      expect(v.conversionRate).toBeCloseTo(converted.length / mine.length, 10);
      expect(v.medianTimeToConvertSeconds).toBe(
        medianOf(converted.map(secondsToConvert) as number[]),
      );
    }
    const [a, b, c] = r.variants;
    expect(a.uplift).toBeNull();
    expect(a.timeToConvertPValue).toBeNull();
    expect(b.timeToConvertPValue).toBeGreaterThanOrEqual(0);
    expect(b.timeToConvertPValue).toBeLessThanOrEqual(1);
    expect(b.uplift).toBeCloseTo(b.conversionRate! - a.conversionRate!, 10);
    expect(b.upliftLow!).toBeLessThan(b.uplift!);
    expect(b.upliftHigh!).toBeGreaterThan(b.uplift!);
    expect(b.pValue).toBeGreaterThanOrEqual(0);
    expect(b.pValue).toBeLessThanOrEqual(1);
    expect(c.conversions).toBe(0);
    expect(c.probabilityToBeatControl).toBeLessThan(0.001);
  }, 300_000);

  it('archiving the test and starting a new one named "sms-delay" gives a new id and fresh assignments, with no stale mapping; the cap spans both tests', async () => {
    await t.setClock('2025-08-20T00:00:00.000Z');
    const archived = await updateSteps([
      { delay: 'PT24H', after: 'ENTRY', channel: 'SMS', template: SMS_BODY },
    ]);
    expect(archived.steps[0].experiment).toBeNull();
    expect(await results()).toMatchObject({ experimentId, status: 'ENDED', winner: null });

    const restarted = await updateSteps(steps([A, B]));
    const newId = restarted.steps[0].experiment.id;
    expect(restarted.steps[0].experiment.name).toBe('sms-delay');
    expect(newId).not.toBe(experimentId);
    const fresh = await results();
    expect(fresh).toMatchObject({ experimentId: newId, status: 'RUNNING' });
    expect(fresh.variants.map((v) => v.entries)).toEqual([0, 0]);

    const returning = OLD.slice(0, 200);
    await t.setClock('2025-08-21T10:00:00.000Z');
    await enter(returning, '3', '2025-08-21T10:00:00.000Z');
    await t.setClock('2025-08-23T00:00:00.000Z');

    const now = (await variantMessages(t, secret, triggerId)).filter(
      (m) => isoOf(m.scheduledFor) >= '2025-08-21T00:00:00.000Z',
    );
    expect(now).toHaveLength(200);
    let unchanged = 0;
    for (const m of now) {
      const c = m.customer.externalId;
      expect(m.variant).toBe(expected(tenantId, newId, customerIds.get(c)!, { A: 50, B: 50 }));
      if (m.variant === firstVariant.get(c)) unchanged += 1;
      // The first test's SMS (if one went out) counts against the cap, whichever variant sent it.
      const hadSms = !(firstVariant.get(c) === 'A' && earlyBuyer(c));
      expect({ c, status: m.status, reason: m.suppressionReason }).toEqual({
        c,
        status: hadSms ? 'SUPPRESSED' : 'SENT',
        reason: hadSms ? 'FREQUENCY_CAP' : null,
      });
    }
    expect(unchanged).toBeGreaterThan(60);
    expect(unchanged).toBeLessThan(140);
    expect((await results()).variants.reduce((sum, v) => sum + v.entries, 0)).toBe(200);
  }, 300_000);
});
