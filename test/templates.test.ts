import {
  TemplateVariableMissing,
  renderTemplate,
  validateTemplate,
  type TemplateSource,
} from '../src/engine/channels/templates';
import { buildTemplateContext, templateWarnings } from '../src/engine/channels/template-variables';
import type { CustomerRow } from '../src/engine/ingestion/customer.service';
import { InputProblem } from '../src/errors';

const customerWith = (traits: Record<string, unknown>): CustomerRow => ({
  id: '7f0c5a52-1f7e-4a53-9d55-8d1b2b1f0c11',
  tenant_id: '0b7c1e2a-3e7e-4d8b-8f0e-2f8b8e0a9c01',
  external_id: 'cust-19',
  email: 'ana@example.com',
  phone: null,
  timezone: 'Europe/Lisbon',
  locale: 'pt-PT',
  traits,
  created_at: new Date('2025-05-01T00:00:00Z'),
  updated_at: new Date('2025-05-01T00:00:00Z'),
});

const contextFor = (traits: Record<string, unknown>, properties: Record<string, unknown>) =>
  buildTemplateContext({
    customer: customerWith(traits),
    event: { name: 'added_to_cart', properties, occurredAt: new Date('2025-05-06T10:00:00Z') },
    trigger: { id: 'a1d3c1b0-5f7e-4e1a-9a0b-1c2d3e4f5a6b', name: 'Cart reminder', version: 3 },
    step: { index: 0, channel: 'EMAIL' },
  });

/** C19's template, with our paths: custom data under traits and properties. */
const C19: TemplateSource = {
  subject:
    'Hi {{ customer.traits.firstName | default: "there" }}, your ' +
    '{{ event.properties.productName | default: "item" }} is waiting',
  body: 'Your {{ event.properties.productName }} is still in the cart.',
};

