import { startTestNudge, TestNudge } from './support/harness';
import { identifyWith, mailsTo, track } from './support/scenario';
import { advance, messagesOf } from './support/sequences';

/**
 * Field case C19 through real sends (the renderer's own table is in templates.test.ts): the
 * fallback covers absent, null, empty and blank values; a required value that is missing
 * stops that one message with its reason while the others in the same clock move go out;
 * UTF-8 survives into the mail's encoded subject; a path in no schema warns at save.
 */
describe('C19 personalisation in real sends', () => {
  let t: TestNudge;
  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  it('renders each row of the table and suppresses only the message whose required value is missing', async () => {
    const { secret } = await t.createTenant('t-c19');
    await t.setClock('2025-07-01T10:00:00.000Z');
    const created = await t.ok<any>(
      secret,
      `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) {
         id templateWarnings { field path message } } }`,
      {
        i: {
          name: 'c19',
          event: 'viewed',
          steps: [
            {
              delay: 'PT1M',
              channel: 'EMAIL',
              template: {
                subject:
                  'Hi {{ customer.traits.firstName | default: "there" }}, your ' +
                  '{{ event.properties.productName | default: "item" }} is waiting',
                body: 'Still thinking about {{ event.properties.productName }}?',
              },
            },
          ],
        },
      },
    );
    expect(created.createTrigger.templateWarnings).toEqual([]);

    const rows: Array<[string, Record<string, unknown>, Record<string, unknown>]> = [
      ['ana', { firstName: 'Ana' }, { productName: 'Trail Shoe' }],
      ['absent', {}, { productName: 'Trail Shoe' }],
      ['empty', { firstName: '' }, { productName: 'Trail Shoe' }],
      ['blank', { firstName: '   ' }, { productName: 'Trail Shoe' }],
      ['zoe', { firstName: 'Zoë 🌿' }, { productName: 'Trail Shoe' }],
      ['missing', { firstName: 'Ana' }, {}],
      ['zero', { firstName: 'Ana' }, { productName: 0 }],
    ];
    for (const [id, traits, properties] of rows) {
      await identifyWith(t, secret, {
        externalId: id,
        email: `c19-${id}-${Date.now()}@example.com`,
        traits,
      });
      await track(t, secret, { customerExternalId: id, event: 'viewed', properties });
    }
    await advance(t, 'PT1M');

    const subjects: Record<string, [string, string | null, string | null]> = {};
    for (const [id] of rows) {
      const [m] = await messagesOf(t, secret, id);
      subjects[id] = [m.status, m.subject, m.suppressionReason];
    }
    expect(subjects).toEqual({
      ana: ['SENT', 'Hi Ana, your Trail Shoe is waiting', null],
      absent: ['SENT', 'Hi there, your Trail Shoe is waiting', null],
      empty: ['SENT', 'Hi there, your Trail Shoe is waiting', null],
      blank: ['SENT', 'Hi there, your Trail Shoe is waiting', null],
      zoe: ['SENT', 'Hi Zoë 🌿, your Trail Shoe is waiting', null],
      missing: ['SUPPRESSED', null, 'TEMPLATE_VARIABLE_MISSING: event.properties.productName'],
      zero: ['SENT', 'Hi Ana, your 0 is waiting', null],
    });
    const [zoe] = await messagesOf(t, secret, 'zoe');
    const [mail] = await mailsTo(t.smtp, zoe.to!);
    expect(mail.subject).toBe('Hi Zoë 🌿, your Trail Shoe is waiting');
    expect(String(mail.headers.get('subject'))).toBe('Hi Zoë 🌿, your Trail Shoe is waiting');
  });

  it('a variable in no schema is a save-time warning, not an error', async () => {
    const { secret } = await t.createTenant('t-c19-warn');
    const created = await t.ok<any>(
      secret,
      `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) {
         templateWarnings { field path message } } }`,
      {
        i: {
          name: 'warned',
          event: 'viewed',
          steps: [
            {
              channel: 'EMAIL',
              template: { subject: 'Hi {{ customer.first_name | default: "x" }}', body: 'b' },
            },
          ],
        },
      },
    );
    expect(created.createTrigger.templateWarnings).toEqual([
      {
        field: 'steps.0.template.subject',
        path: 'customer.first_name',
        message: expect.stringContaining('customer.traits'),
      },
    ]);
  });
});
