import {
  OPERATOR_TOKEN,
  startTestNudge,
  type GraphQLResponse,
  type TestNudge,
} from './support/harness';
import {
  createApiKey,
  createTenantWithKey,
  expectGraphQLError,
  uniq,
  type TestTenant,
} from './support/graphql-helpers';

/**
 * "Bad input gets a GraphQL error with a stable extensions.code and a message that says what
 * to fix; nothing half-written stays behind" (DESIGN.md, Guarantees). Each case checks the
 * code, the field, and afterwards that nothing was stored.
 */

const CREATE_TRIGGER = `mutation($input: CreateTriggerInput!) { createTrigger(input: $input) { id } }`;
const IDENTIFY = `mutation($input: IdentifyInput!) { identify(input: $input) { id } }`;
const TRACK = `mutation($input: TrackInput!) { track(input: $input) { eventId duplicate } }`;
const TRACK_BATCH = `mutation($events: [TrackInput!]!) {
  trackBatch(events: $events) { accepted duplicates eventIds rejected { index code field } }
}`;
const TRIGGERS = `query($first: Int, $after: String) {
  triggers(first: $first, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } }
}`;
const CUSTOMER_EVENTS = `query($externalId: String!) {
  customer(externalId: $externalId) { id email phone timezone events { edges { node { id name } } } }
}`;

const EMAIL_STEP = {
  channel: 'EMAIL',
  template: { subject: 'Hi', body: 'Hi {{ customer.traits.firstName }}' },
};
const VALID_TRIGGER = { name: 'cart', event: 'added_to_cart', steps: [EMAIL_STEP] };

const ok = { field: 'event.properties.price', op: 'gte', value: 50 };

/** PostgreSQL cannot store U+0000 in text or jsonb: today such input fails inside the database. */
const nulTrack = (externalId: string) => ({
  input: {
    customerExternalId: externalId,
    event: 'added_to_cart',
    properties: { note: 'a\u0000b' },
  },
});

