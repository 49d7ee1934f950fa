import { startTestNudge, TestNudge } from './support/harness';
import {
  CART_ABANDONMENT_TRIGGER,
  createTrigger,
  identify,
  isoOf,
  listMessages,
  mailsTo,
  track,
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
