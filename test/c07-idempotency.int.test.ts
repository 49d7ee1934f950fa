import { startTestNudge, TestNudge } from './support/harness';
import {
  CART_ABANDONMENT_TRIGGER,
  TrackArgs,
  createTrigger,
  customerEvents,
  identify,
  isoOf,
  listMessages,
  mailsTo,
  track,
  trackRaw,
  uniqueEmail,
} from './support/scenario';

/**
 * Field case C07: ingest idempotency on `messageId`. A retried event is stored once, enters
 * the journey once and sends one email; the retry learns the original event id. The same key
 * with a different body is a CONFLICT that stores nothing. Keys are namespaced per tenant.
 * Every test gets a fresh tenant with the C05 trigger and customer cust-7001.
 */
describe('C07 ingest idempotency on messageId', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  async function freshTenant(): Promise<{ secret: string; email: string }> {
    const { secret } = await t.createTenant('t-harbor');
    await t.setClock('2025-05-06T09:00:00.000Z');
    await createTrigger(t, secret, CART_ABANDONMENT_TRIGGER);
    const email = uniqueEmail('cust-7001');
    await identify(t, secret, 'cust-7001', email);
    return { secret, email };
  }

  const m100: TrackArgs = {
    customerExternalId: 'cust-7001',
    event: 'added_to_cart',
    properties: { cartId: 'c-3' },
    occurredAt: '2025-05-06T10:00:00.000Z',
    messageId: 'm-100',
  };

  async function expectOneReminderAt(secret: string, email: string, dueIso: string) {
    const messages = await listMessages(t, secret, { customerExternalId: 'cust-7001' });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ channel: 'EMAIL', status: 'SENT', to: email });
    expect(isoOf(messages[0].scheduledFor)).toBe(isoOf(dueIso));
    expect(isoOf(messages[0].sentAt!)).toBe(isoOf(dueIso));
    expect(await mailsTo(t.smtp, email)).toHaveLength(1);
  }

  it('m-100 sent three times (10:00:00, 10:00:02, 10:00:09) is stored once, the retries return the original eventId as duplicates, and one email goes out at 12:00', async () => {
    const { secret, email } = await freshTenant();

    await t.setClock('2025-05-06T10:00:00.000Z');
    const first = await track(t, secret, m100);
    await t.setClock('2025-05-06T10:00:02.000Z');
    const second = await track(t, secret, m100);
    await t.setClock('2025-05-06T10:00:09.000Z');
    const third = await track(t, secret, m100);

    expect(first.duplicate).toBe(false);
    expect(second).toEqual({ eventId: first.eventId, duplicate: true });
    expect(third).toEqual({ eventId: first.eventId, duplicate: true });
    const events = await customerEvents(t, secret, 'cust-7001');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      id: first.eventId,
      name: 'added_to_cart',
      messageId: 'm-100',
    });

    await t.setClock('2025-05-06T15:00:00.000Z');
    await expectOneReminderAt(secret, email, '2025-05-06T12:00:00.000Z');
  });

  it('m-101: two identical copies sent concurrently store one event; the loser gets duplicate=true, not an error', async () => {
    const { secret, email } = await freshTenant();
    const m101: TrackArgs = { ...m100, properties: { cartId: 'c-5' }, messageId: 'm-101' };

    await t.setClock('2025-05-06T10:00:00.000Z');
    const responses = await Promise.all([trackRaw(t, secret, m101), trackRaw(t, secret, m101)]);

    for (const response of responses) expect(response.errors).toBeUndefined();
    const results = responses.map((r) => r.data!.track);
    expect(results.map((r) => r.duplicate).sort()).toEqual([false, true]);
    expect(results[0].eventId).toBe(results[1].eventId);
    const events = await customerEvents(t, secret, 'cust-7001');
    expect(events.map((e) => e.id)).toEqual([results[0].eventId]);

    await t.setClock('2025-05-06T15:00:00.000Z');
    await expectOneReminderAt(secret, email, '2025-05-06T12:00:00.000Z');
  });

  it('m-101: two identical copies sent concurrently to two API instances store one event; the loser gets duplicate=true', async () => {
    const { secret, email } = await freshTenant();
    const m101: TrackArgs = { ...m100, properties: { cartId: 'c-5' }, messageId: 'm-101' };
    const other = await startTestNudge({ prefix: t.prefix, smtp: t.smtp });
    try {
      await t.setClock('2025-05-06T10:00:00.000Z');
      await other.setClock('2025-05-06T10:00:00.000Z');
      const responses = await Promise.all([
        trackRaw(t, secret, m101),
        trackRaw(other, secret, m101),
      ]);

      for (const response of responses) expect(response.errors).toBeUndefined();
      const results = responses.map((r) => r.data!.track);
      expect(results.map((r) => r.duplicate).sort()).toEqual([false, true]);
      expect(results[0].eventId).toBe(results[1].eventId);
      expect((await customerEvents(t, secret, 'cust-7001')).map((e) => e.id)).toEqual([
        results[0].eventId,
      ]);
    } finally {
      await other.stop();
    }

    await t.setClock('2025-05-06T15:00:00.000Z');
    await expectOneReminderAt(secret, email, '2025-05-06T12:00:00.000Z');
  });

  it('m-101: one trackBatch carrying the same messageId twice stores one event and reports one duplicate', async () => {
    const { secret, email } = await freshTenant();
    const m101: TrackArgs = { ...m100, properties: { cartId: 'c-5' }, messageId: 'm-101' };

    await t.setClock('2025-05-06T10:00:00.000Z');
    const response = await t.request<any>(
      secret,
      `mutation($events: [TrackInput!]!) {
         trackBatch(events: $events) { accepted duplicates rejected { index code } eventIds }
       }`,
      { events: [m101, m101] },
    );

    expect(response.errors).toBeUndefined();
    const batch = response.data.trackBatch;
    expect(batch).toMatchObject({ accepted: 1, duplicates: 1, rejected: [] });
    expect(batch.eventIds).toHaveLength(2);
    expect(batch.eventIds[0]).toBe(batch.eventIds[1]);
    const events = await customerEvents(t, secret, 'cust-7001');
    expect(events.map((e) => e.id)).toEqual([batch.eventIds[0]]);

    await t.setClock('2025-05-06T15:00:00.000Z');
    await expectOneReminderAt(secret, email, '2025-05-06T12:00:00.000Z');
  });

  it('m-100 resent 23 h 59 m later is still a duplicate and sends nothing more', async () => {
    const { secret, email } = await freshTenant();

    await t.setClock('2025-05-06T10:00:00.000Z');
    const original = await track(t, secret, m100);
    await t.setClock('2025-05-06T15:00:00.000Z');
    await expectOneReminderAt(secret, email, '2025-05-06T12:00:00.000Z');

    await t.setClock('2025-05-07T09:59:00.000Z');
    const resent = await track(t, secret, m100);
    expect(resent).toEqual({ eventId: original.eventId, duplicate: true });
    expect((await customerEvents(t, secret, 'cust-7001')).map((e) => e.id)).toEqual([
      original.eventId,
    ]);

    await t.setClock('2025-05-07T15:00:00.000Z');
    await expectOneReminderAt(secret, email, '2025-05-06T12:00:00.000Z');
  });

  it('m-102 reused with a different body is a CONFLICT, stores nothing, and leaves the first version unchanged', async () => {
    const { secret, email } = await freshTenant();
    const m102: TrackArgs = { ...m100, occurredAt: '2025-05-06T10:05:00.000Z', messageId: 'm-102' };

    await t.setClock('2025-05-06T10:05:00.000Z');
    const original = await track(t, secret, m102);
    await t.setClock('2025-05-06T10:06:00.000Z');
    const reused = await trackRaw(t, secret, { ...m102, properties: { cartId: 'c-4' } });

    expect(reused.data?.track ?? null).toBeNull();
    expect(reused.errors).toHaveLength(1);
    expect(reused.errors![0].extensions).toMatchObject({
      code: 'CONFLICT',
      reason: 'IDEMPOTENCY_KEY_REUSED',
      field: 'input.messageId',
    });
    const events = await customerEvents(t, secret, 'cust-7001');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      id: original.eventId,
      name: 'added_to_cart',
      properties: { cartId: 'c-3' },
      messageId: 'm-102',
    });
    expect(isoOf(events[0].occurredAt)).toBe('2025-05-06T10:05:00.000Z');

    await t.setClock('2025-05-06T15:00:00.000Z');
    await expectOneReminderAt(secret, email, '2025-05-06T12:05:00.000Z');
  });

  it('a retry that writes occurredAt with another UTC offset is the same payload: duplicate, not CONFLICT', async () => {
    const { secret } = await freshTenant();

    await t.setClock('2025-05-06T10:00:00.000Z');
    const original = await track(t, secret, m100);
    await t.setClock('2025-05-06T10:00:02.000Z');
    const retry = await trackRaw(t, secret, {
      ...m100,
      occurredAt: '2025-05-06T12:00:00.000+02:00',
    });

    expect(retry.errors).toBeUndefined();
    expect(retry.data!.track).toEqual({ eventId: original.eventId, duplicate: true });
    expect(await customerEvents(t, secret, 'cust-7001')).toHaveLength(1);
  });

  it('a retry whose properties list the same members in another order is the same payload: duplicate, not CONFLICT', async () => {
    const { secret } = await freshTenant();
    const body: TrackArgs = {
      ...m100,
      properties: { cartId: 'c-3', value: 42, items: [{ sku: 'a', qty: 1 }] },
    };

    await t.setClock('2025-05-06T10:00:00.000Z');
    const original = await track(t, secret, body);
    await t.setClock('2025-05-06T10:00:02.000Z');
    const retry = await trackRaw(t, secret, {
      ...body,
      properties: { items: [{ qty: 1, sku: 'a' }], value: 42, cartId: 'c-3' },
    });

    expect(retry.errors).toBeUndefined();
    expect(retry.data!.track).toEqual({ eventId: original.eventId, duplicate: true });
    expect(await customerEvents(t, secret, 'cust-7001')).toHaveLength(1);
  });

  it('the same messageId in two tenants is two events: idempotency keys are namespaced per tenant', async () => {
    const alpha = await freshTenant();
    const beta = await freshTenant();

    await t.setClock('2025-05-06T10:00:00.000Z');
    const inAlpha = await track(t, alpha.secret, m100);
    const inBeta = await track(t, beta.secret, m100);

    expect(inAlpha.duplicate).toBe(false);
    expect(inBeta.duplicate).toBe(false);
    expect(inBeta.eventId).not.toBe(inAlpha.eventId);
    expect((await customerEvents(t, alpha.secret, 'cust-7001')).map((e) => e.id)).toEqual([
      inAlpha.eventId,
    ]);
    expect((await customerEvents(t, beta.secret, 'cust-7001')).map((e) => e.id)).toEqual([
      inBeta.eventId,
    ]);

    await t.setClock('2025-05-06T15:00:00.000Z');
    await expectOneReminderAt(alpha.secret, alpha.email, '2025-05-06T12:00:00.000Z');
    await expectOneReminderAt(beta.secret, beta.email, '2025-05-06T12:00:00.000Z');
  });
});
