import { startTestNudge, type TestNudge } from './support/harness';
import {
  createApiKey,
  createTenantWithKey,
  expectGraphQLError,
  uniq,
} from './support/graphql-helpers';
import { loadSendPolicy } from '../src/engine/consent/send-policy';

/**
 * Tenant send settings (issue #4, field case C11's settings): quiet hours, frequency caps and
 * the channels whose marketing needs an explicit grant. Fields left out stay unchanged; bad
 * input is BAD_USER_INPUT at the offending path; only ADMIN keys may change them.
 */

const SETTINGS = `timezone webhookUrl quietHours { from to }
  frequencyCaps { purpose channel max within isBlockingAll } explicitConsentChannels`;
const UPDATE = `mutation($input: UpdateTenantSettingsInput!) {
  updateTenantSettings(input: $input) { ${SETTINGS} }
}`;
const READ = `{ tenant { ${SETTINGS} } }`;

const DEFAULTS = {
  timezone: 'UTC',
  webhookUrl: null,
  quietHours: null,
  frequencyCaps: [],
  explicitConsentChannels: ['SMS'],
};

describe('tenant settings', () => {
  let t: TestNudge;

  beforeAll(async () => {
    t = await startTestNudge();
  });
  afterAll(async () => {
    await t.stop();
  });

  const tenant = () => createTenantWithKey(t, `settings-${uniq()}`);

  async function update(secret: string, input: Record<string, unknown>) {
    return (await t.ok<any>(secret, UPDATE, { input })).updateTenantSettings;
  }

  async function read(secret: string) {
    return (await t.ok<any>(secret, READ)).tenant;
  }

  it('a new tenant: no quiet hours, no caps, explicit consent on SMS', async () => {
    const { secret } = await tenant();
    expect(await read(secret)).toEqual(DEFAULTS);
  });

  it('updates every setting and reads it back', async () => {
    const { secret } = await tenant();
    const updated = await update(secret, {
      timezone: 'Europe/Berlin',
      quietHours: { from: '21:00', to: '08:00' },
      frequencyCaps: [
        { purpose: 'MARKETING', max: 3, within: 'P7D' },
        { channel: 'SMS', max: 1, within: 'PT24H' },
      ],
      explicitConsentChannels: ['SMS', 'EMAIL'],
    });
    const expected = {
      timezone: 'Europe/Berlin',
      webhookUrl: null,
      quietHours: { from: '21:00', to: '08:00' },
      frequencyCaps: [
        { purpose: 'MARKETING', channel: null, max: 3, within: 'P7D', isBlockingAll: false },
        { purpose: 'MARKETING', channel: 'SMS', max: 1, within: 'PT24H', isBlockingAll: false },
      ],
      explicitConsentChannels: ['EMAIL', 'SMS'],
    };
    expect(updated).toEqual(expected);
    expect(await read(secret)).toEqual(expected);
  });

  it('fields left out stay unchanged; quietHours null clears; [] empties a list', async () => {
    const { secret } = await tenant();
    await update(secret, {
      quietHours: { from: '22:00', to: '07:30' },
      frequencyCaps: [{ max: 5, within: 'P7D' }],
    });

    const afterZone = await update(secret, { timezone: 'Asia/Kolkata' });
    expect(afterZone.quietHours).toEqual({ from: '22:00', to: '07:30' });
    expect(afterZone.frequencyCaps).toHaveLength(1);
    expect(afterZone.explicitConsentChannels).toEqual(['SMS']);

    const afterCaps = await update(secret, {
      frequencyCaps: [{ channel: 'PUSH', max: 2, within: 'P1D' }],
    });
    expect(afterCaps.quietHours).toEqual({ from: '22:00', to: '07:30' });
    expect(afterCaps.timezone).toBe('Asia/Kolkata');
    expect(afterCaps.frequencyCaps.map((c: any) => c.channel)).toEqual(['PUSH']);

    const cleared = await update(secret, { quietHours: null });
    expect(cleared.quietHours).toBeNull();
    expect(cleared.frequencyCaps).toHaveLength(1);

    const emptied = await update(secret, { frequencyCaps: [], explicitConsentChannels: [] });
    expect(emptied).toEqual({ ...DEFAULTS, timezone: 'Asia/Kolkata', explicitConsentChannels: [] });
    expect(await read(secret)).toEqual(emptied);
  });

  it('C11: max 0 is accepted and reported as blocking every marketing send on its scope', async () => {
    const { secret } = await tenant();
    const updated = await update(secret, {
      frequencyCaps: [{ channel: 'EMAIL', max: 0, within: 'P1D' }],
    });
    expect(updated.frequencyCaps).toEqual([
      { purpose: 'MARKETING', channel: 'EMAIL', max: 0, within: 'P1D', isBlockingAll: true },
    ]);
  });

  describe('bad input is BAD_USER_INPUT at its path, and changes nothing', () => {
    it.each<[string, string, Record<string, unknown>]>([
      [
        'a negative max',
        'input.frequencyCaps.0.max',
        { frequencyCaps: [{ max: -1, within: 'P7D' }] },
      ],
      [
        'a TRANSACTIONAL cap',
        'input.frequencyCaps.0.purpose',
        { frequencyCaps: [{ purpose: 'TRANSACTIONAL', max: 3, within: 'P7D' }] },
      ],
      [
        'two caps on the same scope',
        'input.frequencyCaps.1.channel',
        {
          frequencyCaps: [
            { channel: 'SMS', max: 1, within: 'P1D' },
            { channel: 'SMS', max: 3, within: 'P7D' },
          ],
        },
      ],
      [
        'a zero window',
        'input.frequencyCaps.0.within',
        { frequencyCaps: [{ max: 1, within: 'PT0S' }] },
      ],
      [
        'eleven caps',
        'input.frequencyCaps',
        { frequencyCaps: Array.from({ length: 11 }, () => ({ max: 1, within: 'P1D' })) },
      ],
      [
        'quiet hours from = to',
        'input.quietHours.to',
        { quietHours: { from: '08:00', to: '08:00' } },
      ],
      ['a malformed from', 'input.quietHours.from', { quietHours: { from: '9pm', to: '08:00' } }],
      ['an unknown zone', 'input.timezone', { timezone: 'Mars/Olympus' }],
    ])('%s → %s', async (_what, field, input) => {
      const { secret } = await tenant();
      await update(secret, { quietHours: { from: '21:00', to: '08:00' } });
      const before = await read(secret);

      const response = await t.request(secret, UPDATE, {
        input: { timezone: 'Europe/Berlin', ...input },
      });
      expectGraphQLError(response, 'BAD_USER_INPUT', field);
      expect(await read(secret)).toEqual(before);
    });
  });

  it('only ADMIN may change settings (WRITE is FORBIDDEN); READ may read them', async () => {
    const { secret } = await tenant();
    const write = await createApiKey(t, secret, ['WRITE', 'READ']);
    expectGraphQLError(
      await t.request(write.secret, UPDATE, {
        input: { quietHours: { from: '21:00', to: '08:00' } },
      }),
      'FORBIDDEN',
    );
    expect(await read(write.secret)).toEqual(DEFAULTS);
  });

  it('the engine reads the parsed policy with loadSendPolicy', async () => {
    const { tenantId, secret } = await tenant();
    await update(secret, {
      timezone: 'Europe/Berlin',
      webhookUrl: 'https://hooks.example.test/nudge',
      quietHours: { from: '21:00', to: '08:00' },
      frequencyCaps: [{ channel: 'SMS', max: 0, within: 'P7D' }],
      explicitConsentChannels: ['PUSH', 'SMS'],
    });
    const policy = await t.nudge.db.withTenant(tenantId, (tx) => loadSendPolicy(tx, tenantId));
    expect(policy).toEqual({
      timezone: 'Europe/Berlin',
      quietHours: { from: '21:00', to: '08:00', fromMinute: 1260, toMinute: 480 },
      frequencyCaps: [
        { purpose: 'MARKETING', channel: 'SMS', max: 0, within: 'P7D', withinMs: 604_800_000 },
      ],
      explicitConsentChannels: ['SMS', 'PUSH'],
      webhookUrl: 'https://hooks.example.test/nudge',
      linkSecret: expect.stringMatching(/^[0-9a-f]{64}$/),
    });

    const other = await tenant();
    const otherPolicy = await t.nudge.db.withTenant(other.tenantId, (tx) =>
      loadSendPolicy(tx, other.tenantId),
    );
    expect(otherPolicy).toMatchObject({
      quietHours: null,
      frequencyCaps: [],
      explicitConsentChannels: ['SMS'],
    });
    expect(otherPolicy.linkSecret).not.toBe(policy.linkSecret);
  });
});
