import { SmtpSink } from '../scripts/lib/smtp-sink';
import { describeWithRedis, startTestNudge, TestNudge } from './support/harness';

/**
 * Two instances on the system clock share PostgreSQL and Redis and race for the same due
 * timers: every reminder must go out exactly once (DESIGN.md: at most once per step, and a
 * timer fires even when another worker holds the lease).
 */
describeWithRedis('two workers on the system clock', () => {
  const CUSTOMERS = 60;
  let sink: SmtpSink;
  let a: TestNudge;
  let b: TestNudge;

  beforeAll(async () => {
    sink = new SmtpSink();
    await sink.start();
    const shared = {
      smtp: sink,
      prefix: `tw${Date.now().toString(36)}`,
      env: { NUDGE_CLOCK: 'system', NUDGE_TIMER_POLL_MS: '10' },
    };
    a = await startTestNudge(shared);
    b = await startTestNudge(shared);
  });
  afterAll(async () => {
    await a.stop();
    await b.stop();
    await sink.stop();
  });

  it('sends each reminder exactly once while both claim due timers', async () => {
    const { secret } = await a.createTenant('race');
    await a.ok(secret, `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`, {
      i: {
        name: 'quick reminder',
        event: 'added_to_cart',
        unless: { event: 'purchase', within: 'PT1S' },
        steps: [
          { channel: 'EMAIL', template: { subject: 'one', body: 'first' } },
          { delay: 'PT0.5S', channel: 'EMAIL', template: { subject: 'two', body: 'second' } },
        ],
      },
    });
    const addresses: string[] = [];
    for (let i = 0; i < CUSTOMERS; i++) {
      const address = `race-${i}-${Date.now()}@example.com`;
      addresses.push(address);
      const via = i % 2 === 0 ? a : b;
      await via.ok(
        secret,
        `mutation($e: String!, $x: String!) { identify(input: { externalId: $x, email: $e }) { id } }`,
        {
          e: address,
          x: `race-${i}`,
        },
      );
      await via.ok(
        secret,
        `mutation($x: String!) { track(input: { customerExternalId: $x, event: "added_to_cart" }) { eventId } }`,
        {
          x: `race-${i}`,
        },
      );
    }

    const deadline = Date.now() + 20_000;
    const mine = () => sink.received.filter((m) => addresses.includes(m.to[0]));
    while (mine().length < CUSTOMERS * 2 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await sink.settle();

    const received = mine();
    expect(received).toHaveLength(CUSTOMERS * 2);
    for (const address of addresses) {
      expect(
        received
          .filter((m) => m.to[0] === address)
          .map((m) => m.subject)
          .sort(),
      ).toEqual(['one', 'two']);
    }
    const messages = await a.ok<any>(
      secret,
      `{ messages(first: 100) { edges { node { status } } pageInfo { hasNextPage } } }`,
    );
    expect(messages.messages.edges.every((e: any) => e.node.status === 'SENT')).toBe(true);
  });
});
