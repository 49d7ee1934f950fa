import { startTestNudge, TestNudge } from './support/harness';
import {
  CART_ABANDONMENT_TRIGGER,
  createTrigger,
  decisionsOf,
  eventsOf,
  findCustomer,
  identify,
  identifyWith,
  isoOf,
  listMessages,
  mailsTo,
  track,
  trackAs,
  uniqueEmail,
} from './support/scenario';

/**
 * Field case C05: "added_to_cart and NO purchase of that cart within 2 h". The absence window
 * is keyed by cartId, inclusive at its end, and a repeated add of the same cart moves the
 * deadline instead of starting a second run. Every test gets a fresh tenant; negative tests
 * carry a control customer whose reminder must go out, so "no email" cannot pass vacuously.
 */
describe('C05 cart abandonment', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  async function freshTenant(): Promise<{ secret: string; triggerId: string }> {
    const { secret } = await t.createTenant('t-harbor');
    await t.setClock('2025-05-06T09:00:00.000Z');
    const triggerId = await createTrigger(t, secret, CART_ABANDONMENT_TRIGGER);
    return { secret, triggerId };
  }

  async function customer(secret: string, externalId: string): Promise<string> {
    const email = uniqueEmail(externalId);
    await identify(t, secret, externalId, email);
    return email;
  }

  /** Tracks an event at the current service clock, with an explicit `occurredAt`. */
  function send(
    secret: string,
    externalId: string,
    event: string,
    cartId: string,
    occurredAt: string,
  ) {
    return track(t, secret, {
      customerExternalId: externalId,
      event,
      properties: { cartId },
      occurredAt,
    });
  }

  /** Moves the clock to `at` and tracks an event that happened at that instant. */
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

  async function expectOneReminderAt(
    secret: string,
    externalId: string,
    email: string,
    dueIso: string,
  ) {
    const messages = await listMessages(t, secret, { customerExternalId: externalId });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      channel: 'EMAIL',
      status: 'SENT',
      to: email,
      customer: { externalId },
    });
    expect(isoOf(messages[0].scheduledFor)).toBe(isoOf(dueIso));
    expect(isoOf(messages[0].sentAt!)).toBe(isoOf(dueIso));
    expect(await mailsTo(t.smtp, email)).toHaveLength(1);
  }

  async function expectNoReminder(secret: string, externalId: string, email: string) {
    expect(await listMessages(t, secret, { customerExternalId: externalId })).toHaveLength(0);
    expect(await mailsTo(t.smtp, email)).toHaveLength(0);
  }

  it('A. a purchase of the same cart before the deadline cancels the reminder', async () => {
    const { secret } = await freshTenant();
    const buyer = await customer(secret, 'cust-5001');
    const control = await customer(secret, 'cust-5002');

    await sendAt(secret, 'cust-5001', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
    await send(secret, 'cust-5002', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
    await sendAt(secret, 'cust-5001', 'purchase', 'c-1', '2025-05-06T11:59:00.000Z');
    await t.setClock('2025-05-06T15:00:00.000Z');

    await expectNoReminder(secret, 'cust-5001', buyer);
    await expectOneReminderAt(secret, 'cust-5002', control, '2025-05-06T12:00:00.000Z');
  });

  it('B. a purchase of a different cart does not cancel: one email at 12:00:00.000Z', async () => {
    const { secret, triggerId } = await freshTenant();
    const email = await customer(secret, 'cust-5001');

    await sendAt(secret, 'cust-5001', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
    await sendAt(secret, 'cust-5001', 'purchase', 'c-2', '2025-05-06T11:00:00.000Z');

    await t.setClock('2025-05-06T11:59:59.999Z');
    await expectNoReminder(secret, 'cust-5001', email);

    await t.setClock('2025-05-06T15:00:00.000Z');
    await expectOneReminderAt(secret, 'cust-5001', email, '2025-05-06T12:00:00.000Z');
    const [message] = await listMessages(t, secret, { customerExternalId: 'cust-5001' });
    expect(message.trigger.id).toBe(triggerId);
  });

  it('C. a purchase at exactly the deadline, received before the tick, cancels (inclusive end)', async () => {
    const { secret } = await freshTenant();
    const buyer = await customer(secret, 'cust-5001');
    const control = await customer(secret, 'cust-5002');

    await sendAt(secret, 'cust-5001', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
    await send(secret, 'cust-5002', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
    await t.setClock('2025-05-06T11:59:59.999Z');
    await send(secret, 'cust-5001', 'purchase', 'c-1', '2025-05-06T12:00:00.000Z');
    await t.setClock('2025-05-06T15:00:00.000Z');

    await expectNoReminder(secret, 'cust-5001', buyer);
    await expectOneReminderAt(secret, 'cust-5002', control, '2025-05-06T12:00:00.000Z');
  });

  it('C. a purchase 1 ms after the deadline does not cancel: the email is scheduled and sent at 12:00:00.000Z', async () => {
    const { secret } = await freshTenant();
    const email = await customer(secret, 'cust-5001');

    await sendAt(secret, 'cust-5001', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
    await t.setClock('2025-05-06T11:59:59.999Z');
    await send(secret, 'cust-5001', 'purchase', 'c-1', '2025-05-06T12:00:00.001Z');
    await t.setClock('2025-05-06T15:00:00.000Z');

    await expectOneReminderAt(secret, 'cust-5001', email, '2025-05-06T12:00:00.000Z');
  });

  it('D. repeated adds of the same cart reset the deadline: exactly one email, at 13:30:00.000Z', async () => {
    const { secret } = await freshTenant();
    const email = await customer(secret, 'cust-5001');

    await sendAt(secret, 'cust-5001', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
    await sendAt(secret, 'cust-5001', 'added_to_cart', 'c-1', '2025-05-06T10:40:00.000Z');
    await sendAt(secret, 'cust-5001', 'added_to_cart', 'c-1', '2025-05-06T11:30:00.000Z');

    await t.setClock('2025-05-06T12:00:00.000Z');
    await expectNoReminder(secret, 'cust-5001', email);
    await t.setClock('2025-05-06T12:40:00.000Z');
    await expectNoReminder(secret, 'cust-5001', email);
    await t.setClock('2025-05-06T13:29:59.999Z');
    await expectNoReminder(secret, 'cust-5001', email);

    await t.setClock('2025-05-06T13:30:00.000Z');
    await expectOneReminderAt(secret, 'cust-5001', email, '2025-05-06T13:30:00.000Z');

    await t.setClock('2025-05-07T13:30:00.000Z');
    await expectOneReminderAt(secret, 'cust-5001', email, '2025-05-06T13:30:00.000Z');
  });

  it('a late purchase (occurredAt 11:00, received when the clock is already at 11:59) still cancels', async () => {
    const { secret } = await freshTenant();
    const buyer = await customer(secret, 'cust-5001');
    const control = await customer(secret, 'cust-5002');

    await sendAt(secret, 'cust-5001', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
    await send(secret, 'cust-5002', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
    await t.setClock('2025-05-06T11:59:00.000Z');
    await send(secret, 'cust-5001', 'purchase', 'c-1', '2025-05-06T11:00:00.000Z');
    await t.setClock('2025-05-06T15:00:00.000Z');

    await expectNoReminder(secret, 'cust-5001', buyer);
    await expectOneReminderAt(secret, 'cust-5002', control, '2025-05-06T12:00:00.000Z');
  });

  it('a purchase stored before its cart entry arrives (out of order) still cancels at the deadline', async () => {
    const { secret } = await freshTenant();
    const buyer = await customer(secret, 'cust-5001');
    const control = await customer(secret, 'cust-5002');

    await t.setClock('2025-05-06T10:45:00.000Z');
    await send(secret, 'cust-5001', 'purchase', 'c-1', '2025-05-06T10:30:00.000Z');
    await send(secret, 'cust-5001', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
    await send(secret, 'cust-5002', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
    await t.setClock('2025-05-06T15:00:00.000Z');

    await expectNoReminder(secret, 'cust-5001', buyer);
    await expectOneReminderAt(secret, 'cust-5002', control, '2025-05-06T12:00:00.000Z');
  });

  it('a purchase of the same cart before the entry (09:59) does not cancel, whichever arrives first', async () => {
    const { secret } = await freshTenant();
    const purchaseFirst = await customer(secret, 'cust-5001');
    const entryFirst = await customer(secret, 'cust-5002');

    await t.setClock('2025-05-06T09:59:00.000Z');
    await send(secret, 'cust-5001', 'purchase', 'c-1', '2025-05-06T09:59:00.000Z');
    await t.setClock('2025-05-06T10:00:00.000Z');
    await send(secret, 'cust-5001', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
    await send(secret, 'cust-5002', 'added_to_cart', 'c-1', '2025-05-06T10:00:00.000Z');
    await t.setClock('2025-05-06T10:05:00.000Z');
    await send(secret, 'cust-5002', 'purchase', 'c-1', '2025-05-06T09:59:00.000Z');
    await t.setClock('2025-05-06T15:00:00.000Z');

    await expectOneReminderAt(secret, 'cust-5001', purchaseFirst, '2025-05-06T12:00:00.000Z');
    await expectOneReminderAt(secret, 'cust-5002', entryFirst, '2025-05-06T12:00:00.000Z');
  });
});

/**
 * C05 E: the cart is filled anonymously, the shopper then logs in (identify links the
 * anonymous id), and buys under their own id. The anonymous run moves to the identified
 * customer, so the purchase cancels it. Every negative test has a control customer whose
 * reminder goes out at 11:00.
 */
describe('C05 E — anonymous → identified', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  const ENTRY = '2025-05-06T09:00:00.000Z';
  const LINK = '2025-05-06T09:05:00.000Z';
  const PURCHASE = '2025-05-06T10:00:00.000Z';
  const DEADLINE = '2025-05-06T11:00:00.000Z';

  /** A fresh t-harbor with the C05 trigger and a control customer who adds c-9 at 09:00. */
  async function freshTenant(): Promise<{ secret: string; triggerId: string; control: string }> {
    const { secret } = await t.createTenant('t-harbor');
    await t.setClock(ENTRY);
    const triggerId = await createTrigger(t, secret, CART_ABANDONMENT_TRIGGER);
    const control = uniqueEmail('cust-5002');
    await identify(t, secret, 'cust-5002', control);
    await track(t, secret, {
      customerExternalId: 'cust-5002',
      event: 'added_to_cart',
      properties: { cartId: 'c-9' },
      occurredAt: ENTRY,
    });
    return { secret, triggerId, control };
  }

  function anonymousCart(secret: string) {
    return trackAs(t, secret, {
      anonymousId: 'anon-77',
      event: 'added_to_cart',
      properties: { cartId: 'c-9' },
      occurredAt: ENTRY,
    });
  }

  async function purchaseAt10(
    secret: string,
    by: { customerExternalId?: string; anonymousId?: string },
  ) {
    await t.setClock(PURCHASE);
    return trackAs(t, secret, {
      ...by,
      event: 'purchase',
      properties: { cartId: 'c-9' },
      occurredAt: PURCHASE,
    });
  }

  async function expectNoReminder(secret: string, externalId: string, email: string | null) {
    expect(await listMessages(t, secret, { customerExternalId: externalId })).toEqual([]);
    if (email) expect(await mailsTo(t.smtp, email)).toHaveLength(0);
  }

  async function expectControlReminder(secret: string, control: string) {
    const messages = await listMessages(t, secret, { customerExternalId: 'cust-5002' });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ status: 'SENT', to: control });
    expect(isoOf(messages[0].scheduledFor)).toBe(DEADLINE);
    expect(isoOf(messages[0].sentAt!)).toBe(DEADLINE);
    expect(await mailsTo(t.smtp, control)).toHaveLength(1);
  }

  /** The customer's events as (name, cartId, occurredAt), in the order stored. */
  async function eventSummary(secret: string, externalId: string) {
    const events = await eventsOf(t, secret, { externalId });
    return events.map((e) => [e.name, e.properties.cartId ?? null, isoOf(e.occurredAt)]);
  }

  async function expectEnteredThenCancelledByPurchase(secret: string, triggerId: string) {
    const decisions = await decisionsOf(t, secret, { externalId: 'cust-5005' }, triggerId);
    expect(
      decisions.map((d) => [d.outcome, d.reason, d.event?.name, isoOf(d.event!.occurredAt)]),
    ).toEqual([
      ['ENTERED', 'CONDITION_MET', 'added_to_cart', ENTRY],
      ['CANCELLED', 'ABSENCE_VIOLATED', 'purchase', PURCHASE],
    ]);
    expect(decisions[0].detail).toMatchObject({ deadline: DEADLINE });
    expect(decisions[1].detail).toEqual({ event: 'purchase', occurredAt: PURCHASE });
    expect(decisions[1].enrollmentId).toBe(decisions[0].enrollmentId);
  }

  it('C05 E. cart under anon-77 at 09:00, identify cust-5005 at 09:05, purchase by cust-5005 at 10:00 → no email; both events belong to cust-5005', async () => {
    const { secret, triggerId, control } = await freshTenant();
    const buyer = uniqueEmail('cust-5005');

    await anonymousCart(secret);
    await t.setClock(LINK);
    await identifyWith(t, secret, {
      externalId: 'cust-5005',
      anonymousId: 'anon-77',
      email: buyer,
    });
    await purchaseAt10(secret, { customerExternalId: 'cust-5005' });
    await t.setClock('2025-05-06T15:00:00.000Z');

    await expectNoReminder(secret, 'cust-5005', buyer);
    await expectControlReminder(secret, control);
    expect(await eventSummary(secret, 'cust-5005')).toEqual([
      ['added_to_cart', 'c-9', ENTRY],
      ['purchase', 'c-9', PURCHASE],
    ]);
    const identified = await findCustomer(t, secret, { externalId: 'cust-5005' });
    expect(await findCustomer(t, secret, { anonymousId: 'anon-77' })).toEqual(identified);
    expect(identified).toMatchObject({
      externalId: 'cust-5005',
      email: buyer,
      anonymousIds: ['anon-77'],
    });
    await expectEnteredThenCancelledByPurchase(secret, triggerId);
  });

  it('C05 E control: without the purchase, the moved run reminds cust-5005 at 11:00 at the identified address', async () => {
    const { secret, triggerId, control } = await freshTenant();
    const buyer = uniqueEmail('cust-5005');

    await anonymousCart(secret);
    await t.setClock(LINK);
    await identifyWith(t, secret, {
      externalId: 'cust-5005',
      anonymousId: 'anon-77',
      email: buyer,
    });
    await t.setClock('2025-05-06T15:00:00.000Z');

    const messages = await listMessages(t, secret, { customerExternalId: 'cust-5005' });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({
      status: 'SENT',
      to: buyer,
      trigger: { id: triggerId },
      customer: { externalId: 'cust-5005' },
    });
    expect(isoOf(messages[0].scheduledFor)).toBe(DEADLINE);
    expect(isoOf(messages[0].sentAt!)).toBe(DEADLINE);
    expect(await mailsTo(t.smtp, buyer)).toHaveLength(1);
    await expectControlReminder(secret, control);
  });

  it('C05 E variant: cust-5005 already existed with its own history → the anonymous history merges into it', async () => {
    const { secret, triggerId, control } = await freshTenant();
    const buyer = uniqueEmail('cust-5005');
    await identifyWith(t, secret, {
      externalId: 'cust-5005',
      email: buyer,
      traits: { tier: 'gold' },
    });
    await track(t, secret, {
      customerExternalId: 'cust-5005',
      event: 'page_viewed',
      properties: { path: '/' },
      occurredAt: '2025-05-06T08:30:00.000Z',
    });
    const before = await findCustomer(t, secret, { externalId: 'cust-5005' });
    await anonymousCart(secret);
    const anonymous = await findCustomer(t, secret, { anonymousId: 'anon-77' });
    expect(anonymous).toMatchObject({ externalId: null, anonymousIds: ['anon-77'] });
    expect(anonymous!.id).not.toBe(before!.id);

    await t.setClock(LINK);
    await identifyWith(t, secret, { externalId: 'cust-5005', anonymousId: 'anon-77' });
    await purchaseAt10(secret, { customerExternalId: 'cust-5005' });
    await t.setClock('2025-05-06T15:00:00.000Z');

    await expectNoReminder(secret, 'cust-5005', buyer);
    await expectControlReminder(secret, control);
    expect(await eventSummary(secret, 'cust-5005')).toEqual([
      ['page_viewed', null, '2025-05-06T08:30:00.000Z'],
      ['added_to_cart', 'c-9', ENTRY],
      ['purchase', 'c-9', PURCHASE],
    ]);
    // The identified customer survives, keeps its profile, and now answers to anon-77.
    const after = await findCustomer(t, secret, { anonymousId: 'anon-77' });
    expect(after).toEqual({
      id: before!.id,
      externalId: 'cust-5005',
      email: buyer,
      traits: { tier: 'gold' },
      anonymousIds: ['anon-77'],
    });
    await expectEnteredThenCancelledByPurchase(secret, triggerId);
  });

  it('C05 E variant: the purchase arrives under the anonymous id after the identify → still cancels', async () => {
    const { secret, triggerId, control } = await freshTenant();
    const buyer = uniqueEmail('cust-5005');

    await anonymousCart(secret);
    await t.setClock(LINK);
    await identifyWith(t, secret, {
      externalId: 'cust-5005',
      anonymousId: 'anon-77',
      email: buyer,
    });
    await purchaseAt10(secret, { anonymousId: 'anon-77' });
    await t.setClock('2025-05-06T15:00:00.000Z');

    await expectNoReminder(secret, 'cust-5005', buyer);
    await expectControlReminder(secret, control);
    expect(await eventSummary(secret, 'cust-5005')).toEqual([
      ['added_to_cart', 'c-9', ENTRY],
      ['purchase', 'c-9', PURCHASE],
    ]);
    await expectEnteredThenCancelledByPurchase(secret, triggerId);
  });

  it('C05 E variant: a track carrying both ids links them instead of identify → the purchase cancels', async () => {
    const { secret, triggerId, control } = await freshTenant();

    await anonymousCart(secret);
    await t.setClock(LINK);
    await trackAs(t, secret, {
      customerExternalId: 'cust-5005',
      anonymousId: 'anon-77',
      event: 'logged_in',
      occurredAt: LINK,
    });
    await purchaseAt10(secret, { customerExternalId: 'cust-5005' });
    await t.setClock('2025-05-06T15:00:00.000Z');

    await expectNoReminder(secret, 'cust-5005', null);
    await expectControlReminder(secret, control);
    expect(await eventSummary(secret, 'cust-5005')).toEqual([
      ['added_to_cart', 'c-9', ENTRY],
      ['logged_in', null, LINK],
      ['purchase', 'c-9', PURCHASE],
    ]);
    expect(await findCustomer(t, secret, { anonymousId: 'anon-77' })).toMatchObject({
      externalId: 'cust-5005',
      anonymousIds: ['anon-77'],
    });
    await expectEnteredThenCancelledByPurchase(secret, triggerId);
  });
});
