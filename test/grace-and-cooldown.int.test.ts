import { startTestNudge, TestNudge } from './support/harness';
import {
  CART_ABANDONMENT_TRIGGER,
  createTrigger,
  DecisionNode,
  identify,
  isoOf,
  listDecisions,
  listRunMessages,
  mailsTo,
  track,
  uniqueEmail,
} from './support/scenario';

/**
 * Grace periods on absence deadlines (`unless.grace`) and cooldowns (issue #3). The C05 cart
 * trigger ("added_to_cart, unless a purchase of that cart within 2 h") is the base: an entry
 * at 10:00 has its deadline at 12:00. With `grace: PT10M` that deadline is processed at 12:10.
 */

const withGrace = (grace: string, steps: unknown[] = CART_ABANDONMENT_TRIGGER.steps) => ({
  ...CART_ABANDONMENT_TRIGGER,
  unless: { ...CART_ABANDONMENT_TRIGGER.unless, grace },
  steps,
});

const decided = (d: DecisionNode) => [d.outcome, d.reason, isoOf(d.at)];

describe('grace periods and cooldowns', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  async function tenant(): Promise<string> {
    const { secret } = await t.createTenant('t-grace');
    await t.setClock('2025-05-06T09:00:00.000Z');
    return secret;
  }

  async function customer(secret: string, externalId: string): Promise<string> {
    const email = uniqueEmail(externalId);
    await identify(t, secret, externalId, email);
    return email;
  }

  /** Tracks an event at the current service clock, with an explicit `occurredAt`. */
  function send(secret: string, externalId: string, event: string, cartId: string, at: string) {
    return track(t, secret, {
      customerExternalId: externalId,
      event,
      properties: { cartId },
      occurredAt: at,
    });
  }

  async function sendAt(
    secret: string,
    externalId: string,
    event: string,
    cartId: string,
    at: string,
  ) {
    await t.setClock(at);
    return send(secret, externalId, event, cartId, at);
  }

  /** (scheduledFor, sentAt, status) of the customer's messages, by schedule. */
  async function sends(secret: string, externalId: string) {
    const messages = await listRunMessages(t, secret, { customerExternalId: externalId });
    return messages
      .map((m) => [isoOf(m.scheduledFor), m.sentAt && isoOf(m.sentAt), m.status])
      .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  }

  const sent = (iso: string) => [isoOf(iso), isoOf(iso), 'SENT'];

  describe('unless.grace', () => {
    it('grace PT10M: a purchase inside the window, ingested 5 min after the deadline, still cancels; the control is reminded at deadline + 10 min', async () => {
      const secret = await tenant();
      const id = await createTrigger(t, secret, withGrace('PT10M'));
      const trigger = await t.ok<any>(
        secret,
        `query($id: ID!) { trigger(id: $id) { unless { grace } } }`,
        {
          id,
        },
      );
      expect(trigger.trigger.unless.grace).toBe('PT10M');
      const buyer = await customer(secret, 'cust-1');
      const control = await customer(secret, 'cust-2');
      await sendAt(secret, 'cust-1', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
      await send(secret, 'cust-2', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');

      await t.setClock('2025-05-06T12:05:00.000Z');
      await send(secret, 'cust-1', 'purchase', 'c-1', '2025-05-06T11:30:00.000Z');
      await t.setClock('2025-05-06T12:09:59.999Z');
      expect(await sends(secret, 'cust-2')).toEqual([]);
      await t.setClock('2025-05-06T15:00:00.000Z');

      expect(await sends(secret, 'cust-1')).toEqual([]);
      expect(await mailsTo(t.smtp, buyer)).toHaveLength(0);
      expect((await listDecisions(t, secret, 'cust-1', id)).map(decided)).toEqual([
        ['ENTERED', 'CONDITION_MET', '2025-05-06T10:00:00.000Z'],
        ['CANCELLED', 'ABSENCE_VIOLATED', '2025-05-06T12:05:00.000Z'],
      ]);

      expect(await sends(secret, 'cust-2')).toEqual([sent('2025-05-06T12:10:00.000Z')]);
      expect(await mailsTo(t.smtp, control)).toHaveLength(1);
      const controlDecisions = await listDecisions(t, secret, 'cust-2', id);
      expect(controlDecisions.map(decided)).toEqual([
        ['ENTERED', 'CONDITION_MET', '2025-05-06T10:00:00.000Z'],
        ['FIRED', 'DEADLINE_PASSED', '2025-05-06T12:10:00.000Z'],
      ]);
      expect(controlDecisions[0].detail).toMatchObject({ deadline: '2025-05-06T12:00:00.000Z' });
      expect(controlDecisions[1].detail).toMatchObject({ deadline: '2025-05-06T12:00:00.000Z' });
    });

    it('without grace (PT0S, the default) the same late purchase does not cancel: the reminder went out at 12:00', async () => {
      const secret = await tenant();
      const id = await createTrigger(t, secret, CART_ABANDONMENT_TRIGGER);
      const trigger = await t.ok<any>(
        secret,
        `query($id: ID!) { trigger(id: $id) { unless { grace } } }`,
        {
          id,
        },
      );
      expect(trigger.trigger.unless.grace).toBe('PT0S');
      const email = await customer(secret, 'cust-1');
      await sendAt(secret, 'cust-1', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
      await t.setClock('2025-05-06T12:05:00.000Z');
      await send(secret, 'cust-1', 'purchase', 'c-1', '2025-05-06T11:30:00.000Z');
      await t.setClock('2025-05-06T15:00:00.000Z');

      expect(await sends(secret, 'cust-1')).toEqual([sent('2025-05-06T12:00:00.000Z')]);
      expect(await mailsTo(t.smtp, email)).toHaveLength(1);
      expect((await listDecisions(t, secret, 'cust-1', id)).map(decided)).toEqual([
        ['ENTERED', 'CONDITION_MET', '2025-05-06T10:00:00.000Z'],
        ['FIRED', 'DEADLINE_PASSED', '2025-05-06T12:00:00.000Z'],
      ]);
    });

    it('grace boundaries: a purchase at the deadline ingested at 12:09:59.999 cancels; one ingested at 12:10 does not; one 1 ms after the deadline never does', async () => {
      const secret = await tenant();
      await createTrigger(t, secret, withGrace('PT10M'));
      const atDeadline = await customer(secret, 'cust-1');
      const tooLate = await customer(secret, 'cust-2');
      const outside = await customer(secret, 'cust-3');
      await t.setClock('2025-05-06T10:00:00.000Z');
      for (const id of ['cust-1', 'cust-2', 'cust-3']) {
        await send(secret, id, 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
      }

      await t.setClock('2025-05-06T12:05:00.000Z');
      await send(secret, 'cust-3', 'purchase', 'c-1', '2025-05-06T12:00:00.001Z');
      await t.setClock('2025-05-06T12:09:59.999Z');
      await send(secret, 'cust-1', 'purchase', 'c-1', '2025-05-06T12:00:00.000Z');
      await t.setClock('2025-05-06T12:10:00.000Z');
      await send(secret, 'cust-2', 'purchase', 'c-1', '2025-05-06T11:59:00.000Z');
      await t.setClock('2025-05-06T15:00:00.000Z');

      expect(await sends(secret, 'cust-1')).toEqual([]);
      expect(await mailsTo(t.smtp, atDeadline)).toHaveLength(0);
      expect(await sends(secret, 'cust-2')).toEqual([sent('2025-05-06T12:10:00.000Z')]);
      expect(await mailsTo(t.smtp, tooLate)).toHaveLength(1);
      expect(await sends(secret, 'cust-3')).toEqual([sent('2025-05-06T12:10:00.000Z')]);
      expect(await mailsTo(t.smtp, outside)).toHaveLength(1);
    });

    it('grace: a same-key entry before the deadline, ingested during the grace, moves the run; one at the deadline starts a new run', async () => {
      const secret = await tenant();
      const id = await createTrigger(t, secret, withGrace('PT10M'));
      const moved = await customer(secret, 'cust-1');
      const second = await customer(secret, 'cust-2');
      await t.setClock('2025-05-06T10:00:00.000Z');
      await send(secret, 'cust-1', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
      await send(secret, 'cust-2', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');

      await t.setClock('2025-05-06T12:05:00.000Z');
      await send(secret, 'cust-1', 'added_to_cart', 'c-1', '2025-05-06T11:50:00.000Z');
      await send(secret, 'cust-2', 'added_to_cart', 'c-1', '2025-05-06T12:00:00.000Z');
      await t.setClock('2025-05-06T18:00:00.000Z');

      expect(await sends(secret, 'cust-1')).toEqual([sent('2025-05-06T14:00:00.000Z')]);
      expect(await mailsTo(t.smtp, moved)).toHaveLength(1);
      const decisions = await listDecisions(t, secret, 'cust-1', id);
      expect(decisions.map(decided)).toEqual([
        ['ENTERED', 'CONDITION_MET', '2025-05-06T10:00:00.000Z'],
        ['RESET', 'SAME_KEY_REENTRY', '2025-05-06T12:05:00.000Z'],
        ['FIRED', 'DEADLINE_PASSED', '2025-05-06T14:00:00.000Z'],
      ]);
      expect(decisions[1].detail).toEqual({ moved: true, deadline: '2025-05-06T13:50:00.000Z' });

      expect(await sends(secret, 'cust-2')).toEqual([
        sent('2025-05-06T12:10:00.000Z'),
        sent('2025-05-06T14:10:00.000Z'),
      ]);
      expect(await mailsTo(t.smtp, second)).toHaveLength(2);
    });

    it('grace: the first step counts its delay from deadline + grace', async () => {
      const secret = await tenant();
      await createTrigger(
        t,
        secret,
        withGrace('PT10M', [
          { delay: 'PT30M', channel: 'EMAIL', template: { subject: 'One', body: 'One' } },
          { delay: 'PT1H', channel: 'EMAIL', template: { subject: 'Two', body: 'Two' } },
        ]),
      );
      await customer(secret, 'cust-1');
      await sendAt(secret, 'cust-1', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
      await t.setClock('2025-05-06T18:00:00.000Z');

      expect(await sends(secret, 'cust-1')).toEqual([
        sent('2025-05-06T12:40:00.000Z'),
        sent('2025-05-06T13:40:00.000Z'),
      ]);
    });
  });

  describe('cooldown', () => {
    const CART_COOLDOWN = { ...CART_ABANDONMENT_TRIGGER, name: 'cart-cooldown', cooldown: 'P1D' };

    it('cooldown P1D, absence trigger: a second cart 1 h later is CANCELLED / COOLDOWN at its deadline; the control with only that cart is reminded', async () => {
      const secret = await tenant();
      const id = await createTrigger(t, secret, CART_COOLDOWN);
      const email = await customer(secret, 'cust-1');
      const control = await customer(secret, 'cust-2');
      await sendAt(secret, 'cust-1', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
      await sendAt(secret, 'cust-1', 'added_to_cart', 'c-2', '2025-05-06T11:00:00.000Z');
      await send(secret, 'cust-2', 'added_to_cart', 'c-2', '2025-05-06T11:00:00.000Z');
      await t.setClock('2025-05-06T15:00:00.000Z');

      const messages = await listRunMessages(t, secret, { customerExternalId: 'cust-1' });
      expect(messages.map((m) => [isoOf(m.scheduledFor), isoOf(m.sentAt!), m.body])).toEqual([
        ['2025-05-06T12:00:00.000Z', '2025-05-06T12:00:00.000Z', 'Cart c-1'],
      ]);
      expect(await mailsTo(t.smtp, email)).toHaveLength(1);
      const decisions = await listDecisions(t, secret, 'cust-1', id);
      expect(decisions.map(decided)).toEqual([
        ['ENTERED', 'CONDITION_MET', '2025-05-06T10:00:00.000Z'],
        ['ENTERED', 'CONDITION_MET', '2025-05-06T11:00:00.000Z'],
        ['FIRED', 'DEADLINE_PASSED', '2025-05-06T12:00:00.000Z'],
        ['CANCELLED', 'COOLDOWN', '2025-05-06T13:00:00.000Z'],
      ]);
      expect(decisions[3].enrollmentId).toBe(decisions[1].enrollmentId);
      expect(decisions[2].enrollmentId).toBe(decisions[0].enrollmentId);

      expect(await sends(secret, 'cust-2')).toEqual([sent('2025-05-06T13:00:00.000Z')]);
      expect(await mailsTo(t.smtp, control)).toHaveLength(1);
    });

    it('cooldown P1D at entry: a cart while the trigger fired within a day is BLOCKED / COOLDOWN; a cancelled run does not count', async () => {
      const secret = await tenant();
      const id = await createTrigger(t, secret, CART_COOLDOWN);
      await customer(secret, 'cust-1');
      await sendAt(secret, 'cust-1', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
      await sendAt(secret, 'cust-1', 'added_to_cart', 'c-2', '2025-05-06T11:00:00.000Z');
      // 12:00 c-1 fires; 13:00 c-2 is cancelled by the cooldown.
      await sendAt(secret, 'cust-1', 'added_to_cart', 'c-3', '2025-05-06T14:00:00.000Z');
      await sendAt(secret, 'cust-1', 'added_to_cart', 'c-4', '2025-05-07T11:59:59.999Z');
      await sendAt(secret, 'cust-1', 'added_to_cart', 'c-5', '2025-05-07T12:00:00.000Z');
      await t.setClock('2025-05-08T00:00:00.000Z');

      const decisions = await listDecisions(t, secret, 'cust-1', id);
      expect(decisions.map(decided)).toEqual([
        ['ENTERED', 'CONDITION_MET', '2025-05-06T10:00:00.000Z'],
        ['ENTERED', 'CONDITION_MET', '2025-05-06T11:00:00.000Z'],
        ['FIRED', 'DEADLINE_PASSED', '2025-05-06T12:00:00.000Z'],
        ['CANCELLED', 'COOLDOWN', '2025-05-06T13:00:00.000Z'],
        ['BLOCKED', 'COOLDOWN', '2025-05-06T14:00:00.000Z'],
        ['BLOCKED', 'COOLDOWN', '2025-05-07T11:59:59.999Z'],
        ['ENTERED', 'CONDITION_MET', '2025-05-07T12:00:00.000Z'],
        ['FIRED', 'DEADLINE_PASSED', '2025-05-07T14:00:00.000Z'],
      ]);
      const messages = await listRunMessages(t, secret, { customerExternalId: 'cust-1' });
      expect(messages.map((m) => [isoOf(m.scheduledFor), isoOf(m.sentAt!), m.body])).toEqual([
        ['2025-05-06T12:00:00.000Z', '2025-05-06T12:00:00.000Z', 'Cart c-1'],
        ['2025-05-07T14:00:00.000Z', '2025-05-07T14:00:00.000Z', 'Cart c-5'],
      ]);
    });

    it('cooldown PT6H without an absence window: 1 ms before it ends is BLOCKED / COOLDOWN, when it ends the entry runs', async () => {
      const secret = await tenant();
      const id = await createTrigger(t, secret, {
        name: 'viewed',
        event: 'viewed_product',
        cooldown: 'PT6H',
        steps: [{ channel: 'EMAIL', template: { subject: 'Seen', body: 'Seen' } }],
      });
      const email = await customer(secret, 'cust-1');
      const view = (at: string) => sendAt(secret, 'cust-1', 'viewed_product', 'none', at);
      await view('2025-05-06T10:00:00.000Z');
      await view('2025-05-06T15:59:59.999Z');
      await view('2025-05-06T16:00:00.000Z');
      await t.setClock('2025-05-07T00:00:00.000Z');

      expect((await listDecisions(t, secret, 'cust-1', id)).map(decided)).toEqual([
        ['ENTERED', 'CONDITION_MET', '2025-05-06T10:00:00.000Z'],
        ['BLOCKED', 'COOLDOWN', '2025-05-06T15:59:59.999Z'],
        ['ENTERED', 'CONDITION_MET', '2025-05-06T16:00:00.000Z'],
      ]);
      expect(await sends(secret, 'cust-1')).toEqual([
        sent('2025-05-06T10:00:00.000Z'),
        sent('2025-05-06T16:00:00.000Z'),
      ]);
      expect(await mailsTo(t.smtp, email)).toHaveLength(2);
    });

    it('check order at entry: ACTIVE_LIMIT before REENTRY_NOT_ALLOWED before COOLDOWN', async () => {
      const secret = await tenant();
      const step = { channel: 'EMAIL', template: { subject: 'Hi', body: 'Hi' } };
      const limited = await createTrigger(t, secret, {
        name: 'all-three',
        event: 'opened_app',
        reentry: { policy: 'ONCE' },
        maxActive: 1,
        cooldown: 'P1D',
        steps: [{ ...step, delay: 'PT1H' }],
      });
      const periodic = await createTrigger(t, secret, {
        name: 'period-and-cooldown',
        event: 'opened_tab',
        reentry: { policy: 'ONCE_PER', period: 'PT1H' },
        cooldown: 'P1D',
        steps: [step],
      });
      await customer(secret, 'cust-1');
      const open = (event: string, at: string) => sendAt(secret, 'cust-1', event, 'none', at);
      await open('opened_app', '2025-05-06T10:00:00.000Z');
      await open('opened_tab', '2025-05-06T10:00:00.000Z');
      await open('opened_app', '2025-05-06T10:30:00.000Z');
      await open('opened_tab', '2025-05-06T10:30:00.000Z');
      // 11:00: the opened_app run sends its step and completes.
      await open('opened_app', '2025-05-06T11:30:00.000Z');
      await open('opened_tab', '2025-05-06T11:30:00.000Z');
      await t.setClock('2025-05-06T15:00:00.000Z');

      expect((await listDecisions(t, secret, 'cust-1', limited)).map(decided)).toEqual([
        ['ENTERED', 'CONDITION_MET', '2025-05-06T10:00:00.000Z'],
        ['BLOCKED', 'ACTIVE_LIMIT', '2025-05-06T10:30:00.000Z'],
        ['BLOCKED', 'REENTRY_NOT_ALLOWED', '2025-05-06T11:30:00.000Z'],
      ]);
      expect((await listDecisions(t, secret, 'cust-1', periodic)).map(decided)).toEqual([
        ['ENTERED', 'CONDITION_MET', '2025-05-06T10:00:00.000Z'],
        ['BLOCKED', 'REENTRY_NOT_ALLOWED', '2025-05-06T10:30:00.000Z'],
        ['BLOCKED', 'COOLDOWN', '2025-05-06T11:30:00.000Z'],
      ]);
      const messages = await listRunMessages(t, secret, { customerExternalId: 'cust-1' });
      expect(
        messages
          .map((m) => [m.trigger.id === limited ? 'all-three' : 'period', isoOf(m.sentAt!)])
          .sort(),
      ).toEqual([
        ['all-three', '2025-05-06T11:00:00.000Z'],
        ['period', '2025-05-06T10:00:00.000Z'],
      ]);
    });
  });
});
