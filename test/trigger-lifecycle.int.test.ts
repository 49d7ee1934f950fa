import { startTestNudge, TestNudge } from './support/harness';
import { expectGraphQLError } from './support/graphql-helpers';
import {
  CART_ABANDONMENT_TRIGGER,
  createTrigger,
  identify,
  isoOf,
  listDecisions,
  listRunMessages,
  mailsTo,
  track,
  uniqueEmail,
  updateTriggerRaw,
} from './support/scenario';

/**
 * Trigger lifecycle (issue #3): statuses, versions, validation of the new fields, and the
 * decision log. Everything through GraphQL on the manual clock; negative cases carry a
 * control that shows the same setup does produce messages.
 */

const WELCOME = {
  name: 'welcome',
  event: 'signed_up',
  steps: [{ channel: 'EMAIL', template: { subject: 'Welcome', body: 'Hello' } }],
};

/** Email at entry, and a second one an hour later. */
const TWO_STEPS = {
  name: 'onboarding',
  event: 'signed_up',
  steps: [
    { channel: 'EMAIL', template: { subject: 'Day 0', body: 'First' } },
    { delay: 'PT1H', channel: 'EMAIL', template: { subject: 'Hour 1', body: 'Second' } },
  ],
};

const TRIGGER_QUERY = `query($id: ID!) {
  trigger(id: $id) {
    id name status version
    versions { version createdAt openRuns definition }
  }
}`;

