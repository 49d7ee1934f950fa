import { startTestNudge, type TestNudge } from './support/harness';
import { createTrigger, customerEvents, decisionsOf, trackRaw } from './support/scenario';

/**
 * Single `track` calls of one tenant that arrive together are stored by shared transactions
 * (group commit). Each call must still behave exactly as if it had been alone: its own event
 * id, a retry of the same messageId a duplicate of the stored event, the same messageId with
 * another payload a CONFLICT for that call only (named `input.messageId`), and every stored
 * event evaluated once per trigger.
 */
describe('a burst of track calls', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  const step = {
    delay: 'PT1H',
    channel: 'EMAIL',
    template: { subject: 'Hi', body: 'Seen {{ event.name }}' },
  };

  it('keeps each call’s outcome: accepted, duplicate of the stored event, or CONFLICT alone', async () => {
    const { secret } = await t.createTenant('t-burst');
    await t.setClock('2025-05-06T09:00:00.000Z');
    for (let i = 0; i < 3; i++) {
      await createTrigger(t, secret, {
        name: `burst ${i}`,
        event: 'clicked',
        where: { field: 'event.properties.n', op: 'eq', value: i },
        steps: [step],
      });
    }
    const distinct = Array.from({ length: 30 }, (_, k) => ({
      customerExternalId: `c${k % 10}`,
      event: 'clicked',
      properties: { n: k % 5 },
      messageId: `m-${k}`,
    }));
    const dup = {
      customerExternalId: 'c0',
      event: 'clicked',
      properties: { n: 0 },
      messageId: 'm-dup',
    };
    const conflicting = [0, 1].map((n) => ({ ...dup, messageId: 'm-conf', properties: { n } }));

    const responses = await Promise.all([
      ...distinct.map((input) => trackRaw(t, secret, input)),
      ...Array.from({ length: 5 }, () => trackRaw(t, secret, dup)),
      ...conflicting.map((input) => trackRaw(t, secret, input)),
    ]);

    const [forDistinct, forDup, forConflict] = [
      responses.slice(0, 30),
      responses.slice(30, 35),
      responses.slice(35),
    ];
    expect(forDistinct.map((r) => r.errors ?? null)).toEqual(Array(30).fill(null));
    expect(forDistinct.every((r) => r.data!.track.duplicate === false)).toBe(true);
    expect(new Set(forDistinct.map((r) => r.data!.track.eventId)).size).toBe(30);

    expect(forDup.map((r) => r.errors ?? null)).toEqual(Array(5).fill(null));
    expect(forDup.filter((r) => !r.data!.track.duplicate)).toHaveLength(1);
    expect(new Set(forDup.map((r) => r.data!.track.eventId)).size).toBe(1);

    const codes = forConflict.map((r) => r.errors?.[0]?.extensions?.code ?? 'OK').sort();
    expect(codes).toEqual(['CONFLICT', 'OK']);
    const conflict = forConflict.find((r) => r.errors)!.errors![0];
    expect(conflict.extensions).toMatchObject({
      field: 'input.messageId',
      reason: 'IDEMPOTENCY_KEY_REUSED',
    });
    expect(conflict.message).toMatch(/^input\.messageId: "m-conf" was already used/);

    const c0 = await customerEvents(t, secret, 'c0');
    // c0: m-0, m-10, m-20, m-dup once, m-conf once.
    expect(c0.map((e: any) => e.messageId).sort()).toEqual(
      ['m-0', 'm-10', 'm-20', 'm-conf', 'm-dup'].sort(),
    );
    const decisions = await decisionsOf(t, secret, { externalId: 'c0' });
    // Each stored event evaluated once by each of the 3 triggers.
    expect(decisions).toHaveLength(5 * 3);
    const entered = decisions.filter((d: any) => d.outcome === 'ENTERED');
    // m-0, m-10, m-20 (n 0), m-dup (n 0) enter trigger 0; m-conf entered with n 0 or 1.
    expect(entered.length).toBe(5);
  });
});
