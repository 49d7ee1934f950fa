import net from 'node:net';
import { TestNudge } from './support/harness';
import { createTrigger, identifyWith, mailsTo, track } from './support/scenario';
import {
  ChannelPeers,
  advance,
  consent,
  messagesOf,
  registerPush,
  startNudgeWithPeers,
  stopPeers,
} from './support/sequences';

/** A free local port, so the service's public URL can be its own address. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Field case C13: an opt-out that lands while a later step is pending. Consent is checked
 * when each step is due and again right before each provider call, per channel: an email
 * unsubscribe does not stop SMS or push, a STOP reply stops SMS only, and a word that merely
 * starts with "stop" is not a keyword.
 */
describe('C13 opt-out while a later step is pending', () => {
  let t: TestNudge;
  let peers: ChannelPeers;
  let base: string;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    ({ t, peers } = await startNudgeWithPeers({ PORT: String(port), NUDGE_PUBLIC_URL: base }));
  });
  afterAll(async () => {
    await t.stop();
    await stopPeers(peers);
  });

  const SEQUENCE = {
    name: 'nordic',
    event: 'signed_up',
    steps: [
      { channel: 'EMAIL', template: { subject: 'Welcome', body: 'hi', html: '<p>hi</p>' } },
      {
        delay: 'PT24H',
        channel: 'SMS',
        condition: { previousStep: 'NOT_OPENED' },
        template: { body: 'Did you see our email?' },
      },
      {
        delay: 'PT48H',
        after: 'ENTRY',
        channel: 'PUSH',
        template: { subject: 'Hej', body: 'psst' },
      },
    ],
  };

  async function nordic(id: string, phone: string) {
    const { tenantId, secret } = await t.createTenant(`t-nordic-${id}`);
    await t.setClock('2025-04-14T09:00:00.000Z');
    await createTrigger(t, secret, SEQUENCE);
    const email = `${id}-${Date.now()}@example.com`;
    await identifyWith(t, secret, { externalId: id, email, phone, timezone: 'UTC' });
    for (const channel of ['EMAIL', 'SMS', 'PUSH']) {
      await consent(t, secret, 'grantConsent', {
        customerExternalId: id,
        channel,
        purpose: 'MARKETING',
      });
    }
    await registerPush(t, secret, id, peers.push.newSubscription());
    return { tenantId, secret, email };
  }

  const inbound = (tenantId: string, From: string, Body: string) =>
    peers.sms.sendInbound(`${base}/hooks/sms/${tenantId}/inbound`, {
      From,
      To: '+15550000000',
      Body,
    });

  it('cust-13001: email unsubscribe at 12:00 leaves SMS alone; "  Stop \\n" at 08:59 stops the 09:00 SMS; push still goes', async () => {
    const phone = '+4670130001';
    const { tenantId, secret, email } = await nordic('cust-13001', phone);
    await track(t, secret, { customerExternalId: 'cust-13001', event: 'signed_up' });
    await advance(t, 'PT0S');
    const [mail] = await mailsTo(t.smtp, email);
    // mailparser files List-* headers under `list`.
    const listHeaders = JSON.stringify(mail.headers.get('list'));
    const unsubscribe = /(http[^"<>]+\/t\/u\/[^"<>]+)/.exec(listHeaders)![1];

    await t.setClock('2025-04-14T12:00:00.000Z');
    const oneClick = await fetch(unsubscribe, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(oneClick.status).toBe(200);

    await t.setClock('2025-04-15T08:59:00.000Z');
    expect(await inbound(tenantId, phone, '  Stop \n')).toBe(200);
    await advance(t, 'P3D');
    const messages = await messagesOf(t, secret, 'cust-13001');
    expect(messages.map((m) => [m.channel, m.status, m.suppressionReason])).toEqual([
      ['EMAIL', 'SENT', null],
      ['SMS', 'SUPPRESSED', 'NO_CONSENT'],
      ['PUSH', 'SENT', null],
    ]);
    expect(peers.sms.received.filter((m) => m.to === phone)).toHaveLength(0);
    const data = await t.ok<any>(
      secret,
      `{ customer(externalId: "cust-13001") { consents { channel purpose granted source } } }`,
    );
    expect(data.customer.consents).toEqual(
      expect.arrayContaining([
        { channel: 'EMAIL', purpose: 'MARKETING', granted: false, source: 'list-unsubscribe' },
        { channel: 'SMS', purpose: 'MARKETING', granted: false, source: 'sms-keyword' },
        { channel: 'PUSH', purpose: 'MARKETING', granted: true, source: 'test' },
      ]),
    );
  });

  it('cust-13002: "unsubscribe" arriving after the step was recorded, before the provider call, stops it', async () => {
    // The step is recorded at 09:00 and its first provider call fails (the provider is
    // briefly down); the opt-out lands before the next call. The same last check runs
    // before every call, the first included (see delivery.service.ts `claim`).
    const phone = '+4670130002';
    const { tenantId, secret } = await nordic('cust-13002', phone);
    await track(t, secret, { customerExternalId: 'cust-13002', event: 'signed_up' });
    await advance(t, 'PT0S');
    peers.sms.failNext(503);
    await t.setClock('2025-04-15T09:00:00.000Z');
    const [, sms] = await messagesOf(t, secret, 'cust-13002');
    expect([sms.status, sms.attempts]).toEqual(['QUEUED', 1]);
    expect(await inbound(tenantId, phone, 'unsubscribe')).toBe(200);
    await advance(t, 'PT1H');
    const [, after] = await messagesOf(t, secret, 'cust-13002');
    expect([after.status, after.suppressionReason]).toEqual(['SUPPRESSED', 'NO_CONSENT']);
    expect(peers.sms.received.filter((m) => m.to === phone)).toHaveLength(0);
  });

  it('cust-13003: "Stopwatch arrived broken" is not an opt-out; the SMS goes out', async () => {
    const phone = '+4670130003';
    const { tenantId, secret } = await nordic('cust-13003', phone);
    await track(t, secret, { customerExternalId: 'cust-13003', event: 'signed_up' });
    await t.setClock('2025-04-15T08:00:00.000Z');
    expect(await inbound(tenantId, phone, 'Stopwatch arrived broken')).toBe(200);
    await advance(t, 'PT2H');
    expect(peers.sms.received.filter((m) => m.to === phone)).toHaveLength(1);
  });
});