describe('C19 personalisation tokens and fallbacks', () => {
  it.each([
    ['"Ana"', { firstName: 'Ana' }, 'Hi Ana, your Trail Shoe is waiting'],
    ['absent', {}, 'Hi there, your Trail Shoe is waiting'],
    ['null', { firstName: null }, 'Hi there, your Trail Shoe is waiting'],
    ['""', { firstName: '' }, 'Hi there, your Trail Shoe is waiting'],
    ['"   " (whitespace only)', { firstName: '   ' }, 'Hi there, your Trail Shoe is waiting'],
    [
      '"\\u00a0\\u200b" (other blanks)',
      { firstName: '\u00a0\u200b' },
      'Hi there, your Trail Shoe is waiting',
    ],
    ['"Zoë 🌿" (UTF-8 intact)', { firstName: 'Zoë 🌿' }, 'Hi Zoë 🌿, your Trail Shoe is waiting'],
  ])('firstName %s', async (_case, traits, subject) => {
    const rendered = await renderTemplate(C19, contextFor(traits, { productName: 'Trail Shoe' }));
    expect(rendered.subject).toBe(subject);
    expect(rendered.body).toBe('Your Trail Shoe is still in the cart.');
  });

  it('a required productName that is absent fails the render with its path', async () => {
    const failure = await renderTemplate(C19, contextFor({ firstName: 'Ana' }, {})).catch(
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(TemplateVariableMissing);
    expect((failure as TemplateVariableMissing).path).toBe('event.properties.productName');
    expect((failure as TemplateVariableMissing).part).toBe('body');
    expect((failure as TemplateVariableMissing).reason).toBe(
      'TEMPLATE_VARIABLE_MISSING: event.properties.productName',
    );
  });

  it('productName 0 is a value', async () => {
    const rendered = await renderTemplate(
      C19,
      contextFor({ firstName: 'Ana' }, { productName: 0 }),
    );
    expect(rendered.subject).toBe('Hi Ana, your 0 is waiting');
    expect(rendered.body).toBe('Your 0 is still in the cart.');
  });

  it('a required value that is null renders as nothing (null is present)', async () => {
    const rendered = await renderTemplate(
      { body: '[{{ event.properties.productName }}]' },
      contextFor({}, { productName: null }),
    );
    expect(rendered.body).toBe('[]');
  });

  it('empty lists and objects take the fallback; false keeps it only with allow_false', async () => {
    const rendered = await renderTemplate(
      {
        body:
          '{{ event.properties.list | default: "L" }} {{ event.properties.map | default: "M" }} ' +
          '{{ event.properties.no | default: "F" }} {{ event.properties.no | default: "F", allow_false: true }}',
      },
      contextFor({}, { list: [], map: {}, no: false }),
    );
    expect(rendered.body).toBe('L M F false');
  });

  it('default must come first to allow a missing value', async () => {
    const context = contextFor({}, {});
    const first = await renderTemplate(
      { body: '{{ customer.traits.firstName | default: "there" | upcase }}' },
      context,
    );
    expect(first.body).toBe('THERE');
    await expect(
      renderTemplate({ body: '{{ customer.traits.firstName | upcase | default: "x" }}' }, context),
    ).rejects.toMatchObject({ path: 'customer.traits.firstName' });
  });

  it('names the first missing segment of a deeper path', async () => {
    await expect(
      renderTemplate({ body: '{{ event.properties.cart.total }}' }, contextFor({}, {})),
    ).rejects.toMatchObject({ path: 'event.properties.cart' });
  });
});

describe('conditions, escaping and data as data', () => {
  it('an if-block on a missing trait does not throw, and picks the branch', async () => {
    const template = {
      body:
        '{% if customer.traits.tier == "gold" %}Gold perks{% elsif customer.traits.spend > 100 %}' +
        'Big spender{% else %}Welcome{% endif %}{% unless customer.traits.vip %}!{% endunless %}',
    };
    expect((await renderTemplate(template, contextFor({}, {}))).body).toBe('Welcome!');
    expect((await renderTemplate(template, contextFor({ tier: 'gold' }, {}))).body).toBe(
      'Gold perks!',
    );
  });

  it('escapes data in the html part, not in the text parts', async () => {
    const rendered = await renderTemplate(
      {
        subject: 'Hi {{ customer.traits.firstName }}',
        body: 'Hi {{ customer.traits.firstName }}',
        html: '<p>Hi {{ customer.traits.firstName | default: "there" }}</p>',
      },
      contextFor({ firstName: '<script>alert(1)</script>' }, {}),
    );
    expect(rendered.html).toBe('<p>Hi &lt;script&gt;alert(1)&lt;/script&gt;</p>');
    expect(rendered.body).toBe('Hi <script>alert(1)</script>');
  });

  it('renders data that looks like a template literally', async () => {
    const rendered = await renderTemplate(
      { body: 'Hi {{ customer.traits.firstName }}' },
      contextFor({ firstName: '{{ 7*7 }}{% assign x = 1 %}' }, {}),
    );
    expect(rendered.body).toBe('Hi {{ 7*7 }}{% assign x = 1 %}');
  });

  it('offers step and trigger to templates', async () => {
    const rendered = await renderTemplate(
      {
        body: '{{ trigger.name }} v{{ trigger.version }}, step {{ step.index }} by {{ step.channel }}',
      },
      contextFor({}, {}),
    );
    expect(rendered.body).toBe('Cart reminder v3, step 0 by EMAIL');
  });

  it('refuses file tags', () => {
    expect(() => validateTemplate({ body: '{% include "secrets" %}' })).toThrow(InputProblem);
  });
});

describe('templateWarnings', () => {
  it('warns about customer.first_name and points at traits', () => {
    expect(templateWarnings({ subject: 'Hi {{ customer.first_name }}', body: 'x' })).toEqual([
      {
        part: 'subject',
        path: 'customer.first_name',
        message:
          'customer.first_name is not a customer field; custom data lives under customer.traits ' +
          '(customer.traits.first_name)',
      },
    ]);
  });

  it('suggests the known field for a differently written one', () => {
    const [warning] = templateWarnings({ body: '{{ event.occurred_at }}' });
    expect(warning.message).toContain('did you mean event.occurredAt?');
  });

  it('warns about unknown roots and fields of single values', () => {
    const warnings = templateWarnings({
      body: '{{ first_name }} {{ trigger.owner }} {{ customer.email.domain }} {{ event.name.size }}',
    });
    expect(warnings.map((w) => w.path)).toEqual([
      'first_name',
      'trigger.owner',
      'customer.email.domain',
    ]);
  });

  it('does not warn about loop, assign and capture locals or known paths', () => {
    expect(
      templateWarnings({
        subject: '{{ customer.traits.first_name | default: "there" }}',
        body:
          '{% for item in event.properties.items %}{{ item.name }} {{ forloop.index }}{% endfor %}' +
          '{% assign total = event.properties.total | plus: 1 %}{{ total }}' +
          '{% capture greeting %}Hi{% endcapture %}{{ greeting }}' +
          '{{ customer.id }} {{ customer.externalId }} {{ customer.locale }} {{ event.name }} ' +
          '{{ event.occurredAt }} {{ trigger.id }} {{ step.channel }}',
        html: '<b>{{ customer.traits.tier }}</b>',
      }),
    ).toEqual([]);
  });

  it('skips a part that does not parse', () => {
    expect(templateWarnings({ body: '{{ customer.first_name ' })).toEqual([]);
  });
});

describe('validateTemplate', () => {
  it('reports a syntax error at its part with line and column', () => {
    let problem: unknown;
    try {
      validateTemplate({ subject: 'ok', body: 'Hello\n  {% if customer.traits.vip %}VIP' });
    } catch (err) {
      problem = err;
    }
    expect(problem).toBeInstanceOf(InputProblem);
    expect((problem as InputProblem).path).toBe('body');
    expect((problem as InputProblem).problem).toMatch(/line:2, col:3/);
  });
});
