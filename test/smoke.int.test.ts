import { startTestNudge, TestNudge } from './support/harness';

describe('end to end smoke', () => {
  let t: TestNudge;
  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('creates a tenant, a trigger, tracks, and sends the reminder at the deadline', async () => {
    const { secret } = await t.createTenant();
    await t.setClock('2025-05-06T09:00:00Z');
    await t.ok(secret, `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`, {
      i: {
        name: 'cart',
        event: 'added_to_cart',
        unless: { event: 'purchase', within: 'PT2H' },
        steps: [
          {
            channel: 'EMAIL',
            template: {
              subject: 'Still there?',
              body: 'Hi {{ customer.traits.firstName | default: "there" }}',
            },
          },
        ],
      },
    });
    await t.ok(
      secret,
      `mutation { identify(input: { externalId: "c1", email: "c1@example.com" }) { id } }`,
    );
    await t.ok(
      secret,
      `mutation { track(input: { customerExternalId: "c1", event: "added_to_cart", occurredAt: "2025-05-06T10:00:00Z" }) { eventId } }`,
    );
    const fired = await t.setClock('2025-05-06T13:00:00Z');
    expect(fired.timersFired).toBe(2);
    await t.smtp.settle();
    expect(t.smtp.received).toHaveLength(1);
    expect(t.smtp.received[0].text.trim()).toBe('Hi there');
  });
});
