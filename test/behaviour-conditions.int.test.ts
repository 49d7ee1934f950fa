import { startTestNudge, TestNudge } from './support/harness';
import { expectGraphQLError } from './support/graphql-helpers';
import {
  createTrigger,
  identifyWith,
  isoOf,
  listDecisions,
  listMessages,
  mailsTo,
  track,
  uniqueEmail,
  type DecisionNode,
} from './support/scenario';

/**
 * Behaviour conditions (`performed`) through the API. A `performed` node counts the
 * customer's stored events of that name whose occurredAt lies in `(t − within, t]`, t being
 * the entry event's occurredAt (so the entry counts itself), filtered by `where` on event
 * fields; `not performed` is "has not done it within the window". Windows are asserted to the
 * millisecond at their open start; negative cases carry a control customer.
 */
describe('behaviour conditions (performed)', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  const EMAIL_STEP = { channel: 'EMAIL', template: { subject: 'For you', body: 'Hello' } };

  const SHOES_3_IN_7_DAYS = {
    performed: {
      event: 'product_viewed',
      within: 'P7D',
      atLeast: 3,
      where: { field: 'event.properties.category', op: 'eq', value: 'shoes' },
    },
  };

  const SHOE_FAN_TRIGGER = {
    name: 'shoe-fan',
    event: 'product_viewed',
    where: SHOES_3_IN_7_DAYS,
    steps: [EMAIL_STEP],
  };

  const NO_PURCHASE_30_DAYS_TRIGGER = {
    name: 'no-recent-purchase',
    event: 'cart_viewed',
    where: { not: { performed: { event: 'purchase', within: 'P30D' } } },
    steps: [EMAIL_STEP],
  };

  async function freshTenant(
    trigger: Record<string, unknown>,
  ): Promise<{ secret: string; triggerId: string }> {
    const { secret } = await t.createTenant('t-behaviour');
    await t.setClock('2025-02-01T00:00:00.000Z');
    const triggerId = await createTrigger(t, secret, trigger);
    return { secret, triggerId };
  }

  async function customer(secret: string, externalId: string): Promise<string> {
    const email = uniqueEmail(externalId);
    await identifyWith(t, secret, { externalId, email });
    return email;
  }

  /** Moves the clock to `at` and tracks `event` that happened at that instant. */
  async function sendAt(
    secret: string,
    externalId: string,
    event: string,
    at: string,
    properties: Record<string, unknown> = {},
  ) {
    await t.setClock(at);
    return track(t, secret, { customerExternalId: externalId, event, properties, occurredAt: at });
  }

  const viewAt = (secret: string, externalId: string, at: string, category = 'shoes') =>
    sendAt(secret, externalId, 'product_viewed', at, { category });

  /** Exactly one email per due instant given, each SENT and scheduled and sent then. */
  async function expectEmailsAt(secret: string, externalId: string, email: string, dues: string[]) {
    const messages = await listMessages(t, secret, { customerExternalId: externalId });
    const sorted = [...messages].sort(
      (a, b) => Date.parse(a.scheduledFor) - Date.parse(b.scheduledFor),
    );
    expect(sorted.map((m) => isoOf(m.scheduledFor))).toEqual(dues.map(isoOf));
    expect(sorted.map((m) => isoOf(m.sentAt!))).toEqual(dues.map(isoOf));
    sorted.forEach((m) => expect(m).toMatchObject({ status: 'SENT', to: email }));
    expect(await mailsTo(t.smtp, email)).toHaveLength(dues.length);
  }

  const kinds = (decisions: DecisionNode[]) => decisions.map((d) => `${d.outcome}/${d.reason}`);

  describe('performed product_viewed (category shoes) at least 3 times within P7D', () => {
    it('enters on the 3rd shoes view within 7 days, not on the 1st or 2nd', async () => {
      const { secret, triggerId } = await freshTenant(SHOE_FAN_TRIGGER);
      const email = await customer(secret, 'cust-b01');

      await viewAt(secret, 'cust-b01', '2025-03-03T10:00:00.000Z');
      await viewAt(secret, 'cust-b01', '2025-03-04T10:00:00.000Z');
      await expectEmailsAt(secret, 'cust-b01', email, []);

      await viewAt(secret, 'cust-b01', '2025-03-05T10:00:00.000Z');
      await t.setClock('2025-03-06T00:00:00.000Z');
      await expectEmailsAt(secret, 'cust-b01', email, ['2025-03-05T10:00:00.000Z']);

      const decisions = await listDecisions(t, secret, 'cust-b01', triggerId);
      expect(kinds(decisions)).toEqual([
        'NOT_MATCHED/CONDITION_FALSE',
        'NOT_MATCHED/CONDITION_FALSE',
        'ENTERED/CONDITION_MET',
      ]);
      expect(decisions[0].detail).toEqual({ failingNode: 'performed', why: 'NO_MATCH' });
      expect(decisions[1].detail).toEqual({ failingNode: 'performed', why: 'NO_MATCH' });
      expect(decisions[2].event?.occurredAt).toBe('2025-03-05T10:00:00.000Z');
    });

    it('views of other categories, other events named alike, and other customers do not count', async () => {
      const { secret } = await freshTenant(SHOE_FAN_TRIGGER);
      const mixed = await customer(secret, 'cust-b02');
      const control = await customer(secret, 'cust-b03');
      await customer(secret, 'cust-b04');

      // Another customer's shoes views, another event with category shoes, other categories.
      await viewAt(secret, 'cust-b04', '2025-03-03T09:00:00.000Z');
      await viewAt(secret, 'cust-b04', '2025-03-03T09:30:00.000Z');
      await viewAt(secret, 'cust-b02', '2025-03-03T10:00:00.000Z');
      await sendAt(secret, 'cust-b02', 'product_clicked', '2025-03-03T11:00:00.000Z', {
        category: 'shoes',
      });
      await viewAt(secret, 'cust-b02', '2025-03-04T10:00:00.000Z', 'hats');
      await viewAt(secret, 'cust-b02', '2025-03-04T11:00:00.000Z', 'Shoes');
      await viewAt(secret, 'cust-b02', '2025-03-05T10:00:00.000Z');
      // Control: three shoes views in the same span.
      await viewAt(secret, 'cust-b03', '2025-03-05T10:00:00.000Z');
      await viewAt(secret, 'cust-b03', '2025-03-05T10:01:00.000Z');
      await viewAt(secret, 'cust-b03', '2025-03-05T10:02:00.000Z');
      await t.setClock('2025-03-06T00:00:00.000Z');

      await expectEmailsAt(secret, 'cust-b02', mixed, []);
      await expectEmailsAt(secret, 'cust-b03', control, ['2025-03-05T10:02:00.000Z']);

      // The third shoes view of cust-b02 enters.
      await viewAt(secret, 'cust-b02', '2025-03-06T10:00:00.000Z');
      await expectEmailsAt(secret, 'cust-b02', mixed, ['2025-03-06T10:00:00.000Z']);
    });

    it('views older than 7 days do not count', async () => {
      const { secret } = await freshTenant(SHOE_FAN_TRIGGER);
      const stale = await customer(secret, 'cust-b05');
      const control = await customer(secret, 'cust-b06');

      await viewAt(secret, 'cust-b05', '2025-02-20T10:00:00.000Z');
      await viewAt(secret, 'cust-b05', '2025-02-25T10:00:00.000Z');
      await viewAt(secret, 'cust-b06', '2025-02-27T10:00:00.000Z');
      await viewAt(secret, 'cust-b05', '2025-03-04T10:00:00.000Z');
      await viewAt(secret, 'cust-b06', '2025-03-04T10:00:00.000Z');
      // cust-b05: 2025-02-25 is more than 7 days before; only 2 views in the window.
      await viewAt(secret, 'cust-b05', '2025-03-05T10:00:00.000Z');
      await viewAt(secret, 'cust-b06', '2025-03-05T10:00:00.000Z');
      await t.setClock('2025-03-20T00:00:00.000Z');

      await expectEmailsAt(secret, 'cust-b05', stale, []);
      await expectEmailsAt(secret, 'cust-b06', control, ['2025-03-05T10:00:00.000Z']);
    });

    it('window boundary: a view exactly 7 days before the entry does not count, 1 ms later does', async () => {
      const { secret, triggerId } = await freshTenant(SHOE_FAN_TRIGGER);
      const exact = await customer(secret, 'cust-b07');
      const inside = await customer(secret, 'cust-b08');
      const entry = '2025-03-10T10:00:00.000Z';

      await viewAt(secret, 'cust-b07', '2025-03-03T10:00:00.000Z');
      await viewAt(secret, 'cust-b08', '2025-03-03T10:00:00.001Z');
      await viewAt(secret, 'cust-b07', '2025-03-09T10:00:00.000Z');
      await viewAt(secret, 'cust-b08', '2025-03-09T10:00:00.000Z');
      await viewAt(secret, 'cust-b07', entry);
      await track(t, secret, {
        customerExternalId: 'cust-b08',
        event: 'product_viewed',
        properties: { category: 'shoes' },
        occurredAt: entry,
      });
      await t.setClock('2025-03-20T00:00:00.000Z');

      await expectEmailsAt(secret, 'cust-b07', exact, []);
      await expectEmailsAt(secret, 'cust-b08', inside, [entry]);
      expect(kinds(await listDecisions(t, secret, 'cust-b07', triggerId))).toEqual([
        'NOT_MATCHED/CONDITION_FALSE',
        'NOT_MATCHED/CONDITION_FALSE',
        'NOT_MATCHED/CONDITION_FALSE',
      ]);
      expect(kinds(await listDecisions(t, secret, 'cust-b08', triggerId))).toEqual([
        'NOT_MATCHED/CONDITION_FALSE',
        'NOT_MATCHED/CONDITION_FALSE',
        'ENTERED/CONDITION_MET',
      ]);
    });
  });

  describe('not performed purchase within P30D, on cart_viewed', () => {
    const ENTRY = '2025-03-31T12:00:00.000Z';

    it('a customer who purchased within 30 days does not enter; 31 days ago or never does', async () => {
      const { secret, triggerId } = await freshTenant(NO_PURCHASE_30_DAYS_TRIGGER);
      const recent = await customer(secret, 'cust-p01');
      const old = await customer(secret, 'cust-p02');
      const never = await customer(secret, 'cust-p03');

      await sendAt(secret, 'cust-p02', 'purchase', '2025-02-28T12:00:00.000Z');
      await sendAt(secret, 'cust-p01', 'purchase', '2025-03-21T12:00:00.000Z');
      await sendAt(secret, 'cust-p01', 'cart_viewed', ENTRY);
      await sendAt(secret, 'cust-p02', 'cart_viewed', ENTRY);
      await sendAt(secret, 'cust-p03', 'cart_viewed', ENTRY);
      await t.setClock('2025-04-30T00:00:00.000Z');

      await expectEmailsAt(secret, 'cust-p01', recent, []);
      await expectEmailsAt(secret, 'cust-p02', old, [ENTRY]);
      await expectEmailsAt(secret, 'cust-p03', never, [ENTRY]);
      const decisions = await listDecisions(t, secret, 'cust-p01', triggerId);
      expect(kinds(decisions)).toEqual(['NOT_MATCHED/CONDITION_FALSE']);
      expect(decisions[0].detail).toEqual({ failingNode: 'not', why: 'NO_MATCH' });
    });

    it('window boundary: a purchase exactly 30 days before does not count, 1 ms later does', async () => {
      const { secret } = await freshTenant(NO_PURCHASE_30_DAYS_TRIGGER);
      const exact = await customer(secret, 'cust-p04');
      const inside = await customer(secret, 'cust-p05');

      await sendAt(secret, 'cust-p04', 'purchase', '2025-03-01T12:00:00.000Z');
      await sendAt(secret, 'cust-p05', 'purchase', '2025-03-01T12:00:00.001Z');
      await sendAt(secret, 'cust-p04', 'cart_viewed', ENTRY);
      await track(t, secret, {
        customerExternalId: 'cust-p05',
        event: 'cart_viewed',
        occurredAt: ENTRY,
      });
      await t.setClock('2025-04-30T00:00:00.000Z');

      await expectEmailsAt(secret, 'cust-p04', exact, [ENTRY]);
      await expectEmailsAt(secret, 'cust-p05', inside, []);
    });

    it('a purchase after the cart view does not undo the entry already made', async () => {
      const { secret } = await freshTenant(NO_PURCHASE_30_DAYS_TRIGGER);
      const email = await customer(secret, 'cust-p06');

      await sendAt(secret, 'cust-p06', 'cart_viewed', ENTRY);
      await sendAt(secret, 'cust-p06', 'purchase', '2025-03-31T12:00:01.000Z');
      // A later cart view, now with a purchase in the window, does not enter.
      await sendAt(secret, 'cust-p06', 'cart_viewed', '2025-04-01T12:00:00.000Z');
      await t.setClock('2025-04-30T00:00:00.000Z');

      await expectEmailsAt(secret, 'cust-p06', email, [ENTRY]);
    });
  });

  describe('validation of performed: BAD_USER_INPUT at the failing node', () => {
    const CREATE = `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`;
    const views = (performed: Record<string, unknown>) => ({
      performed: { event: 'product_viewed', within: 'P7D', atLeast: 3, ...performed },
    });
    const CASES: Array<[string, string, unknown]> = [
      ['within not a duration', 'input.where.performed.within', views({ within: '7 days' })],
      ['within missing', 'input.where.performed.within', views({ within: undefined })],
      ['within of zero', 'input.where.performed.within', views({ within: 'PT0S' })],
      ['within in months', 'input.where.performed.within', views({ within: 'P1M' })],
      [
        'atLeast negative inside all',
        'input.where.all.0.performed.atLeast',
        { all: [views({ atLeast: -1 })] },
      ],
      [
        'atLeast not an integer inside all',
        'input.where.all.0.performed.atLeast',
        { all: [views({ atLeast: 2.5 })] },
      ],
      [
        'atLeast a numeric string inside all',
        'input.where.all.0.performed.atLeast',
        { all: [views({ atLeast: '3' })] },
      ],
      ['atLeast 0 without atMost', 'input.where.performed.atLeast', views({ atLeast: 0 })],
      ['atMost below atLeast', 'input.where.performed.atMost', views({ atLeast: 3, atMost: 2 })],
      ['event missing', 'input.where.performed.event', views({ event: undefined })],
      ['unknown key', 'input.where.performed.count', views({ count: 3 })],
      [
        'a customer field inside performed.where',
        'input.where.performed.where.field',
        views({ where: { field: 'customer.traits.vip', op: 'eq', value: true } }),
      ],
      [
        'performed nested in performed.where',
        'input.where.performed.where.performed',
        views({ where: views({}) }),
      ],
      [
        'performed next to a comparison',
        'input.where',
        { ...views({}), field: 'event.name', op: 'eq', value: 'product_viewed' },
      ],
      [
        'a sixth performed node',
        'input.where.all.5.performed',
        { all: [1, 2, 3, 4, 5, 6].map((n) => views({ event: `e${n}` })) },
      ],
    ];

    it.each(CASES)('%s → %s', async (_label, field, where) => {
      const { secret } = await freshTenant(SHOE_FAN_TRIGGER);
      const response = await t.request(secret, CREATE, {
        i: { ...SHOE_FAN_TRIGGER, name: 'invalid', where },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', field);
      expect(response.data?.createTrigger ?? null).toBeNull();
      const listed = await t.ok<any>(
        secret,
        `{ triggers(first: 100) { edges { node { name } } } }`,
      );
      expect(listed.triggers.edges.map((e: any) => e.node.name)).toEqual(['shoe-fan']);
    });
  });
});
