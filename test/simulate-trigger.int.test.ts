import { startTestNudge, TestNudge } from './support/harness';
import { expectGraphQLError } from './support/graphql-helpers';
import { createTrigger, identify, listMessages, track, uniqueEmail } from './support/scenario';

/**
 * `simulateTrigger` backtests a definition over stored events: it must decide exactly as the
 * live engine decided on the same history, and write or send nothing.
 */
const SIMULATE = `query($i: SimulateTriggerInput!) {
  simulateTrigger(input: $i) {
    entered reset notMatched blocked cancelled fired pending messages deferred suppressed
    customers eventsScanned byReason durationMs
    samples { customerExternalId at outcome reason detail }
  }
}`;

const CART = {
  name: 'cart reminder',
  event: 'added_to_cart',
  where: { field: 'event.properties.price', op: 'gte', value: 10 },
  entryKey: ['cartId'],
  unless: { event: 'purchase', within: 'PT2H', matchOn: ['cartId'] },
  reentry: { policy: 'ONCE_PER', period: 'P1D' },
  steps: [{ channel: 'EMAIL', template: { subject: 'Cart', body: 'Your cart' } }],
};

describe('simulateTrigger', () => {
  let t: TestNudge;
  let secret: string;

  beforeAll(async () => {
    t = await startTestNudge();
    ({ secret } = await t.createTenant('t-backtest', 'Europe/Berlin'));
  });
  afterAll(async () => {
    await t.stop();
  });

  /** A history with every kind of outcome, tracked on the live engine as it happens. */
  async function playHistory(): Promise<void> {
    await t.setClock('2025-03-03T08:00:00.000Z');
    for (const id of ['s-1', 's-2', 's-3', 's-4', 's-5']) {
      await identify(t, secret, id, uniqueEmail(id));
    }
    await t.ok(secret, `mutation { identify(input: { externalId: "s-6" }) { id } }`); // no email
    const at = (iso: string) => `2025-03-03T${iso}:00.000Z`;
    const history: Array<[string, string, string, Record<string, unknown>]> = [
      ['09:00', 's-1', 'added_to_cart', { cartId: 'a', price: 20 }], // reminded at 11:00
      ['09:00', 's-2', 'added_to_cart', { cartId: 'b', price: 20 }],
      ['10:00', 's-2', 'purchase', { cartId: 'b' }], // cancelled
      ['09:00', 's-3', 'added_to_cart', { cartId: 'c', price: 5 }], // condition false
      ['09:00', 's-4', 'added_to_cart', { cartId: 'd', price: 20 }],
      ['09:30', 's-4', 'added_to_cart', { cartId: 'd', price: 20 }], // reset → 11:30
      ['12:00', 's-4', 'added_to_cart', { cartId: 'e', price: 20 }], // blocked: P1D
      ['09:00', 's-5', 'added_to_cart', { cartId: 'f', price: 20 }],
      ['09:10', 's-5', 'purchase', { cartId: 'other' }], // other cart: reminded
      ['09:00', 's-6', 'added_to_cart', { cartId: 'g', price: 20 }], // suppressed: no email
    ];
    history.sort((a, b) => a[0].localeCompare(b[0]));
    for (const [time, customerExternalId, event, properties] of history) {
      await t.setClock(at(time));
      await track(t, secret, { customerExternalId, event, properties, occurredAt: at(time) });
    }
    await t.setClock('2025-03-04T00:00:00.000Z');
  }

  it('agrees with what the live engine did on the same history, and changes nothing', async () => {
    await playHistory();
    const before = await counts();

    const data = await t.ok<{ simulateTrigger: any }>(secret, SIMULATE, {
      i: { definition: CART, from: '2025-03-03T00:00:00Z', to: '2025-03-04T00:00:00Z' },
    });
    const sim = data.simulateTrigger;

    // The live run of the same definition, over the same events (created before them).
    const liveMessages = (await listMessages(t, secret, {})).filter(
      (m) => m.trigger.id === liveTriggerId,
    );
    expect(sim).toMatchObject({
      entered: 5, // s-1, s-2, s-4 (d), s-5, s-6
      reset: 1,
      notMatched: 1,
      blocked: 1,
      cancelled: 1,
      fired: 4,
      pending: 0,
      messages: 3,
      suppressed: 1,
      deferred: 0,
      customers: 5,
      eventsScanned: 10,
    });
    expect(liveMessages.filter((m) => m.status === 'SENT')).toHaveLength(sim.messages);
    expect(liveMessages.filter((m) => m.status === 'SUPPRESSED')).toHaveLength(sim.suppressed);
    expect(sim.byReason).toMatchObject({
      CONDITION_MET: 5,
      SAME_KEY_REENTRY: 1,
      CONDITION_FALSE: 1,
      REENTRY_NOT_ALLOWED: 1,
      ABSENCE_VIOLATED: 1,
      DEADLINE_PASSED: 4,
      INVALID_ADDRESS: 1,
    });
    const reasons = new Set(sim.samples.map((s: { reason: string }) => s.reason));
    expect(reasons).toEqual(new Set(Object.keys(sim.byReason)));
    expect(await counts()).toEqual(before);
  });

  let liveTriggerId = '';
  beforeAll(async () => {
    // The live trigger must exist before the history is played.
    liveTriggerId = await createTrigger(t, secret, CART);
  });

  async function counts() {
    const messages = await listMessages(t, secret, {});
    const triggers = await t.ok<{ triggers: { edges: unknown[] } }>(
      secret,
      `query { triggers(first: 100) { edges { node { id } } } }`,
    );
    return { messages: messages.length, triggers: triggers.triggers.edges.length };
  }

  it('takes a stored version’s definition as it is (a past version can be backtested)', async () => {
    const data = await t.ok<{
      trigger: { versions: Array<{ definition: Record<string, unknown> }> };
    }>(secret, `query($id: ID!) { trigger(id: $id) { versions { definition } } }`, {
      id: liveTriggerId,
    });
    const [stored] = data.trigger.versions;
    expect(stored.definition).not.toHaveProperty('steps.0.delayMs');
    const again = await t.ok<{ simulateTrigger: { entered: number } }>(secret, SIMULATE, {
      i: {
        definition: { name: 'v1 again', ...stored.definition },
        from: '2025-03-03T00:00:00Z',
        to: '2025-03-04T00:00:00Z',
      },
    });
    expect(again.simulateTrigger.entered).toBe(5);
  });

  it('rejects a bad definition or range with the field that is wrong', async () => {
    const bad = await t.request(secret, SIMULATE, {
      i: {
        definition: { ...CART, unless: { ...CART.unless, within: 'PT0S' } },
        from: '2025-03-03T00:00:00Z',
        to: '2025-03-04T00:00:00Z',
      },
    });
    expectGraphQLError(bad, 'BAD_USER_INPUT', 'input.definition.unless.within');
    const backwards = await t.request(secret, SIMULATE, {
      i: { definition: CART, from: '2025-03-04T00:00:00Z', to: '2025-03-03T00:00:00Z' },
    });
    expectGraphQLError(backwards, 'BAD_USER_INPUT', 'input.to');
  });
});