describe('bad input', () => {
  let t: TestNudge;
  let tenant: TestTenant;

  beforeAll(async () => {
    t = await startTestNudge();
    await t.setClock('2025-03-03T12:00:00Z');
  });
  afterAll(async () => {
    await t.stop();
  });
  beforeEach(async () => {
    tenant = await createTenantWithKey(t, `bad-input-${uniq()}`);
  });

  async function triggerIds(secret = tenant.secret): Promise<string[]> {
    const data = await t.ok<any>(secret, TRIGGERS);
    return data.triggers.edges.map((e: any) => e.node.id);
  }

  async function customer(externalId: string, secret = tenant.secret): Promise<any> {
    const data = await t.ok<any>(secret, CUSTOMER_EVENTS, { externalId });
    return data.customer;
  }

  async function tenantsNamed(name: string): Promise<number> {
    const [row] = await t.nudge.db.asSystem((tx) =>
      tx.query('SELECT count(*)::int AS n FROM tenants WHERE name = $1', [name]),
    );
    return (row as { n: number }).n;
  }

  /** The data of a failed request: null as a whole, or null at the failing root field. */
  function expectNoData(response: GraphQLResponse, rootField: string): void {
    expect(response.data?.[rootField] ?? null).toBeNull();
  }

  describe('authentication and scopes', () => {
    it('missing Authorization is UNAUTHENTICATED and stores nothing', async () => {
      const response = await t.request(null, IDENTIFY, { input: { externalId: 'anon-1' } });

      expectGraphQLError(response, 'UNAUTHENTICATED');
      expectNoData(response, 'identify');
      const read = await t.request(null, TRIGGERS);
      expectGraphQLError(read, 'UNAUTHENTICATED');
    });

    it.each([
      ['a garbage key', 'garbage'],
      ['a well-formed but unknown key', 'nk_AAAAAAAAAAAA_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
      ['a key of the wrong length', `nk_AAAAAAAAAAAA_${'A'.repeat(31)}`],
    ])('%s is UNAUTHENTICATED', async (_label, secret) => {
      const response = await t.request(secret, TRIGGERS);

      expectGraphQLError(response, 'UNAUTHENTICATED');
      expectNoData(response, 'triggers');
    });

    it('a revoked key is UNAUTHENTICATED and its writes store nothing', async () => {
      const key = await createApiKey(t, tenant.secret, ['INGEST', 'READ']);
      await t.ok(key.secret, `{ triggers { edges { node { id } } } }`);
      await t.ok(tenant.secret, `mutation($id: ID!) { revokeApiKey(id: $id) { id } }`, {
        id: key.id,
      });

      const response = await t.request(key.secret, IDENTIFY, {
        input: { externalId: 'after-revoke' },
      });

      expectGraphQLError(response, 'UNAUTHENTICATED');
      expect(await customer('after-revoke')).toBeNull();
    });

    it('an INGEST-only key calling createTrigger is FORBIDDEN and no trigger is stored', async () => {
      const ingest = await createApiKey(t, tenant.secret, ['INGEST']);

      const response = await t.request(ingest.secret, CREATE_TRIGGER, { input: VALID_TRIGGER });

      expectGraphQLError(response, 'FORBIDDEN');
      expectNoData(response, 'createTrigger');
      expect(await triggerIds()).toEqual([]);
    });

    it('a tenant key calling createTenant is FORBIDDEN and no tenant is created', async () => {
      const name = `rogue-${uniq()}`;

      const response = await t.request(
        tenant.secret,
        `mutation($input: CreateTenantInput!) { createTenant(input: $input) { secret } }`,
        { input: { name } },
      );

      expectGraphQLError(response, 'FORBIDDEN');
      expect(await tenantsNamed(name)).toBe(0);
    });

    it('setClock with a tenant key is FORBIDDEN and the clock does not move', async () => {
      const before = t.nudge.clock.nowMs();

      const response = await t.request(
        tenant.secret,
        `mutation { setClock(to: "2030-01-01T00:00:00Z") { now } }`,
      );

      expectGraphQLError(response, 'FORBIDDEN');
      expect(t.nudge.clock.nowMs()).toBe(before);
    });
  });

  describe('variables of the wrong type', () => {
    it('steps as a string is BAD_USER_INPUT naming the steps input', async () => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: { ...VALID_TRIGGER, steps: 'EMAIL now' },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.steps');
      expect(await triggerIds()).toEqual([]);
    });

    it('a number where a Duration belongs is BAD_USER_INPUT at input.steps.0.delay', async () => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: { ...VALID_TRIGGER, steps: [{ ...EMAIL_STEP, delay: 3600 }] },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.steps.0.delay');
      expect(await triggerIds()).toEqual([]);
    });

    it('an unknown channel is BAD_USER_INPUT at input.steps.0.channel', async () => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: { ...VALID_TRIGGER, steps: [{ ...EMAIL_STEP, channel: 'PIGEON' }] },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.steps.0.channel');
      expect(await triggerIds()).toEqual([]);
    });

    it.each([
      ['name', { event: 'added_to_cart', steps: [EMAIL_STEP] }, 'input.name'],
      [
        'steps.0.channel',
        { ...VALID_TRIGGER, steps: [{ template: EMAIL_STEP.template }] },
        'input.steps.0.channel',
      ],
    ])(
      'a missing required input field (%s) is BAD_USER_INPUT naming that field',
      async (_label, input, field) => {
        const response = await t.request(tenant.secret, CREATE_TRIGGER, { input });

        expectGraphQLError(response, 'BAD_USER_INPUT', field);
        expect(await triggerIds()).toEqual([]);
      },
    );

    it('an input field the type does not define is BAD_USER_INPUT naming that field', async () => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: { ...VALID_TRIGGER, tenantId: '00000000-0000-4000-8000-000000000000' },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.tenantId');
      expect(await triggerIds()).toEqual([]);
    });

    it('a string where an Int belongs (first) is BAD_USER_INPUT at first', async () => {
      const response = await t.request(tenant.secret, TRIGGERS, { first: 'ten' });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'first');
    });

    it('an unparseable DateTime in track is BAD_USER_INPUT at input.occurredAt and stores nothing', async () => {
      const response = await t.request(tenant.secret, TRACK, {
        input: { customerExternalId: 'dt-1', event: 'added_to_cart', occurredAt: 'yesterday' },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.occurredAt');
      expect(await customer('dt-1')).toBeNull();
    });
  });

  describe('trigger conditions (where)', () => {
    it('an unknown operator is BAD_USER_INPUT at input.where.op', async () => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: {
          ...VALID_TRIGGER,
          where: { field: 'event.properties.price', op: 'greaterish', value: 1 },
        },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.where.op');
      expectNoData(response, 'createTrigger');
      expect(await triggerIds()).toEqual([]);
    });

    it('a failing nested node is named by its path: input.where.all.2.value', async () => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: {
          ...VALID_TRIGGER,
          where: {
            all: [
              ok,
              { field: 'customer.traits.tier', op: 'eq', value: 'gold' },
              { field: 'event.properties.x', op: 'between', value: [5, 1] },
            ],
          },
        },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.where.all.2.value');
      expect(await triggerIds()).toEqual([]);
    });

    it('a failing node deep under any/not is named by its full path', async () => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: {
          ...VALID_TRIGGER,
          where: { all: [ok, { any: [ok, { not: { field: 'event.nope', op: 'exists' } }] }] },
        },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.where.all.1.any.1.not.field');
      expect(await triggerIds()).toEqual([]);
    });

    it('mixing all and any at one level is BAD_USER_INPUT, never guessed', async () => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: { ...VALID_TRIGGER, where: { all: [ok], any: [ok] } },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.where');
      expect(await triggerIds()).toEqual([]);
    });

    it('mixing a group with a comparison at one nested level names that level', async () => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: { ...VALID_TRIGGER, where: { all: [ok, { any: [ok], ...ok }] } },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.where.all.1');
      expect(await triggerIds()).toEqual([]);
    });

    it('an invalid unless.where is named under input.unless.where', async () => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: {
          ...VALID_TRIGGER,
          unless: { event: 'purchase', within: 'PT2H', where: { any: [] } },
        },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.unless.where.any');
      expect(await triggerIds()).toEqual([]);
    });
  });

  describe('durations', () => {
    it.each(['2 hours', 'P1M', 'P1Y', 'PT', '', 'P400D'])(
      'unless.within "%s" is BAD_USER_INPUT at input.unless.within',
      async (within) => {
        const response = await t.request(tenant.secret, CREATE_TRIGGER, {
          input: { ...VALID_TRIGGER, unless: { event: 'purchase', within } },
        });

        expectGraphQLError(response, 'BAD_USER_INPUT');
        expect(response.errors![0].extensions?.field).toContain('unless.within');
        expect(await triggerIds()).toEqual([]);
      },
    );

    it('a zero unless window is BAD_USER_INPUT at input.unless.within', async () => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: { ...VALID_TRIGGER, unless: { event: 'purchase', within: 'PT0S' } },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.unless.within');
      expect(await triggerIds()).toEqual([]);
    });

    it('a malformed step delay is BAD_USER_INPUT at input.steps.1.delay', async () => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: { ...VALID_TRIGGER, steps: [EMAIL_STEP, { ...EMAIL_STEP, delay: '1 day' }] },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.steps.1.delay');
      expect(await triggerIds()).toEqual([]);
    });
  });

  describe('steps and templates', () => {
    it('a Liquid syntax error is BAD_USER_INPUT at input.steps.0.template.body', async () => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: {
          ...VALID_TRIGGER,
          steps: [
            {
              channel: 'EMAIL',
              template: { subject: 'Hi', body: 'Hi {{ customer.traits.firstName ' },
            },
          ],
        },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.steps.0.template.body');
      expect(await triggerIds()).toEqual([]);
    });

    it('a Liquid syntax error in a later step’s subject names that step and part', async () => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: {
          ...VALID_TRIGGER,
          steps: [EMAIL_STEP, { channel: 'EMAIL', template: { subject: '{% if %}', body: 'ok' } }],
        },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.steps.1.template.subject');
      expect(await triggerIds()).toEqual([]);
    });

    it.each([
      "{% include 'package.json' %}",
      "{% render 'package.json' %}",
      "{% layout 'package.json' %}x",
    ])(
      'a template that reads a server file (%s) is BAD_USER_INPUT at input.steps.0.template.body',
      async (body) => {
        const response = await t.request(tenant.secret, CREATE_TRIGGER, {
          input: {
            ...VALID_TRIGGER,
            steps: [{ channel: 'EMAIL', template: { subject: 'Hi', body } }],
          },
        });

        expectGraphQLError(response, 'BAD_USER_INPUT', 'input.steps.0.template.body');
        expect(await triggerIds()).toEqual([]);
      },
    );

    it('a step never renders files from the server’s disk into a message', async () => {
      const email = `reader-${uniq()}@example.com`;
      const created = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: {
          ...VALID_TRIGGER,
          steps: [
            {
              channel: 'EMAIL',
              template: { subject: 'Hi', body: "x{% include 'package.json' %}" },
            },
          ],
        },
      });
      if (created.errors) return; // rejected at save time: nothing can be rendered

      await t.ok(tenant.secret, IDENTIFY, { input: { externalId: 'reader', email } });
      await t.ok(tenant.secret, TRACK, {
        input: { customerExternalId: 'reader', event: 'added_to_cart' },
      });
      await t.smtp.settle();

      const data = await t.ok<any>(tenant.secret, `{ messages { edges { node { body } } } }`);
      const bodies: string[] = data.messages.edges.map((e: any) => e.node.body ?? '');
      const mailed = t.smtp.received.filter((m) => m.to.includes(email)).map((m) => m.text);
      for (const text of [...bodies, ...mailed]) expect(text).not.toContain('"devDependencies"');
    });

    it('a trigger with 0 steps is BAD_USER_INPUT at input.steps', async () => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: { ...VALID_TRIGGER, steps: [] },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.steps');
      expect(await triggerIds()).toEqual([]);
    });

    it.each([
      [
        'a PUSH step without a title',
        { channel: 'PUSH', template: { body: 'Hi' } },
        '.template.subject',
      ],
      [
        'a variant without a name',
        { channel: 'SMS', template: { body: 'Hi' }, variants: [{ name: '', weight: 1 }] },
        '.variants.0.name',
      ],
      [
        'variants that all weigh 0',
        { channel: 'SMS', template: { body: 'Hi' }, variants: [{ name: 'a', weight: 0 }] },
        '.variants',
      ],
      [
        'a negative variant weight',
        { channel: 'SMS', template: { body: 'Hi' }, variants: [{ name: 'a', weight: -1 }] },
        '.variants.0.weight',
      ],
      [
        'a previous-step condition on the first step',
        { channel: 'SMS', template: { body: 'Hi' }, condition: { previousStep: 'NOT_OPENED' } },
        '.condition.previousStep',
      ],
      [
        'a bad step condition tree',
        {
          channel: 'SMS',
          template: { body: 'Hi' },
          condition: { where: { field: 'customer.traits.x', op: 'near' } },
        },
        '.condition.where.op',
      ],
      [
        'a variant template with a syntax error',
        {
          channel: 'SMS',
          template: { body: 'Hi' },
          variants: [{ name: 'a', weight: 1, template: { body: '{{ x' } }],
        },
        '.variants.0.template.body',
      ],
    ])('%s is BAD_USER_INPUT at input.steps.0%s', async (_what, step, field) => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: { ...VALID_TRIGGER, steps: [step] },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', `input.steps.0${field}`);
      expect(await triggerIds()).toEqual([]);
    });

    it.each([
      [
        'a goal on the entry event',
        { goal: { event: 'added_to_cart', within: 'P1D' } },
        'input.goal.event',
      ],
      [
        'a goal horizon of zero',
        { goal: { event: 'purchase', within: 'PT0S' } },
        'input.goal.within',
      ],
      [
        'a goal horizon over a year',
        { goal: { event: 'purchase', within: 'P400D' } },
        'input.goal.within',
      ],
      [
        'quiet hours that start and end together',
        { quietHours: { from: '21:00', to: '21:00' } },
        'input.quietHours.to',
      ],
    ])('%s is BAD_USER_INPUT at %s', async (_what, extra, field) => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: { ...VALID_TRIGGER, ...extra },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', field);
      expect(await triggerIds()).toEqual([]);
    });

    it('an EMAIL step without a subject is BAD_USER_INPUT at input.steps.0.template.subject', async () => {
      const response = await t.request(tenant.secret, CREATE_TRIGGER, {
        input: { ...VALID_TRIGGER, steps: [{ channel: 'EMAIL', template: { body: 'Hi' } }] },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.steps.0.template.subject');
      expect(await triggerIds()).toEqual([]);
    });

    it('an invalid updateTrigger leaves the stored version untouched', async () => {
      const created = await t.ok<any>(tenant.secret, CREATE_TRIGGER, { input: VALID_TRIGGER });
      const id = created.createTrigger.id;

      const response = await t.request(
        tenant.secret,
        `mutation($id: ID!, $input: UpdateTriggerInput!) { updateTrigger(id: $id, input: $input) { id } }`,
        { id, input: { name: 'renamed', steps: [{ channel: 'PUSH', template: { body: 'x' } }] } },
      );

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.steps.0.template.subject');
      const after = await t.ok<any>(
        tenant.secret,
        `query($id: ID!) { trigger(id: $id) { name version steps { channel } } }`,
        {
          id,
        },
      );
      expect(after.trigger).toEqual({ name: 'cart', version: 1, steps: [{ channel: 'EMAIL' }] });
    });
  });

  describe('tenants and customers', () => {
    it('an unknown time zone in createTenant is BAD_USER_INPUT at input.timezone; no tenant', async () => {
      const name = `mars-${uniq()}`;

      const response = await t.request(
        OPERATOR_TOKEN,
        `mutation($input: CreateTenantInput!) { createTenant(input: $input) { secret } }`,
        { input: { name, timezone: 'Mars/Olympus' } },
      );

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.timezone');
      expect(await tenantsNamed(name)).toBe(0);
    });

    it.each([
      ['email', { email: 'not-an-email' }, 'input.email'],
      ['email', { email: 'ada@localhost' }, 'input.email'],
      ['phone', { phone: '0151 1234567' }, 'input.phone'],
      ['phone', { phone: '+0123456789' }, 'input.phone'],
      ['timezone', { timezone: 'Mars/Olympus' }, 'input.timezone'],
      ['locale', { locale: 'not a locale' }, 'input.locale'],
      ['traits', { traits: ['not', 'an', 'object'] }, 'input.traits'],
      ['externalId', { externalId: '   ' }, 'input.externalId'],
    ])(
      'identify with a bad %s (%j) is BAD_USER_INPUT at %s; no customer',
      async (_label, patch, field) => {
        const externalId = (patch as { externalId?: string }).externalId ?? `bad-${uniq()}`;

        const response = await t.request(tenant.secret, IDENTIFY, {
          input: { externalId, ...patch },
        });

        expectGraphQLError(response, 'BAD_USER_INPUT', field);
        expect(await customer(externalId)).toBeNull();
      },
    );

    it.each([
      ['no scopes', { name: 'k', scopes: [] }, 'input.scopes'],
      ['an unknown scope', { name: 'k', scopes: ['READ', 'GOD'] }, 'input.scopes.1'],
      ['a blank name', { name: '   ', scopes: ['READ'] }, 'input.name'],
    ])(
      'createApiKey with %s is BAD_USER_INPUT at %s; no key is added',
      async (_label, input, field) => {
        const response = await t.request(
          tenant.secret,
          `mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }`,
          { input },
        );

        expectGraphQLError(response, 'BAD_USER_INPUT', field);
        const keys = await t.ok<any>(tenant.secret, `{ apiKeys { id } }`);
        expect(keys.apiKeys.map((k: any) => k.id)).toEqual([tenant.apiKeyId]);
      },
    );

    it.each([
      ['a non-http webhook URL', { webhookUrl: 'ftp://example.com/hook' }, 'input.webhookUrl'],
      ['a relative webhook URL', { webhookUrl: '/hook' }, 'input.webhookUrl'],
      [
        'an unknown time zone',
        { timezone: 'Mars/Olympus', webhookUrl: 'https://example.com/hook' },
        'input.timezone',
      ],
    ])(
      'updateTenantSettings with %s is BAD_USER_INPUT at %s; settings unchanged',
      async (_label, input, field) => {
        const response = await t.request(
          tenant.secret,
          `mutation($input: UpdateTenantSettingsInput!) { updateTenantSettings(input: $input) { id } }`,
          { input },
        );

        expectGraphQLError(response, 'BAD_USER_INPUT', field);
        const after = await t.ok<any>(tenant.secret, `{ tenant { timezone webhookUrl } }`);
        expect(after.tenant).toEqual({ timezone: 'UTC', webhookUrl: null });
      },
    );

    it('a bad identify does not half-update an existing customer', async () => {
      await t.ok(tenant.secret, IDENTIFY, {
        input: { externalId: 'known', email: 'known@example.com', timezone: 'Europe/Berlin' },
      });

      const response = await t.request(tenant.secret, IDENTIFY, {
        input: { externalId: 'known', email: 'changed@example.com', phone: 'nope' },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.phone');
      expect(await customer('known')).toMatchObject({
        email: 'known@example.com',
        phone: null,
        timezone: 'Europe/Berlin',
      });
    });
  });

  describe('ingestion', () => {
    it('a trackBatch of 1,001 events is BAD_USER_INPUT at events and stores none of them', async () => {
      const events = Array.from({ length: 1001 }, (_, i) => ({
        customerExternalId: 'bulk-1',
        event: 'page_viewed',
        messageId: `bulk-${i}`,
      }));

      const response = await t.request(tenant.secret, TRACK_BATCH, { events });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'events');
      expectNoData(response, 'trackBatch');
      expect(await customer('bulk-1')).toBeNull();
    });

    it('a trackBatch of exactly 1,000 events is accepted', async () => {
      const events = Array.from({ length: 1000 }, (_, i) => ({
        customerExternalId: 'bulk-2',
        event: 'page_viewed',
        messageId: `bulk-${i}`,
      }));

      const data = await t.ok<any>(tenant.secret, TRACK_BATCH, { events });

      expect(data.trackBatch).toMatchObject({ accepted: 1000, duplicates: 0, rejected: [] });
    });

    it('one invalid item among valid ones: the valid are stored, the invalid is rejected with index and field', async () => {
      const events = [
        { customerExternalId: 'mixed-1', event: 'page_viewed', messageId: 'mx-0' },
        {
          customerExternalId: 'mixed-1',
          event: 'page_viewed',
          messageId: 'mx-1',
          occurredAt: '2025-03-10T00:00:00Z',
        },
        { customerExternalId: 'mixed-1', event: 'page_viewed', messageId: 'mx-2' },
        { customerExternalId: '', event: 'page_viewed', messageId: 'mx-3' },
      ];

      const data = await t.ok<any>(tenant.secret, TRACK_BATCH, { events });

      expect(data.trackBatch.accepted).toBe(2);
      expect(data.trackBatch.duplicates).toBe(0);
      expect(data.trackBatch.rejected).toEqual([
        { index: 1, code: 'BAD_USER_INPUT', field: 'events.1.occurredAt' },
        { index: 3, code: 'BAD_USER_INPUT', field: 'events.3.customerExternalId' },
      ]);
      expect(data.trackBatch.eventIds[1]).toBeNull();
      expect(data.trackBatch.eventIds[3]).toBeNull();
      const stored = (await customer('mixed-1')).events.edges.map((e: any) => e.node.id);
      expect(stored).toEqual([data.trackBatch.eventIds[0], data.trackBatch.eventIds[2]]);
    });

    it('track with occurredAt 2 days after the clock is BAD_USER_INPUT at input.occurredAt; nothing stored', async () => {
      const response = await t.request(tenant.secret, TRACK, {
        input: {
          customerExternalId: 'future-1',
          event: 'added_to_cart',
          occurredAt: '2025-03-05T12:00:00Z',
        },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'input.occurredAt');
      expectNoData(response, 'track');
      expect(await customer('future-1')).toBeNull();
    });

    it.each([
      ['properties that are not an object', { properties: [1, 2, 3] }, 'input.properties'],
      ['a blank event name', { event: '   ' }, 'input.event'],
      ['an empty messageId', { messageId: '' }, 'input.messageId'],
      ['an occurredAt before 2000', { occurredAt: '1999-12-31T23:59:59Z' }, 'input.occurredAt'],
    ])('track with %s is BAD_USER_INPUT at %s; nothing stored', async (_label, patch, field) => {
      const externalId = `track-${uniq()}`;

      const response = await t.request(tenant.secret, TRACK, {
        input: { customerExternalId: externalId, event: 'added_to_cart', ...patch },
      });

      expectGraphQLError(response, 'BAD_USER_INPUT', field);
      expect(await customer(externalId)).toBeNull();
    });
  });

  describe('pagination arguments', () => {
    it.each([500, 0, -1])('first: %i on triggers is BAD_USER_INPUT at first', async (first) => {
      const response = await t.request(tenant.secret, TRIGGERS, { first });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'first');
    });

    it.each([
      'garbage',
      Buffer.from('seq:abc').toString('base64url'),
      Buffer.from('offset:10').toString('base64url'),
    ])('after: "%s" on triggers is BAD_USER_INPUT at after', async (after) => {
      const response = await t.request(tenant.secret, TRIGGERS, { after });

      expectGraphQLError(response, 'BAD_USER_INPUT', 'after');
    });

    it('a cursor the API returned is accepted', async () => {
      await t.ok(tenant.secret, CREATE_TRIGGER, { input: VALID_TRIGGER });
      await t.ok(tenant.secret, CREATE_TRIGGER, { input: { ...VALID_TRIGGER, name: 'second' } });
      const first = await t.ok<any>(tenant.secret, TRIGGERS, { first: 1 });

      const next = await t.ok<any>(tenant.secret, TRIGGERS, {
        first: 1,
        after: first.triggers.pageInfo.endCursor,
      });

      expect(next.triggers.edges).toHaveLength(1);
      expect(next.triggers.edges[0].node.id).not.toBe(first.triggers.edges[0].node.id);
    });
  });

  describe('transport', () => {
    it('an invalid JSON body is HTTP 400', async () => {
      const response = await fetch(t.nudge.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tenant.secret}` },
        body: '{"query": "{ triggers { edges { node { id } } } }"',
      });

      expect(response.status).toBe(400);
      const body = (await response.json()) as GraphQLResponse;
      expect(body.errors?.[0].extensions?.code).toBe('BAD_REQUEST');
    });

    it('an internal error never shows a stack trace or SQL to the client', async () => {
      const externalId = `nul-${uniq()}`;
      const response = await t.request(tenant.secret, TRACK, nulTrack(externalId));

      expect(response.errors?.length).toBe(1);
      const [error] = response.errors!;
      expect(['INTERNAL_SERVER_ERROR', 'BAD_USER_INPUT']).toContain(error.extensions?.code);
      for (const key of Object.keys(error.extensions ?? {}))
        expect(['code', 'field', 'requestId']).toContain(key);
      const serialized = JSON.stringify(response);
      expect(serialized).not.toMatch(/\bat .+\.(ts|js):\d+/);
      expect(serialized).not.toMatch(/\b(INSERT|SELECT|UPDATE|jsonb|unnest|ON CONFLICT)\b/);
      expect(serialized).not.toMatch(/node_modules|\/src\//);
      expect(await customer(externalId)).toBeNull();
    });

    it('an internal error carries the request id (as echoed in x-request-id) and no internals', async () => {
      // A second instance whose database connection is gone: every query fails inside.
      const broken = await startTestNudge();
      const { secret } = await broken.createTenant('broken');
      await broken.nudge.db.dataSource.destroy();
      try {
        const requestId = `req-${uniq()}`;
        const response = await fetch(broken.nudge.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${secret}`,
            'x-request-id': requestId,
          },
          body: JSON.stringify({ query: '{ customer(externalId: "x") { id } }' }),
        });
        const body = (await response.json()) as GraphQLResponse;

        expect(response.headers.get('x-request-id')).toBe(requestId);
        expect(body.errors?.[0].extensions?.code).toBe('INTERNAL_SERVER_ERROR');
        expect(body.errors?.[0].extensions?.requestId).toBe(requestId);
        expect(JSON.stringify(body)).not.toMatch(
          /\b(SELECT|INSERT|DataSource|node_modules)\b|\.ts:\d+/,
        );
      } finally {
        await broken.stop();
      }
    });
  });

  describe('text the database cannot store (U+0000)', () => {
    it('track with U+0000 in a property is BAD_USER_INPUT under input.properties, not an internal error', async () => {
      const externalId = `nul-${uniq()}`;

      const response = await t.request(tenant.secret, TRACK, nulTrack(externalId));

      expectGraphQLError(response, 'BAD_USER_INPUT');
      expect(response.errors![0].extensions?.field).toMatch(/^input\.properties/);
      expect(await customer(externalId)).toBeNull();
    });

    it('trackBatch with one U+0000 item stores the valid items and rejects only that one', async () => {
      const events = [
        { customerExternalId: 'nul-batch', event: 'page_viewed', messageId: 'nb-0' },
        nulTrack('nul-batch').input,
        { customerExternalId: 'nul-batch', event: 'page_viewed', messageId: 'nb-2' },
      ];

      const response = await t.request<any>(tenant.secret, TRACK_BATCH, { events });

      expect(response.errors).toBeUndefined();
      expect(response.data?.trackBatch.accepted).toBe(2);
      expect(response.data?.trackBatch.rejected).toHaveLength(1);
      expect(response.data?.trackBatch.rejected[0]).toMatchObject({
        index: 1,
        code: 'BAD_USER_INPUT',
      });
      expect(response.data?.trackBatch.rejected[0].field).toMatch(/^events\.1\.properties/);
      expect((await customer('nul-batch'))?.events.edges).toHaveLength(2);
    });
  });
});
