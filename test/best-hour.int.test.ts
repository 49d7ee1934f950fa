import net from 'node:net';
import { emailLinks } from '../src/engine/engagement/link-tokens';
import { startTestNudge, type TestNudge } from './support/harness';
import { expectGraphQLError, uniq } from './support/graphql-helpers';
import {
  createTrigger,
  identifyWith,
  listDecisions,
  listMessages,
  track,
  uniqueEmail,
} from './support/scenario';

/**
 * Send-time optimisation on the manual clock (docs/triggers.md, sendTime): engagement history
 * is made the way it happens live — a newsletter email is sent and its tracking pixel fetched
 * by a browser at the customer's hour — and then a BEST_HOUR step is scheduled and run.
 */

const BROWSER =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)';

const NEWSLETTER = {
  name: 'newsletter',
  event: 'newsletter_due',
  steps: [{ channel: 'EMAIL', template: { subject: 'News', body: 'This week' } }],
};

const bestHourTrigger = (extra: Record<string, unknown> = {}) => ({
  name: 'cart reminder',
  event: 'added_to_cart',
  steps: [
    {
      channel: 'EMAIL',
      template: { subject: 'Your cart', body: 'Still there' },
      sendTime: { mode: 'BEST_HOUR', within: 'PT24H' },
    },
  ],
  ...extra,
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('BEST_HOUR steps on the manual clock', () => {
  let t: TestNudge;
  let baseUrl: string;

  beforeAll(async () => {
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    t = await startTestNudge({ env: { PORT: String(port), NUDGE_PUBLIC_URL: baseUrl } });
  });
  afterAll(async () => {
    await t?.stop();
  });

  const sql = <T>(text: string, params: unknown[] = []): Promise<T[]> =>
    t.nudge.db.dataSource.query(text, params);

  async function tenant(timezone: string): Promise<{ tenantId: string; secret: string }> {
    const created = await t.createTenant(`best-hour-${uniq()}`, timezone);
    await createTrigger(t, created.secret, NEWSLETTER);
    return created;
  }

  async function customer(secret: string, externalId: string, timezone?: string) {
    await identifyWith(t, secret, {
      externalId,
      email: uniqueEmail(externalId),
      ...(timezone ? { timezone } : {}),
    });
  }

  /** Sends the customer a newsletter now and returns a function that opens it like a person. */
  async function sendNewsletter(
    tenantId: string,
    secret: string,
    externalId: string,
  ): Promise<() => Promise<void>> {
    await track(t, secret, { customerExternalId: externalId, event: 'newsletter_due' });
    const [row] = await sql<{ id: string; link_secret: string }>(
      `SELECT m.id, tn.link_secret FROM messages m
       JOIN customers c ON c.id = m.customer_id JOIN tenants tn ON tn.id = m.tenant_id
       WHERE m.tenant_id = $1 AND c.external_id = $2 AND m.status = 'SENT'
       ORDER BY m.created_at DESC LIMIT 1`,
      [tenantId, externalId],
    );
    expect(row).toBeDefined();
    const { openPixelUrl } = emailLinks(baseUrl, tenantId, row.id, row.link_secret);
    return async () => {
      const response = await fetch(openPixelUrl, { headers: { 'user-agent': BROWSER } });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
    };
  }

  async function cartMessages(secret: string, externalId: string) {
    const all = await listMessages(t, secret, { customerExternalId: externalId });
    return all.filter((m) => m.subject === 'Your cart');
  }

  async function bestHourDecision(secret: string, externalId: string) {
    const decisions = await listDecisions(t, secret, externalId);
    return decisions.find((d) => d.reason === 'BEST_HOUR') ?? null;
  }

  it('sends at the hour each customer opens, in their own zone, and a newcomer at the tenant peak', async () => {
    const { tenantId, secret } = await tenant('Europe/Berlin');
    await customer(secret, 'evening'); // no zone of their own: the tenant's, Berlin
    await customer(secret, 'evening2');
    await customer(secret, 'tokyo', 'Asia/Tokyo');
    await customer(secret, 'newbie', 'America/New_York');

    // Jan 4-8 2027 (CET, UTC+1): "evening" opens at 19:05 Berlin every day, "evening2" on two
    // days, "tokyo" at 08:05 Tokyo (23:05Z the day before).
    for (const day of ['04', '05', '06', '07', '08']) {
      await t.setClock(`2027-01-${day}T17:00:00Z`);
      const opens = [await sendNewsletter(tenantId, secret, 'evening')];
      if (day <= '05') opens.push(await sendNewsletter(tenantId, secret, 'evening2'));
      await t.setClock(`2027-01-${day}T18:05:00Z`);
      for (const open of opens) await open();
      await t.setClock(`2027-01-${day}T22:00:00Z`);
      const openTokyo = await sendNewsletter(tenantId, secret, 'tokyo');
      await t.setClock(`2027-01-${day}T23:05:00Z`);
      await openTokyo();
    }

    await createTrigger(t, secret, bestHourTrigger());
    await t.setClock('2027-01-11T08:00:00Z'); // 09:00 Berlin, 17:00 Tokyo, 03:00 New York
    for (const who of ['evening', 'tokyo', 'newbie']) {
      await track(t, secret, { customerExternalId: who, event: 'added_to_cart' });
    }
    for (const who of ['evening', 'tokyo', 'newbie']) {
      expect(await cartMessages(secret, who)).toEqual([]);
    }

    expect((await bestHourDecision(secret, 'evening'))?.detail).toMatchObject({
      step: 0,
      dueAt: '2027-01-11T08:00:00.000Z',
      deferredTo: '2027-01-11T18:00:00.000Z',
      zone: 'Europe/Berlin',
      hour: 19,
      customerEngagements: 5,
      tenantEngagements: 12,
    });
    expect((await bestHourDecision(secret, 'tokyo'))?.detail).toMatchObject({
      deferredTo: '2027-01-11T23:00:00.000Z',
      zone: 'Asia/Tokyo',
      hour: 8,
      customerEngagements: 5,
    });
    // No history of their own: the tenant's peak (19:00, 7 of 12 opens) in their own zone.
    expect((await bestHourDecision(secret, 'newbie'))?.detail).toMatchObject({
      deferredTo: '2027-01-12T00:00:00.000Z',
      zone: 'America/New_York',
      hour: 19,
      customerEngagements: 0,
    });

    await t.setClock('2027-01-11T17:59:59Z');
    expect(await cartMessages(secret, 'evening')).toEqual([]);
    await t.setClock('2027-01-11T18:00:00Z');
    const [evening] = await cartMessages(secret, 'evening');
    expect(evening).toMatchObject({ status: 'SENT', scheduledFor: '2027-01-11T18:00:00.000Z' });
    expect(evening.sentAt).toBe('2027-01-11T18:00:00.000Z');

    await t.setClock('2027-01-12T00:00:00Z');
    const [tokyo] = await cartMessages(secret, 'tokyo');
    expect(tokyo).toMatchObject({ status: 'SENT', scheduledFor: '2027-01-11T23:00:00.000Z' });
    const [newbie] = await cartMessages(secret, 'newbie');
    expect(newbie).toMatchObject({ status: 'SENT', scheduledFor: '2027-01-12T00:00:00.000Z' });
  });

  it('moves nothing for a tenant with no engagement yet', async () => {
    const { secret } = await tenant('UTC');
    await customer(secret, 'first');
    await createTrigger(t, secret, bestHourTrigger());
    await t.setClock('2027-01-13T10:17:00Z');
    await track(t, secret, { customerExternalId: 'first', event: 'added_to_cart' });

    const [message] = await cartMessages(secret, 'first');
    expect(message).toMatchObject({ status: 'SENT', scheduledFor: '2027-01-13T10:17:00.000Z' });
    expect(await bestHourDecision(secret, 'first')).toBeNull();
  });

  it('still defers for quiet hours after the best hour, and never drops the step', async () => {
    const { tenantId, secret } = await tenant('UTC');
    await customer(secret, 'owl');
    for (const day of ['14', '15', '16', '17']) {
      await t.setClock(`2027-01-${day}T21:30:00Z`);
      const open = await sendNewsletter(tenantId, secret, 'owl');
      await t.setClock(`2027-01-${day}T23:10:00Z`);
      await open();
    }
    await createTrigger(t, secret, bestHourTrigger({ quietHours: { from: '22:30', to: '07:00' } }));
    await t.setClock('2027-01-18T09:00:00Z');
    await track(t, secret, { customerExternalId: 'owl', event: 'added_to_cart' });
    expect((await bestHourDecision(secret, 'owl'))?.detail).toMatchObject({
      deferredTo: '2027-01-18T23:00:00.000Z',
      hour: 23,
    });

    await t.setClock('2027-01-19T06:59:00Z');
    expect(await cartMessages(secret, 'owl')).toEqual([]);
    const decisions = await listDecisions(t, secret, 'owl');
    expect(decisions.find((d) => d.reason === 'QUIET_HOURS')?.detail).toMatchObject({
      dueAt: '2027-01-18T23:00:00.000Z',
      deferredTo: '2027-01-19T07:00:00.000Z',
    });
    await t.setClock('2027-01-19T07:00:00Z');
    const [message] = await cartMessages(secret, 'owl');
    expect(message).toMatchObject({ status: 'SENT', scheduledFor: '2027-01-19T07:00:00.000Z' });
  });

  it('refuses sendTime with at, an unknown mode, and a bound outside PT1H..P7D', async () => {
    const { secret } = await tenant('UTC');
    const step = bestHourTrigger().steps[0];
    const create = (changes: Record<string, unknown>) =>
      t.request(secret, `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`, {
        i: bestHourTrigger({ steps: [{ ...step, ...changes }] }),
      });

    expectGraphQLError(
      await create({ at: { days: 1, time: '09:00' } }),
      'BAD_USER_INPUT',
      'input.steps.0.sendTime',
    );
    expectGraphQLError(
      await create({ sendTime: { mode: 'BEST_HOUR', within: 'P8D' } }),
      'BAD_USER_INPUT',
      'input.steps.0.sendTime.within',
    );
    expectGraphQLError(
      await create({ sendTime: { mode: 'BEST_HOUR', within: 'PT30M' } }),
      'BAD_USER_INPUT',
      'input.steps.0.sendTime.within',
    );
    const unknownMode = await create({ sendTime: { mode: 'SOON' } });
    expect(unknownMode.errors?.[0].extensions?.code).toMatch(/BAD_USER_INPUT|GRAPHQL_VALIDATION/);

    const data = await t.ok<any>(
      secret,
      `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) {
         steps { sendTime { mode within } } } }`,
      { i: bestHourTrigger({ steps: [{ ...step, sendTime: { mode: 'BEST_HOUR' } }] }) },
    );
    expect(data.createTrigger.steps[0].sendTime).toEqual({ mode: 'BEST_HOUR', within: 'PT24H' });
  });

  it('keeps to the local hour across the spring DST change (19:00 Berlin: 18:00Z, then 17:00Z)', async () => {
    const { tenantId, secret } = await tenant('Europe/Berlin');
    await customer(secret, 'dst');
    for (const day of ['22', '23', '24', '25']) {
      await t.setClock(`2027-03-${day}T17:00:00Z`);
      const open = await sendNewsletter(tenantId, secret, 'dst');
      await t.setClock(`2027-03-${day}T18:05:00Z`); // 19:05 CET
      await open();
    }
    await createTrigger(t, secret, bestHourTrigger());
    await t.setClock('2027-03-29T08:00:00Z'); // 10:00 CEST, the day after the change
    await track(t, secret, { customerExternalId: 'dst', event: 'added_to_cart' });

    await t.setClock('2027-03-29T17:00:00Z');
    const [message] = await cartMessages(secret, 'dst');
    expect(message).toMatchObject({ status: 'SENT', scheduledFor: '2027-03-29T17:00:00.000Z' });
    expect((await bestHourDecision(secret, 'dst'))?.detail).toMatchObject({ hour: 19 });
  });

  it('looks for the hour from now when the step is scheduled after its due time has passed', async () => {
    const { tenantId, secret } = await tenant('UTC');
    await customer(secret, 'late');
    for (const day of ['05', '06', '07', '08', '09']) {
      await t.setClock(`2027-04-${day}T01:00:00Z`);
      const open = await sendNewsletter(tenantId, secret, 'late');
      await t.setClock(`2027-04-${day}T02:10:00Z`);
      await open();
    }
    // Step 0 waits out the quiet hours until 07:00; step 1 (an hour after entry) is then
    // scheduled with its due time, 00:00, long gone.
    await createTrigger(t, secret, {
      name: 'two steps',
      event: 'added_to_cart',
      quietHours: { from: '22:00', to: '07:00' },
      steps: [
        { channel: 'EMAIL', template: { subject: 'First', body: 'One' } },
        {
          channel: 'EMAIL',
          after: 'ENTRY',
          delay: 'PT1H',
          template: { subject: 'Your cart', body: 'Two' },
          sendTime: { mode: 'BEST_HOUR', within: 'PT24H' },
        },
      ],
    });
    await t.setClock('2027-04-12T23:00:00Z');
    await track(t, secret, { customerExternalId: 'late', event: 'added_to_cart' });
    await t.setClock('2027-04-13T07:00:00Z');

    // Not 02:00 this morning (past): the next 02:00, within a day of now.
    expect((await bestHourDecision(secret, 'late'))?.detail).toMatchObject({
      step: 1,
      dueAt: '2027-04-13T00:00:00.000Z',
      deferredTo: '2027-04-14T02:00:00.000Z',
      hour: 2,
    });
    expect(await cartMessages(secret, 'late')).toEqual([]);
  });
});
