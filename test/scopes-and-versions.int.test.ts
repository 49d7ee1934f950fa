import { startTestNudge, TestNudge } from './support/harness';

const TRIGGER = {
  name: 'welcome',
  event: 'signed_up',
  steps: [{ channel: 'EMAIL', template: { subject: 'Hi', body: 'Welcome' } }],
};

describe('scopes on returned data', () => {
  let t: TestNudge;
  let admin: string;
  let ingest: string;

  beforeAll(async () => {
    t = await startTestNudge();
    admin = (await t.createTenant('scopes')).secret;
    await t.ok(
      admin,
      `mutation { identify(input: { externalId: "p-1", email: "p1@example.com", traits: { vip: true } }) { id } }`,
    );
    const created = await t.ok<any>(
      admin,
      `mutation { createApiKey(input: { name: "backend", scopes: [INGEST] }) { secret } }`,
    );
    ingest = created.createApiKey.secret;
  });
  afterAll(async () => t.stop());

  it('an INGEST key can identify and track, and gets back only ids', async () => {
    const data = await t.ok<any>(
      ingest,
      `mutation { identify(input: { externalId: "p-1" }) { id externalId } }`,
    );
    expect(data.identify.externalId).toBe('p-1');
  });

  it.each([
    ['email', '{ email }'],
    ['traits', '{ traits }'],
    ['events', '{ events { edges { node { name } } } }'],
    ['messages', '{ messages { edges { node { body } } } }'],
  ])('an INGEST key cannot read %s through identify (FORBIDDEN)', async (_field, selection) => {
    const result = await t.request(
      ingest,
      `mutation { identify(input: { externalId: "p-1" }) ${selection} }`,
    );
    expect(result.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect(JSON.stringify(result.data ?? null)).not.toContain('p1@example.com');
  });
});

describe('trigger versions', () => {
  let t: TestNudge;
  let secret: string;

  beforeAll(async () => {
    t = await startTestNudge();
    secret = (await t.createTenant('versions')).secret;
  });
  afterAll(async () => t.stop());

  const update = (id: string, input: Record<string, unknown>) =>
    t.ok<any>(
      secret,
      `mutation($id: ID!, $i: UpdateTriggerInput!) { updateTrigger(id: $id, input: $i) { version name status } }`,
      {
        id,
        i: input,
      },
    );

  it('renaming, pausing or an empty update keeps the version; a behaviour change makes a new one', async () => {
    const created = await t.ok<any>(
      secret,
      `mutation($i: CreateTriggerInput!) { createTrigger(input: $i) { id version } }`,
      {
        i: TRIGGER,
      },
    );
    const id = created.createTrigger.id;
    expect(created.createTrigger.version).toBe(1);

    expect((await update(id, { name: 'welcome v1' })).updateTrigger.version).toBe(1);
    expect((await update(id, { status: 'PAUSED' })).updateTrigger.version).toBe(1);
    expect((await update(id, {})).updateTrigger.version).toBe(1);
    expect((await update(id, { steps: TRIGGER.steps })).updateTrigger.version).toBe(1);
    const changed = await update(id, {
      steps: [{ channel: 'EMAIL', template: { subject: 'Hello', body: 'Welcome aboard' } }],
    });
    expect(changed.updateTrigger).toEqual({ version: 2, name: 'welcome v1', status: 'PAUSED' });
  });
});