describe('trigger lifecycle', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  async function tenant(name = 'lifecycle'): Promise<string> {
    const { secret } = await t.createTenant(name);
    await t.setClock('2025-06-02T09:00:00.000Z');
    return secret;
  }

  async function customer(secret: string, externalId: string): Promise<string> {
    const email = uniqueEmail(externalId);
    await identify(t, secret, externalId, email);
    return email;
  }

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

  async function update(secret: string, id: string, input: Record<string, unknown>) {
    const response = await updateTriggerRaw(t, secret, id, input);
    if (response.errors?.length) throw new Error(JSON.stringify(response.errors));
    return response.data!.updateTrigger;
  }

  async function readTrigger(secret: string, id: string) {
    return (await t.ok<any>(secret, TRIGGER_QUERY, { id })).trigger;
  }

  /** (customer, scheduledFor, sentAt, subject) of every message of a trigger, by schedule. */
  async function sends(secret: string, triggerId: string) {
    const messages = await listRunMessages(t, secret, { triggerId });
    return messages
      .map((m) => [
        m.customer.externalId,
        isoOf(m.scheduledFor),
        m.sentAt && isoOf(m.sentAt),
        m.subject,
      ])
      .sort((a, b) => `${a[1]}${a[0]}`.localeCompare(`${b[1]}${b[0]}`));
  }

  describe('statuses', () => {
    it('only an ACTIVE trigger takes entries: DRAFT, PAUSED and ARCHIVED get no run and no decision', async () => {
      const secret = await tenant();
      const ids: Record<string, string> = {};
      for (const status of ['ACTIVE', 'DRAFT', 'PAUSED', 'ARCHIVED']) {
        ids[status] = await createTrigger(t, secret, { ...WELCOME, name: status, status });
        expect((await readTrigger(secret, ids[status])).status).toBe(status);
      }
      const email = await customer(secret, 'cust-1');
      await sendAt(secret, 'cust-1', 'signed_up', '2025-06-02T10:00:00.000Z');
      await t.setClock('2025-06-02T12:00:00.000Z');

      expect(await sends(secret, ids.ACTIVE)).toEqual([
        ['cust-1', '2025-06-02T10:00:00.000Z', '2025-06-02T10:00:00.000Z', 'Welcome'],
      ]);
      for (const status of ['DRAFT', 'PAUSED', 'ARCHIVED']) {
        expect(await sends(secret, ids[status])).toEqual([]);
        expect(await listDecisions(t, secret, 'cust-1', ids[status])).toEqual([]);
      }
      expect(await mailsTo(t.smtp, email)).toHaveLength(1);
    });

    it('a DRAFT made ACTIVE starts taking entries from then on; status changes keep the version', async () => {
      const secret = await tenant();
      const id = await createTrigger(t, secret, { ...WELCOME, status: 'DRAFT' });
      await customer(secret, 'cust-1');
      await customer(secret, 'cust-2');
      await sendAt(secret, 'cust-1', 'signed_up', '2025-06-02T10:00:00.000Z');
      await t.setClock('2025-06-02T10:30:00.000Z');
      expect(await update(secret, id, { status: 'ACTIVE' })).toMatchObject({
        status: 'ACTIVE',
        version: 1,
      });
      await sendAt(secret, 'cust-2', 'signed_up', '2025-06-02T11:00:00.000Z');
      await t.setClock('2025-06-02T12:00:00.000Z');

      expect(await sends(secret, id)).toEqual([
        ['cust-2', '2025-06-02T11:00:00.000Z', '2025-06-02T11:00:00.000Z', 'Welcome'],
      ]);
      expect((await readTrigger(secret, id)).versions.map((v: any) => v.version)).toEqual([1]);
    });

    it('ARCHIVED is final: every updateTrigger is CONFLICT with reason TRIGGER_ARCHIVED and changes nothing', async () => {
      const secret = await tenant();
      const id = await createTrigger(t, secret, WELCOME);
      expect(await update(secret, id, { status: 'ARCHIVED' })).toMatchObject({
        status: 'ARCHIVED',
        version: 1,
      });

      for (const input of [
        { status: 'ACTIVE' },
        { name: 'renamed' },
        { steps: [{ channel: 'EMAIL', template: { subject: 'Other', body: 'Other' } }] },
        {},
      ]) {
        const response = await updateTriggerRaw(t, secret, id, input);
        expectGraphQLError(response, 'CONFLICT');
        expect(response.errors![0].extensions?.reason).toBe('TRIGGER_ARCHIVED');
      }
      expect(await readTrigger(secret, id)).toMatchObject({
        name: 'welcome',
        status: 'ARCHIVED',
        version: 1,
      });
      expect((await readTrigger(secret, id)).versions).toHaveLength(1);
    });

    it.each(['PAUSED', 'ARCHIVED'])(
      'a run in progress finishes after its trigger is %s; entries after that are not taken',
      async (status) => {
        const secret = await tenant();
        const id = await createTrigger(t, secret, TWO_STEPS);
        const email = await customer(secret, 'cust-1');
        const late = await customer(secret, 'cust-2');
        await sendAt(secret, 'cust-1', 'signed_up', '2025-06-02T10:00:00.000Z');

        await t.setClock('2025-06-02T10:30:00.000Z');
        expect(await update(secret, id, { status })).toMatchObject({ status, version: 1 });
        expect((await readTrigger(secret, id)).versions).toEqual([
          expect.objectContaining({ version: 1, openRuns: 1 }),
        ]);
        await sendAt(secret, 'cust-1', 'signed_up', '2025-06-02T10:45:00.000Z');
        await sendAt(secret, 'cust-2', 'signed_up', '2025-06-02T10:45:00.000Z');
        await t.setClock('2025-06-02T13:00:00.000Z');

        expect(await sends(secret, id)).toEqual([
          ['cust-1', '2025-06-02T10:00:00.000Z', '2025-06-02T10:00:00.000Z', 'Day 0'],
          ['cust-1', '2025-06-02T11:00:00.000Z', '2025-06-02T11:00:00.000Z', 'Hour 1'],
        ]);
        expect(await mailsTo(t.smtp, email)).toHaveLength(2);
        expect(await mailsTo(t.smtp, late)).toHaveLength(0);
        expect(await listDecisions(t, secret, 'cust-2', id)).toEqual([]);
        expect((await readTrigger(secret, id)).versions).toEqual([
          expect.objectContaining({ version: 1, openRuns: 0 }),
        ]);
      },
    );

    it('absence runs waiting when the trigger is archived still reach their deadline: the un-bought cart is reminded, the bought one is not', async () => {
      const secret = await tenant();
      const id = await createTrigger(t, secret, CART_ABANDONMENT_TRIGGER);
      const waiting = await customer(secret, 'cust-1');
      const buyer = await customer(secret, 'cust-2');
      await sendAt(secret, 'cust-1', 'added_to_cart', '2025-06-02T10:00:00.000Z', {
        cartId: 'c-1',
      });
      await sendAt(secret, 'cust-2', 'added_to_cart', '2025-06-02T10:00:00.000Z', {
        cartId: 'c-2',
      });
      await t.setClock('2025-06-02T10:30:00.000Z');
      await update(secret, id, { status: 'ARCHIVED' });
      await sendAt(secret, 'cust-2', 'purchase', '2025-06-02T11:00:00.000Z', { cartId: 'c-2' });
      await t.setClock('2025-06-02T15:00:00.000Z');

      expect(await sends(secret, id)).toEqual([
        ['cust-1', '2025-06-02T12:00:00.000Z', '2025-06-02T12:00:00.000Z', 'You left something'],
      ]);
      expect(await mailsTo(t.smtp, waiting)).toHaveLength(1);
      expect(await mailsTo(t.smtp, buyer)).toHaveLength(0);
      const decided = await listDecisions(t, secret, 'cust-2', id);
      expect(decided.map((d) => `${d.outcome}/${d.reason}`)).toEqual([
        'ENTERED/CONDITION_MET',
        'CANCELLED/ABSENCE_VIOLATED',
      ]);
    });
  });

  describe('versions', () => {
    it('an edit while a run waits: the old run sends the OLD subject, a new entry the NEW one; versions newest first with open runs', async () => {
      const secret = await tenant();
      const id = await createTrigger(t, secret, {
        name: 'reminder',
        event: 'signed_up',
        steps: [
          { delay: 'PT1H', channel: 'EMAIL', template: { subject: 'Old subject', body: 'Old' } },
        ],
      });
      const first = await customer(secret, 'cust-1');
      const second = await customer(secret, 'cust-2');
      await sendAt(secret, 'cust-1', 'signed_up', '2025-06-02T10:00:00.000Z');

      await t.setClock('2025-06-02T10:15:00.000Z');
      expect(
        await update(secret, id, {
          steps: [
            { delay: 'PT1H', channel: 'EMAIL', template: { subject: 'New subject', body: 'New' } },
          ],
        }),
      ).toMatchObject({ version: 2 });
      await sendAt(secret, 'cust-2', 'signed_up', '2025-06-02T10:30:00.000Z');
      await t.setClock('2025-06-02T10:45:00.000Z');
      expect(await update(secret, id, { name: 'reminder (renamed)' })).toMatchObject({
        version: 2,
      });

      const during = await readTrigger(secret, id);
      expect(during.version).toBe(2);
      expect(
        during.versions.map((v: any) => ({
          version: v.version,
          createdAt: isoOf(v.createdAt),
          openRuns: v.openRuns,
          subject: v.definition.steps[0].template.subject,
        })),
      ).toEqual([
        { version: 2, createdAt: '2025-06-02T10:15:00.000Z', openRuns: 1, subject: 'New subject' },
        { version: 1, createdAt: '2025-06-02T09:00:00.000Z', openRuns: 1, subject: 'Old subject' },
      ]);

      await t.setClock('2025-06-02T12:00:00.000Z');
      expect(await sends(secret, id)).toEqual([
        ['cust-1', '2025-06-02T11:00:00.000Z', '2025-06-02T11:00:00.000Z', 'Old subject'],
        ['cust-2', '2025-06-02T11:30:00.000Z', '2025-06-02T11:30:00.000Z', 'New subject'],
      ]);
      expect((await mailsTo(t.smtp, first)).map((m) => m.subject)).toEqual(['Old subject']);
      expect((await mailsTo(t.smtp, second)).map((m) => m.subject)).toEqual(['New subject']);
      expect((await readTrigger(secret, id)).versions.map((v: any) => v.openRuns)).toEqual([0, 0]);
      const versionsOf = async (externalId: string) =>
        (await listDecisions(t, secret, externalId, id)).map((d) => d.triggerVersion);
      expect(await versionsOf('cust-1')).toEqual([1]);
      expect(await versionsOf('cust-2')).toEqual([2]);
    });
  });

  describe('validation of the new fields', () => {
    const BASE = {
      name: 'validated',
      event: 'added_to_cart',
      entryKey: ['cartId'],
      unless: { event: 'purchase', within: 'PT2H', matchOn: ['cartId'] },
      steps: [
        { channel: 'EMAIL', template: { subject: 'One', body: 'One' } },
        { delay: 'PT1H', channel: 'EMAIL', template: { subject: 'Two', body: 'Two' } },
      ],
    };
    const withAt = (index: number, at: Record<string, unknown>) => ({
      steps: BASE.steps.map((s, i) => (i === index ? { ...s, at } : s)),
    });
    const window = (w: Record<string, unknown>) => ({
      sendWindow: { from: '09:00', to: '17:00', ...w },
    });
    const unless = (extra: Record<string, unknown>) => ({ unless: { ...BASE.unless, ...extra } });

    const CASES: Array<[string, Record<string, unknown>, string]> = [
      ['ONCE_PER without a period', { reentry: { policy: 'ONCE_PER' } }, 'input.reentry.period'],
      [
        'ONCE with a period',
        { reentry: { policy: 'ONCE', period: 'P1D' } },
        'input.reentry.period',
      ],
      [
        'EVERY_TIME with a period',
        { reentry: { policy: 'EVERY_TIME', period: 'P1D' } },
        'input.reentry.period',
      ],
      [
        'a period that is not a duration',
        { reentry: { policy: 'ONCE_PER', period: '7 days' } },
        'input.reentry.period',
      ],
      [
        'a zero period',
        { reentry: { policy: 'ONCE_PER', period: 'PT0S' } },
        'input.reentry.period',
      ],
      ['maxActive 0', { maxActive: 0 }, 'input.maxActive'],
      ['maxActive 101', { maxActive: 101 }, 'input.maxActive'],
      ['maxActive -1', { maxActive: -1 }, 'input.maxActive'],
      ['a weekday listed twice', window({ days: ['MON', 'MON'] }), 'input.sendWindow.days.1'],
      ['no weekday at all', window({ days: [] }), 'input.sendWindow.days'],
      ['from not HH:MM', window({ from: '9:00' }), 'input.sendWindow.from'],
      ['to before from', window({ from: '17:00', to: '09:00' }), 'input.sendWindow.to'],
      ['to 24:01', window({ to: '24:01' }), 'input.sendWindow.to'],
      ['step at.time 24:00', withAt(0, { time: '24:00' }), 'input.steps.0.at.time'],
      ['step at.time 9am', withAt(0, { time: '9am' }), 'input.steps.0.at.time'],
      ['second step at.time 25:00', withAt(1, { time: '25:00' }), 'input.steps.1.at.time'],
      ['step at.days -1', withAt(0, { days: -1, time: '09:00' }), 'input.steps.0.at.days'],
      ['grace over PT24H', unless({ grace: 'PT24H1S' }), 'input.unless.grace'],
      ['grace not a duration', unless({ grace: 'ten minutes' }), 'input.unless.grace'],
      ['attributeWait over PT24H', { attributeWait: 'PT25H' }, 'input.attributeWait'],
      ['attributeWait zero', { attributeWait: 'PT0S' }, 'input.attributeWait'],
      ['cooldown zero', { cooldown: 'PT0S' }, 'input.cooldown'],
      ['cooldown in months', { cooldown: 'P1M' }, 'input.cooldown'],
    ];

    let secret: string;
    let existingId: string;
    beforeAll(async () => {
      secret = await tenant();
      existingId = await createTrigger(t, secret, BASE);
    });

    const TITLED = CASES.map(([what, change, field]) => [what, field, change] as const);

    it.each(TITLED)('createTrigger: %s → BAD_USER_INPUT at %s', async (_what, field, change) => {
      const response = await t.request(
        secret,
        `mutation($input: CreateTriggerInput!) { createTrigger(input: $input) { id } }`,
        { input: { ...BASE, ...change } },
      );
      expectGraphQLError(response, 'BAD_USER_INPUT', field);
    });

    it.each(TITLED)('updateTrigger: %s → BAD_USER_INPUT at %s', async (_what, field, change) => {
      expectGraphQLError(
        await updateTriggerRaw(t, secret, existingId, change),
        'BAD_USER_INPUT',
        field,
      );
    });

    it('the refused changes left the trigger at version 1; the limits themselves are accepted and read back', async () => {
      expect((await readTrigger(secret, existingId)).version).toBe(1);
      const limits = {
        reentry: { policy: 'ONCE_PER', period: 'P7D' },
        maxActive: 100,
        cooldown: 'PT1H',
        attributeWait: 'PT24H',
        sendWindow: { days: ['SAT', 'MON'], from: '00:00', to: '24:00' },
        unless: { ...BASE.unless, grace: 'PT24H' },
        steps: [{ ...BASE.steps[0], at: { days: 366, time: '23:59' } }],
      };
      expect(await update(secret, existingId, limits)).toMatchObject({ version: 2 });
      const read = await t.ok<any>(
        secret,
        `query($id: ID!) { trigger(id: $id) {
           reentry { policy period } maxActive cooldown attributeWait
           sendWindow { days from to } unless { grace } steps { at { days time } }
         } }`,
        { id: existingId },
      );
      expect(read.trigger).toEqual({
        reentry: { policy: 'ONCE_PER', period: 'P7D' },
        maxActive: 100,
        cooldown: 'PT1H',
        attributeWait: 'PT24H',
        sendWindow: { days: ['MON', 'SAT'], from: '00:00', to: '24:00' },
        unless: { grace: 'PT24H' },
        steps: [{ at: { days: 366, time: '23:59' } }],
      });
      expect(await update(secret, existingId, { maxActive: 1 })).toMatchObject({ version: 3 });
    });
  });

  describe('decision log', () => {
    it('NOT_MATCHED / CONDITION_FALSE names the failing node, the field and why; a matching event is the control', async () => {
      const secret = await tenant();
      const id = await createTrigger(t, secret, {
        name: 'big-cart-de',
        event: 'added_to_cart',
        where: {
          all: [
            { field: 'event.properties.price', op: 'gte', value: 50 },
            { field: 'event.properties.country', op: 'eq', value: 'DE' },
          ],
        },
        steps: [{ channel: 'EMAIL', template: { subject: 'Big cart', body: 'Big' } }],
      });
      await customer(secret, 'cust-1');
      await sendAt(secret, 'cust-1', 'added_to_cart', '2025-06-02T10:00:00.000Z', {
        price: 75,
        country: 'DE',
      });
      await sendAt(secret, 'cust-1', 'added_to_cart', '2025-06-02T10:01:00.000Z', {
        price: 20,
        country: 'DE',
      });
      await sendAt(secret, 'cust-1', 'added_to_cart', '2025-06-02T10:02:00.000Z', {
        price: '75',
        country: 'DE',
      });
      await sendAt(secret, 'cust-1', 'added_to_cart', '2025-06-02T10:03:00.000Z', { price: 75 });
      await sendAt(secret, 'cust-1', 'added_to_cart', '2025-06-02T10:04:00.000Z', {
        price: 75,
        country: 'de',
      });
      await t.setClock('2025-06-02T11:00:00.000Z');

      const decisions = await listDecisions(t, secret, 'cust-1', id);
      expect(
        decisions.map((d) => [
          d.outcome,
          d.reason,
          isoOf(d.event!.occurredAt),
          d.outcome === 'ENTERED' ? null : d.detail,
        ]),
      ).toEqual([
        ['ENTERED', 'CONDITION_MET', '2025-06-02T10:00:00.000Z', null],
        [
          'NOT_MATCHED',
          'CONDITION_FALSE',
          '2025-06-02T10:01:00.000Z',
          { failingNode: 'all.0', field: 'event.properties.price', why: 'NO_MATCH' },
        ],
        [
          'NOT_MATCHED',
          'CONDITION_FALSE',
          '2025-06-02T10:02:00.000Z',
          { failingNode: 'all.0', field: 'event.properties.price', why: 'TYPE_MISMATCH' },
        ],
        [
          'NOT_MATCHED',
          'CONDITION_FALSE',
          '2025-06-02T10:03:00.000Z',
          { failingNode: 'all.1', field: 'event.properties.country', why: 'MISSING' },
        ],
        [
          'NOT_MATCHED',
          'CONDITION_FALSE',
          '2025-06-02T10:04:00.000Z',
          { failingNode: 'all.1', field: 'event.properties.country', why: 'NO_MATCH' },
        ],
      ]);
      expect(decisions.slice(1).every((d) => d.enrollmentId === null)).toBe(true);
      expect(await sends(secret, id)).toEqual([
        ['cust-1', '2025-06-02T10:00:00.000Z', '2025-06-02T10:00:00.000Z', 'Big cart'],
      ]);
    });

    it('RESET / SAME_KEY_REENTRY moves the deadline; FIRED / DEADLINE_PASSED at the moved deadline; all on one run', async () => {
      const secret = await tenant();
      const id = await createTrigger(t, secret, CART_ABANDONMENT_TRIGGER);
      await customer(secret, 'cust-1');
      await sendAt(secret, 'cust-1', 'added_to_cart', '2025-06-02T10:00:00.000Z', {
        cartId: 'c-1',
      });
      await sendAt(secret, 'cust-1', 'added_to_cart', '2025-06-02T10:40:00.000Z', {
        cartId: 'c-1',
      });
      await t.setClock('2025-06-02T15:00:00.000Z');

      const decisions = await listDecisions(t, secret, 'cust-1', id);
      expect(decisions.map((d) => [d.outcome, d.reason, isoOf(d.at), d.detail])).toEqual([
        [
          'ENTERED',
          'CONDITION_MET',
          '2025-06-02T10:00:00.000Z',
          { deadline: '2025-06-02T12:00:00.000Z' },
        ],
        [
          'RESET',
          'SAME_KEY_REENTRY',
          '2025-06-02T10:40:00.000Z',
          { moved: true, deadline: '2025-06-02T12:40:00.000Z' },
        ],
        [
          'FIRED',
          'DEADLINE_PASSED',
          '2025-06-02T12:40:00.000Z',
          expect.objectContaining({ deadline: '2025-06-02T12:40:00.000Z' }),
        ],
      ]);
      expect(isoOf(decisions[1].event!.occurredAt)).toBe('2025-06-02T10:40:00.000Z');
      const runs = new Set(decisions.map((d) => d.enrollmentId));
      expect(runs.size).toBe(1);
      const messages = await listRunMessages(t, secret, { triggerId: id });
      expect(messages.map((m) => [m.enrollmentId, isoOf(m.scheduledFor)])).toEqual([
        [[...runs][0], '2025-06-02T12:40:00.000Z'],
      ]);
    });

    it("decisions filtered by another tenant's trigger id are empty", async () => {
      const alpha = await tenant('t-alpha');
      const beta = await tenant('t-beta');
      const alphaTrigger = await createTrigger(t, alpha, WELCOME);
      const betaTrigger = await createTrigger(t, beta, WELCOME);
      await customer(alpha, 'cust-42');
      await customer(beta, 'cust-42');
      await sendAt(alpha, 'cust-42', 'signed_up', '2025-06-02T10:00:00.000Z');
      await track(t, beta, {
        customerExternalId: 'cust-42',
        event: 'signed_up',
        occurredAt: '2025-06-02T10:00:00.000Z',
      });

      expect(await listDecisions(t, beta, 'cust-42', alphaTrigger)).toEqual([]);
      expect(await listDecisions(t, alpha, 'cust-42', betaTrigger)).toEqual([]);
      // Controls: each tenant sees its own decision, and only that one.
      const own = await listDecisions(t, beta, 'cust-42');
      expect(own.map((d) => [d.triggerId, d.outcome])).toEqual([[betaTrigger, 'ENTERED']]);
      const alphaOwn = await listDecisions(t, alpha, 'cust-42', alphaTrigger);
      expect(alphaOwn.map((d) => [d.triggerId, d.outcome])).toEqual([[alphaTrigger, 'ENTERED']]);
      expect((await t.ok<any>(beta, TRIGGER_QUERY, { id: alphaTrigger })).trigger).toBeNull();
    });
  });
});
