import { startTestNudge, type TestNudge } from './support/harness';
import {
  createApiKey,
  createTenantWithKey,
  expectGraphQLError,
  uniq,
  type TestTenant,
} from './support/graphql-helpers';

const RENDER = `query($input: RenderTemplateInput!) {
  renderTemplate(input: $input) {
    subject body html missingVariable warnings { part path message }
  }
}`;

const TEMPLATE = {
  subject: 'Hi {{ customer.traits.firstName | default: "there" }}, your cart is waiting',
  body: 'Still thinking about {{ event.properties.productName }}? ({{ event.name }})',
  html: '<p>{{ customer.traits.firstName | default: "there" }}</p>',
};

const SAMPLE_EVENT = {
  name: 'added_to_cart',
  properties: { productName: 'Trail Shoe' },
  occurredAt: '2025-05-06T10:00:00Z',
};

describe('renderTemplate (template preview)', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => t.stop());

  const identify = (tenant: TestTenant, externalId: string, traits: Record<string, unknown>) =>
    t.ok(tenant.secret, `mutation($i: IdentifyInput!) { identify(input: $i) { id } }`, {
      i: { externalId, email: `${externalId}@example.com`, traits },
    });

  it('renders what a send would, for a real customer and a sample event', async () => {
    const tenant = await createTenantWithKey(t, `preview-${uniq()}`);
    await identify(tenant, 'cust-1', { firstName: 'Zoë <3' });

    const data = await t.ok<any>(tenant.secret, RENDER, {
      input: { template: TEMPLATE, customerExternalId: 'cust-1', event: SAMPLE_EVENT },
    });

    expect(data.renderTemplate).toEqual({
      subject: 'Hi Zoë <3, your cart is waiting',
      body: 'Still thinking about Trail Shoe? (added_to_cart)',
      html: '<p>Zoë &lt;3</p>',
      missingVariable: null,
      warnings: [],
    });
  });

  it('renders without a customer, and reports unknown paths as warnings', async () => {
    const tenant = await createTenantWithKey(t, `preview-${uniq()}`);

    const data = await t.ok<any>(tenant.secret, RENDER, {
      input: {
        template: { subject: 'Hi {{ customer.first_name | default: "there" }}', body: 'x' },
        channel: 'EMAIL',
      },
    });

    expect(data.renderTemplate.subject).toBe('Hi there');
    expect(data.renderTemplate.warnings).toEqual([
      expect.objectContaining({ part: 'subject', path: 'customer.first_name' }),
    ]);
  });

  it('reports a required variable without a value instead of rendering', async () => {
    const tenant = await createTenantWithKey(t, `preview-${uniq()}`);
    await identify(tenant, 'cust-1', { firstName: 'Ana' });

    const data = await t.ok<any>(tenant.secret, RENDER, {
      input: {
        template: TEMPLATE,
        customerExternalId: 'cust-1',
        event: { name: 'added_to_cart', properties: { cartId: 'c-1' } },
      },
    });

    expect(data.renderTemplate).toMatchObject({
      subject: null,
      body: null,
      html: null,
      missingVariable: 'event.properties.productName',
    });
  });

  it('C19: the preview shows exactly what the send renders', async () => {
    const tenant = await createTenantWithKey(t, `preview-${uniq()}`);
    await t.setClock('2025-05-06T09:00:00Z');
    await t.ok(
      tenant.secret,
      `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id } }`,
      {
        i: {
          name: 'cart',
          event: 'added_to_cart',
          steps: [{ channel: 'EMAIL', template: TEMPLATE }],
        },
      },
    );
    await identify(tenant, 'cust-1', { firstName: '  Zoë 🌿 ' });
    await t.ok(tenant.secret, `mutation($i: TrackInput!) { track(input: $i) { eventId } }`, {
      i: {
        customerExternalId: 'cust-1',
        event: SAMPLE_EVENT.name,
        properties: SAMPLE_EVENT.properties,
        occurredAt: SAMPLE_EVENT.occurredAt,
      },
    });
    await t.setClock('2025-05-06T11:00:00Z');
    const sent = await t.ok<any>(
      tenant.secret,
      `{ messages { edges { node { status subject body } } } }`,
    );

    const preview = await t.ok<any>(tenant.secret, RENDER, {
      input: { template: TEMPLATE, customerExternalId: 'cust-1', event: SAMPLE_EVENT },
    });

    expect(sent.messages.edges).toHaveLength(1);
    const [{ node: message }] = sent.messages.edges;
    expect(message.subject).toBe('Hi   Zoë 🌿 , your cart is waiting');
    expect(preview.renderTemplate).toMatchObject({ subject: message.subject, body: message.body });
  });

  it('an unknown customer is NOT_FOUND', async () => {
    const tenant = await createTenantWithKey(t, `preview-${uniq()}`);

    const result = await t.request(tenant.secret, RENDER, {
      input: { template: TEMPLATE, customerExternalId: 'nobody', event: SAMPLE_EVENT },
    });

    expectGraphQLError(result, 'NOT_FOUND', 'input.customerExternalId');
  });

  it('C21.5: each tenant previews its own customer of the same external id', async () => {
    const alpha = await createTenantWithKey(t, `alpha-${uniq()}`);
    const beta = await createTenantWithKey(t, `beta-${uniq()}`);
    await identify(alpha, 'cust-42', { firstName: 'Lina' });
    await identify(beta, 'cust-42', { firstName: 'Omar' });
    const input = { template: TEMPLATE, customerExternalId: 'cust-42', event: SAMPLE_EVENT };

    const forAlpha = await t.ok<any>(alpha.secret, RENDER, { input });
    const forBeta = await t.ok<any>(beta.secret, RENDER, { input });

    expect(forAlpha.renderTemplate.subject).toBe('Hi Lina, your cart is waiting');
    expect(forBeta.renderTemplate.subject).toBe('Hi Omar, your cart is waiting');
  });

  it("another tenant's customer is NOT_FOUND, and nothing of it leaks", async () => {
    const alpha = await createTenantWithKey(t, `alpha-${uniq()}`);
    const beta = await createTenantWithKey(t, `beta-${uniq()}`);
    await identify(alpha, 'cust-alpha', { firstName: 'Lina' });

    const result = await t.request(beta.secret, RENDER, {
      input: { template: TEMPLATE, customerExternalId: 'cust-alpha', event: SAMPLE_EVENT },
    });

    expectGraphQLError(result, 'NOT_FOUND', 'input.customerExternalId');
    expect(JSON.stringify(result)).not.toContain('Lina');
  });

  it('a syntax error is BAD_USER_INPUT at its part', async () => {
    const tenant = await createTenantWithKey(t, `preview-${uniq()}`);

    const result = await t.request(tenant.secret, RENDER, {
      input: { template: { subject: 'ok', body: 'Hi {{ customer.traits.firstName ' } },
    });

    expectGraphQLError(result, 'BAD_USER_INPUT', 'input.template.body');
    expect(result.errors![0].message).toMatch(/line:1, col:4/);
  });

  it.each([
    ['a list', ['added_to_cart'], 'input.event'],
    ['an unknown field', { productName: 'Trail Shoe' }, 'input.event.productName'],
    ['a bad occurredAt', { occurredAt: 'yesterday' }, 'input.event.occurredAt'],
    ['properties that are not an object', { properties: 'x' }, 'input.event.properties'],
  ])('an event that is %s is BAD_USER_INPUT', async (_case, event, field) => {
    const tenant = await createTenantWithKey(t, `preview-${uniq()}`);

    const result = await t.request(tenant.secret, RENDER, {
      input: { template: TEMPLATE, event },
    });

    expectGraphQLError(result, 'BAD_USER_INPUT', field);
  });

  it('an INGEST-only key is FORBIDDEN', async () => {
    const tenant = await createTenantWithKey(t, `preview-${uniq()}`);
    const ingest = await createApiKey(t, tenant.secret, ['INGEST']);

    const result = await t.request(ingest.secret, RENDER, {
      input: { template: TEMPLATE, event: SAMPLE_EVENT },
    });

    expectGraphQLError(result, 'FORBIDDEN');
  });
});
