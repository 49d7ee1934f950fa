import { startTestNudge, TestNudge } from './support/harness';
import { createApiKey, expectGraphQLError } from './support/graphql-helpers';
import { isoOf, listDecisions } from './support/scenario';
import {
  EXPERIMENT_RESULTS,
  experimentResults,
  inParallel,
  trackAll,
  variantMessages,
} from './support/experiments';
import { bucketOf, pickVariant } from '../src/engine/experiments/experiment-assignment';
import { requiredSamplePerVariant } from '../src/engine/experiments/experiment-stats';
import type { StepVariant } from '../src/engine/triggers/trigger-definition';

/**
 * Experiments beyond C18: a holdout that receives nothing and is still counted, the
 * fixed-horizon winner rule (no winner before the sample is in and its goal window closed),
 * promoteVariant, and the errors of both operations.
 */

const TEMPLATE = { subject: 'Come back', body: 'Hi {{ customer.externalId }}' };

const variant = (name: string, weight: number): StepVariant => ({
  name,
  weight,
  delay: null,
  delayMs: null,
  template: null,
  isHoldout: false,
});

describe('experiments: holdout, winner rule, promoteVariant', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  /** A tenant with `n` customers (with email), the clock at `start`. Returns ids too. */
  async function tenantWith(prefix: string, n: number, start: string) {
    const { secret, tenantId } = await t.createTenant(`t-${prefix}`);
    await t.setClock(start);
    const customers = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    const ids = new Map<string, string>();
    await inParallel(customers, 20, async (c) => {
      const data = await t.ok<any>(
        secret,
        `mutation($i: IdentifyInput!) { identify(input: $i) { id } }`,
        { i: { externalId: c, email: `${c}@example.test` } },
      );
      ids.set(c, data.identify.id);
    });
    return { secret, tenantId, customers, ids };
  }

  async function createTrigger(secret: string, input: object) {
    const data = await t.ok<any>(
      secret,
      `mutation($i: CreateTriggerInput!) {
         createTrigger(input: $i) { id version steps { experiment { id } } } }`,
      { i: input },
    );
    return {
      id: data.createTrigger.id as string,
      experimentId: data.createTrigger.steps[0].experiment?.id as string,
    };
  }

  const enterAll = (secret: string, customers: string[], at: string) =>
    trackAll(
      t,
      secret,
      customers.map((c) => ({ customerExternalId: c, event: 'visited', occurredAt: at })),
    );
  const buyAll = (secret: string, customers: string[], at: string) =>
    trackAll(
      t,
      secret,
      customers.map((c) => ({ customerExternalId: c, event: 'purchase', occurredAt: at })),
    );

  it('a holdout receives nothing for the step, is logged as HOLDOUT, and is counted in entries and conversions', async () => {
    const START = '2025-09-01T08:00:00.000Z';
    const s = await tenantWith('hold', 120, START);
    const trigger = await createTrigger(s.secret, {
      name: 'win-back',
      event: 'visited',
      goal: { event: 'purchase', within: 'P2D' },
      steps: [
        {
          delay: 'PT1H',
          channel: 'EMAIL',
          template: TEMPLATE,
          variants: [
            { name: 'mail', weight: 70 },
            { name: 'holdout', weight: 30, holdout: true },
          ],
        },
      ],
    });
    await enterAll(s.secret, s.customers, START);
    await t.setClock('2025-09-01T10:00:00.000Z');
    const buyers = s.customers.filter((_, i) => i % 3 === 0);
    await buyAll(s.secret, buyers, '2025-09-01T10:00:00.000Z');

    const assigned = (c: string) =>
      pickVariant(bucketOf(s.tenantId, trigger.experimentId, s.ids.get(c)!), [
        variant('mail', 70),
        variant('holdout', 30),
      ])!.name;
    const held = s.customers.filter((c) => assigned(c) === 'holdout');
    expect(held.length).toBeGreaterThan(15);

    const messages = await variantMessages(t, s.secret, trigger.id);
    expect(messages).toHaveLength(s.customers.length - held.length);
    expect(messages.every((m) => m.variant === 'mail' && m.status === 'SENT')).toBe(true);
    const decisions = await listDecisions(t, s.secret, held[0], trigger.id);
    expect(decisions.map((d) => [d.outcome, d.reason])).toContainEqual(['SKIPPED', 'HOLDOUT']);

    const r = await experimentResults(t, s.secret, trigger.id);
    expect(r).toMatchObject({ status: 'RUNNING', control: 'mail', name: null });
    const [mail, holdout] = r.variants;
    expect(holdout).toMatchObject({
      name: 'holdout',
      isHoldout: true,
      weight: 30,
      entries: held.length,
      sent: 0,
      conversions: held.filter((c) => buyers.includes(c)).length,
    });
    expect(mail).toMatchObject({
      isHoldout: false,
      entries: s.customers.length - held.length,
      sent: s.customers.length - held.length,
      conversions: buyers.length - held.filter((c) => buyers.includes(c)).length,
      uplift: null,
    });
    expect(holdout.medianTimeToConvertSeconds).toBe(2 * 3600);
    // Every conversion on both sides took exactly 2 h: the times cannot differ.
    expect(mail.timeToConvertPValue).toBeNull();
    expect(holdout.timeToConvertPValue).toBe(1);
    expect(holdout.uplift).toBeCloseTo(holdout.conversionRate! - mail.conversionRate!, 10);
  }, 300_000);

  it('a winner is declared only once every arm has the required sample with its goal window closed, decided on those runs', async () => {
    // baseline 0.2, MDE 0.2 → 82 runs per arm; 300 customers give ~150 per arm.
    const required = requiredSamplePerVariant(0.2, 0.2);
    expect(required).toBe(82);
    const START = '2025-09-03T08:00:00.000Z';
    const s = await tenantWith('win', 300, START);
    const trigger = await createTrigger(s.secret, {
      name: 'nudge-timing',
      event: 'visited',
      goal: { event: 'purchase', within: 'P1D' },
      steps: [
        {
          channel: 'EMAIL',
          template: TEMPLATE,
          variants: [
            { name: 'A', weight: 50, delay: 'PT2H' },
            { name: 'B', weight: 50, delay: 'PT1H' },
          ],
          experiment: { name: 'timing', baselineRate: 0.2, minimumDetectableEffect: 0.2 },
        },
      ],
    });
    await enterAll(s.secret, s.customers, START);
    const assigned = (c: string) =>
      pickVariant(bucketOf(s.tenantId, trigger.experimentId, s.ids.get(c)!), [
        variant('A', 50),
        variant('B', 50),
      ])!.name;
    // B converts 60 %, A 10 % — by far, but nothing may be declared before the horizon.
    const buyers = s.customers.filter((c, i) => (assigned(c) === 'B' ? i % 5 < 3 : i % 10 === 0));
    await t.setClock('2025-09-03T12:00:00.000Z');
    await buyAll(s.secret, buyers, '2025-09-03T12:00:00.000Z');

    const early = await experimentResults(t, s.secret, trigger.id);
    expect(early).toMatchObject({ status: 'RUNNING', winner: null, requiredSamplePerVariant: 82 });
    expect(early.variants[1].pValue).toBeLessThan(0.001);

    await t.setClock('2025-09-04T08:00:00.000Z'); // entry + P1D: every run's goal window closed
    const late = await experimentResults(t, s.secret, trigger.id);
    expect(late).toMatchObject({ status: 'WINNER_DECLARED', winner: 'B', control: 'A' });
    expect(late.variants[1].probabilityToBeatControl).toBeGreaterThan(0.999);

    // The same difference on fewer runs than required: never declared.
    const SMALL_START = '2025-09-04T08:00:00.000Z';
    const small = await tenantWith('small', 60, SMALL_START);
    const smallTrigger = await createTrigger(small.secret, {
      name: 'nudge-timing',
      event: 'visited',
      goal: { event: 'purchase', within: 'P1D' },
      steps: [
        {
          channel: 'EMAIL',
          template: TEMPLATE,
          variants: [
            { name: 'A', weight: 50 },
            { name: 'B', weight: 50 },
          ],
          experiment: { baselineRate: 0.2, minimumDetectableEffect: 0.2 },
        },
      ],
    });
    await enterAll(small.secret, small.customers, SMALL_START);
    const smallAssigned = (c: string) =>
      pickVariant(bucketOf(small.tenantId, smallTrigger.experimentId, small.ids.get(c)!), [
        variant('A', 50),
        variant('B', 50),
      ])!.name;
    await buyAll(
      small.secret,
      small.customers.filter((c) => smallAssigned(c) === 'B'),
      SMALL_START,
    );
    await t.setClock('2025-09-06T08:00:00.000Z');
    const tooFew = await experimentResults(t, small.secret, smallTrigger.id);
    expect(tooFew.variants[1].pValue).toBeLessThan(0.001);
    expect(tooFew).toMatchObject({ status: 'RUNNING', winner: null });
  }, 300_000);

  it('promoteVariant ends the test: a new version sends the winner to every new entrant, runs in flight keep their variant and time', async () => {
    const START = '2025-09-07T08:00:00.000Z';
    const s = await tenantWith('promo', 40, START);
    const trigger = await createTrigger(s.secret, {
      name: 'promo',
      event: 'visited',
      steps: [
        {
          channel: 'EMAIL',
          delay: 'PT3H',
          template: TEMPLATE,
          variants: [
            { name: 'A', weight: 50, delay: 'PT2H' },
            { name: 'B', weight: 50, delay: 'PT1H', template: { subject: 'B!', body: 'B body' } },
            { name: 'H', weight: 0, holdout: true },
          ],
        },
      ],
    });
    const [inFlight, later] = [s.customers.slice(0, 30), s.customers.slice(30)];
    await enterAll(s.secret, inFlight, START);

    const holdout = await t.request(
      s.secret,
      `mutation { promoteVariant(triggerId: "${trigger.id}", step: 0, variant: "H") { id } }`,
    );
    expectGraphQLError(holdout, 'BAD_USER_INPUT', 'variant');
    expectGraphQLError(
      await t.request(
        s.secret,
        `mutation { promoteVariant(triggerId: "${trigger.id}", step: 0, variant: "Z") { id } }`,
      ),
      'BAD_USER_INPUT',
      'variant',
    );
    expectGraphQLError(
      await t.request(
        s.secret,
        `mutation { promoteVariant(triggerId: "${trigger.id}", step: 3, variant: "B") { id } }`,
      ),
      'BAD_USER_INPUT',
      'step',
    );
    const reader = await createApiKey(t, s.secret, ['READ']);
    expectGraphQLError(
      await t.request(
        reader.secret,
        `mutation { promoteVariant(triggerId: "${trigger.id}", step: 0, variant: "B") { id } }`,
      ),
      'FORBIDDEN',
    );

    const data = await t.ok<any>(
      s.secret,
      `mutation($id: ID!) { promoteVariant(triggerId: $id, step: 0, variant: "B") {
         version steps { delay template { subject } variants { name } experiment { id } } } }`,
      { id: trigger.id },
    );
    expect(data.promoteVariant).toEqual({
      version: 2,
      steps: [{ delay: 'PT1H', template: { subject: 'B!' }, variants: [], experiment: null }],
    });
    expect(await experimentResults(t, s.secret, trigger.id)).toMatchObject({
      experimentId: trigger.experimentId,
      status: 'ENDED',
      winner: 'B',
    });
    expectGraphQLError(
      await t.request(
        s.secret,
        `mutation { promoteVariant(triggerId: "${trigger.id}", step: 0, variant: "B") { id } }`,
      ),
      'CONFLICT',
    );

    await t.setClock('2025-09-07T08:30:00.000Z');
    await enterAll(s.secret, later, '2025-09-07T08:30:00.000Z');
    await t.setClock('2025-09-07T12:00:00.000Z');
    const messages = await variantMessages(t, s.secret, trigger.id);
    expect(messages).toHaveLength(40);
    for (const m of messages) {
      const c = m.customer.externalId;
      if (later.includes(c)) {
        expect({ c, variant: m.variant, at: isoOf(m.sentAt!) }).toEqual({
          c,
          variant: null,
          at: '2025-09-07T09:30:00.000Z',
        });
        continue;
      }
      const was = pickVariant(bucketOf(s.tenantId, trigger.experimentId, s.ids.get(c)!), [
        variant('A', 50),
        variant('B', 50),
      ])!.name;
      const at = was === 'A' ? '2025-09-07T10:00:00.000Z' : '2025-09-07T09:00:00.000Z';
      expect({ c, variant: m.variant, at: isoOf(m.sentAt!) }).toEqual({ c, variant: was, at });
    }
  }, 300_000);

  it('archiving the trigger ends its running test, without a winner', async () => {
    const s = await tenantWith('arch', 0, '2025-09-08T08:00:00.000Z');
    const trigger = await createTrigger(s.secret, {
      name: 'arch',
      event: 'visited',
      steps: [
        {
          channel: 'EMAIL',
          template: TEMPLATE,
          variants: [
            { name: 'A', weight: 1 },
            { name: 'B', weight: 1 },
          ],
        },
      ],
    });
    expect((await experimentResults(t, s.secret, trigger.id)).status).toBe('RUNNING');
    await t.ok(
      s.secret,
      `mutation($id: ID!) { updateTrigger(id: $id, input: { status: ARCHIVED }) { id } }`,
      { id: trigger.id },
    );
    expect(await experimentResults(t, s.secret, trigger.id)).toMatchObject({
      experimentId: trigger.experimentId,
      status: 'ENDED',
      winner: null,
    });
  }, 120_000);

  it.each(['experiments', 'experiment_assignments', 'experiment_entries'])(
    'row-level security: %s shows a tenant only its own rows and refuses writes for another',
    async (table) => {
      const tenants = [];
      for (const name of ['rls-a', 'rls-b']) {
        const s = await tenantWith(`${name}-${table}`, 5, '2025-09-08T08:00:00.000Z');
        await createTrigger(s.secret, {
          name: 'rls',
          event: 'visited',
          steps: [
            {
              channel: 'EMAIL',
              template: TEMPLATE,
              variants: [
                { name: 'A', weight: 1 },
                { name: 'B', weight: 1 },
              ],
            },
          ],
        });
        await enterAll(s.secret, s.customers, '2025-09-08T08:00:00.000Z');
        tenants.push(s);
      }
      const [alpha, beta] = tenants;
      const count = async (tenantId: string) => {
        const [row] = await t.nudge.db.asSystem((tx) =>
          tx.query(`SELECT count(*)::int AS n FROM ${table} WHERE tenant_id = $1`, [tenantId]),
        );
        return (row as { n: number }).n;
      };
      expect(await count(alpha.tenantId)).toBeGreaterThan(0);
      const betaCount = await count(beta.tenantId);
      expect(betaCount).toBeGreaterThan(0);

      const seen = (await t.nudge.db.withTenant(beta.tenantId, (tx) =>
        tx.query(`SELECT tenant_id FROM ${table}`),
      )) as Array<{ tenant_id: string }>;
      expect(seen).toHaveLength(betaCount);
      expect(new Set(seen.map((r) => r.tenant_id))).toEqual(new Set([beta.tenantId]));

      await expect(
        t.nudge.db.withTenant(beta.tenantId, (tx) =>
          tx.query(`UPDATE ${table} SET tenant_id = $1`, [alpha.tenantId]),
        ),
      ).rejects.toThrow(/row-level security/);
    },
    120_000,
  );

  it('errors: another tenant’s trigger is NOT_FOUND, a missing step BAD_USER_INPUT, a step without variants NONE; bad experiment input names its field', async () => {
    const owner = await tenantWith('own', 0, '2025-09-08T08:00:00.000Z');
    const other = await tenantWith('other', 0, '2025-09-08T08:00:00.000Z');
    const trigger = await createTrigger(owner.secret, {
      name: 'plain',
      event: 'visited',
      steps: [{ channel: 'EMAIL', template: TEMPLATE }],
    });
    expectGraphQLError(
      await t.request(other.secret, EXPERIMENT_RESULTS, { triggerId: trigger.id, step: 0 }),
      'NOT_FOUND',
    );
    expectGraphQLError(
      await t.request(
        other.secret,
        `mutation { promoteVariant(triggerId: "${trigger.id}", step: 0, variant: "A") { id } }`,
      ),
      'NOT_FOUND',
    );
    expectGraphQLError(
      await t.request(owner.secret, EXPERIMENT_RESULTS, { triggerId: trigger.id, step: 1 }),
      'BAD_USER_INPUT',
      'step',
    );
    expect(await experimentResults(t, owner.secret, trigger.id)).toEqual({
      triggerId: trigger.id,
      step: 0,
      experimentId: null,
      name: null,
      status: 'NONE',
      control: null,
      winner: null,
      requiredSamplePerVariant: null,
      variants: [],
    });
    expectGraphQLError(
      await t.request(
        owner.secret,
        `mutation { promoteVariant(triggerId: "${trigger.id}", step: 0, variant: "A") { id } }`,
      ),
      'CONFLICT',
    );

    const bad = (step: object) =>
      t.request(
        owner.secret,
        `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`,
        {
          i: {
            name: 'bad',
            event: 'visited',
            steps: [{ channel: 'EMAIL', template: TEMPLATE, ...step }],
          },
        },
      );
    const two = [
      { name: 'A', weight: 1 },
      { name: 'B', weight: 1 },
    ];
    expectGraphQLError(
      await bad({ experiment: { name: 'x' } }),
      'BAD_USER_INPUT',
      'input.steps.0.experiment',
    );
    expectGraphQLError(
      await bad({ variants: two, experiment: { control: 'C' } }),
      'BAD_USER_INPUT',
      'input.steps.0.experiment.control',
    );
    expectGraphQLError(
      await bad({ variants: two, experiment: { baselineRate: 1.5 } }),
      'BAD_USER_INPUT',
      'input.steps.0.experiment.baselineRate',
    );
    expectGraphQLError(
      await bad({
        variants: [
          { name: 'A', weight: 1 },
          { name: 'H1', weight: 1, holdout: true },
          { name: 'H2', weight: 1, holdout: true },
        ],
      }),
      'BAD_USER_INPUT',
      'input.steps.0.variants.2.holdout',
    );
    expectGraphQLError(
      await bad({
        variants: [
          { name: 'A', weight: 1 },
          { name: 'H', weight: 1, holdout: true, delay: 'PT1H' },
        ],
      }),
      'BAD_USER_INPUT',
      'input.steps.0.variants.1',
    );
  }, 300_000);
});
