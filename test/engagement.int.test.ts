import net from 'node:net';
import { randomBytes } from 'node:crypto';
import twilio from 'twilio';
import { emailLinks, signToken } from '../src/engine/engagement/link-tokens';
import { startTestNudge, TestNudge } from './support/harness';
import { createTrigger, identifyWith, listMessages, track, uniqueEmail } from './support/scenario';

/**
 * The engagement endpoints over real HTTP: tracking pixel, click redirect, one-click
 * unsubscribe and the SMS provider callbacks (docs/engagement.md). Messages come from a real
 * trigger with an EMAIL step on the manual clock; row state is read with SQL as the test's
 * superuser, since opens and consent records are not (yet) in the GraphQL API.
 */

const SMS_AUTH_TOKEN = 'test-sms-auth-token-0123456789';
const BROWSER =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)';
const GMAIL_PROXY =
  'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';
const DESTINATION = 'https://shop.example/products/42?utm_source=nudge';

interface SentEmail {
  tenantId: string;
  secret: string;
  messageId: string;
  customerId: string;
  phone: string;
  linkSecret: string;
}

interface MessageRow {
  status: string;
  opened_at: Date | null;
  clicked_at: Date | null;
  delivered_at: Date | null;
  failure: string | null;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('engagement endpoints', () => {
  let t: TestNudge;
  let baseUrl: string;
  let nowMs = Date.parse('2025-04-14T09:00:00Z');

  beforeAll(async () => {
    // The public URL is the app's own address here, so links and signatures point at it.
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    t = await startTestNudge({
      env: {
        PORT: String(port),
        NUDGE_PUBLIC_URL: baseUrl,
        TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
        TWILIO_AUTH_TOKEN: SMS_AUTH_TOKEN,
        NUDGE_SMS_FROM: '+15005550006',
        // Nothing here sends an SMS; should something try, it must not leave the machine.
        NUDGE_SMS_API_URL: 'http://127.0.0.1:9',
      },
    });
  });
  afterAll(async () => {
    await t.stop();
  });

  const sql = <T>(text: string, params: unknown[] = []): Promise<T[]> =>
    t.nudge.db.dataSource.query(text, params);

  async function advanceClock(ms: number): Promise<void> {
    nowMs += ms;
    await t.setClock(new Date(nowMs).toISOString());
  }

  /** A fresh tenant whose EMAIL step has just sent one message to a fresh customer. */
  async function sentEmail(): Promise<SentEmail> {
    await advanceClock(3_600_000);
    const { tenantId, secret } = await t.createTenant('engagement');
    await createTrigger(t, secret, {
      name: 'welcome',
      event: 'signed_up',
      steps: [{ channel: 'EMAIL', template: { subject: 'Welcome', body: 'Hello' } }],
    });
    const phone = `+49151${String(randomBytes(3).readUIntBE(0, 3)).padStart(8, '0')}`;
    await identifyWith(t, secret, { externalId: 'cust-1', email: uniqueEmail('cust-1'), phone });
    await track(t, secret, { customerExternalId: 'cust-1', event: 'signed_up' });

    const [message] = await listMessages(t, secret, { customerExternalId: 'cust-1' });
    expect(message.status).toBe('SENT');
    const [row] = await sql<{ customer_id: string; link_secret: string }>(
      `SELECT m.customer_id, tn.link_secret FROM messages m JOIN tenants tn ON tn.id = m.tenant_id
       WHERE m.id = $1`,
      [message.id],
    );
    return {
      tenantId,
      secret,
      messageId: message.id,
      customerId: row.customer_id,
      phone,
      linkSecret: row.link_secret,
    };
  }

  const linksOf = (m: SentEmail) => emailLinks(baseUrl, m.tenantId, m.messageId, m.linkSecret);

  async function messageRow(messageId: string): Promise<MessageRow> {
    const [row] = await sql<MessageRow>(
      `SELECT status, opened_at, clicked_at, delivered_at, failure FROM messages WHERE id = $1`,
      [messageId],
    );
    return row;
  }

  const eventsOf = (messageId: string) =>
    sql<{ kind: string; machine: boolean; occurred_at: Date }>(
      `SELECT kind, machine, occurred_at FROM message_events WHERE message_id = $1 ORDER BY id`,
      [messageId],
    );

  const consentsOf = (customerId: string) =>
    sql<{ channel: string; purpose: string; granted: boolean; source: string }>(
      `SELECT channel, purpose, granted, source FROM consent_records
       WHERE customer_id = $1 ORDER BY channel, purpose`,
      [customerId],
    );

  const fetchAs = (url: string, userAgent: string, init: RequestInit = {}) =>
    fetch(url, { ...init, redirect: 'manual', headers: { 'user-agent': userAgent } });

  describe('open pixel', () => {
    it("marks a person's open: status OPENED and opened_at at the clock's now", async () => {
      const m = await sentEmail();
      await advanceClock(60_000);

      const response = await fetchAs(linksOf(m).openPixelUrl, BROWSER);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/gif');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(
        Buffer.from(await response.arrayBuffer())
          .subarray(0, 6)
          .toString(),
      ).toBe('GIF89a');

      const row = await messageRow(m.messageId);
      expect(row.status).toBe('OPENED');
      expect(row.opened_at?.getTime()).toBe(nowMs);
      expect(await eventsOf(m.messageId)).toEqual([
        { kind: 'OPENED', machine: false, occurred_at: new Date(nowMs) },
      ]);
    });

    it("logs an image proxy's fetch as a machine open and leaves the message alone", async () => {
      const m = await sentEmail();
      await advanceClock(60_000);

      expect((await fetchAs(linksOf(m).openPixelUrl, GMAIL_PROXY)).status).toBe(200);

      const row = await messageRow(m.messageId);
      expect(row.status).toBe('SENT');
      expect(row.opened_at).toBeNull();
      expect(await eventsOf(m.messageId)).toMatchObject([{ kind: 'OPENED', machine: true }]);
    });

    it('counts a browser open within 2 s of sending as a machine', async () => {
      const m = await sentEmail();
      expect((await fetchAs(linksOf(m).openPixelUrl, BROWSER)).status).toBe(200);
      expect((await messageRow(m.messageId)).status).toBe('SENT');
      expect(await eventsOf(m.messageId)).toMatchObject([{ kind: 'OPENED', machine: true }]);
    });

    it('answers the same pixel for a forged token and records nothing', async () => {
      const m = await sentEmail();
      await advanceClock(60_000);
      const forged = signToken('open', m.tenantId, m.messageId, 'f'.repeat(64));

      const response = await fetchAs(`${baseUrl}/t/o/${forged}`, BROWSER);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/gif');
      expect((await fetchAs(`${baseUrl}/t/o/not-a-token`, BROWSER)).status).toBe(200);
      expect(await eventsOf(m.messageId)).toEqual([]);
    });
  });

  describe('click redirect', () => {
    it('redirects to the signed destination and marks the message CLICKED', async () => {
      const m = await sentEmail();
      await advanceClock(60_000);

      const response = await fetchAs(linksOf(m).clickUrl(DESTINATION), BROWSER);
      expect(response.status).toBe(302);
      expect(response.headers.get('location')).toBe(DESTINATION);
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');

      const row = await messageRow(m.messageId);
      expect(row.status).toBe('CLICKED');
      expect(row.clicked_at?.getTime()).toBe(nowMs);
      expect(row.opened_at?.getTime()).toBe(nowMs);
      expect(await eventsOf(m.messageId)).toMatchObject([{ kind: 'CLICKED', machine: false }]);
    });

    it('refuses a tampered destination with 404 and records nothing', async () => {
      const m = await sentEmail();
      await advanceClock(60_000);
      const tracked = new URL(linksOf(m).clickUrl(DESTINATION));
      tracked.searchParams.set('u', 'https://evil.example/login');

      const response = await fetchAs(tracked.toString(), BROWSER);
      expect(response.status).toBe(404);
      expect(response.headers.get('location')).toBeNull();
      expect((await messageRow(m.messageId)).status).toBe('SENT');
      expect(await eventsOf(m.messageId)).toEqual([]);
    });

    it('never moves a status backwards or out of FAILED', async () => {
      const m = await sentEmail();
      await advanceClock(60_000);
      await fetchAs(linksOf(m).clickUrl(DESTINATION), BROWSER);
      await fetchAs(linksOf(m).openPixelUrl, BROWSER);
      expect((await messageRow(m.messageId)).status).toBe('CLICKED');

      const failed = await sentEmail();
      await sql(`UPDATE messages SET status = 'FAILED' WHERE id = $1`, [failed.messageId]);
      await advanceClock(60_000);
      expect((await fetchAs(linksOf(failed).clickUrl(DESTINATION), BROWSER)).status).toBe(302);
      expect((await messageRow(failed.messageId)).status).toBe('FAILED');
    });
  });

  describe('one-click unsubscribe', () => {
    it('revokes EMAIL MARKETING on the RFC 8058 POST', async () => {
      const m = await sentEmail();
      await advanceClock(60_000);

      const response = await fetch(linksOf(m).unsubscribeUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'List-Unsubscribe=One-Click',
      });
      expect(response.status).toBe(200);
      expect(await consentsOf(m.customerId)).toEqual([
        { channel: 'EMAIL', purpose: 'MARKETING', granted: false, source: 'list-unsubscribe' },
      ]);
      expect(await eventsOf(m.messageId)).toMatchObject([{ kind: 'UNSUBSCRIBED' }]);
    });

    it('shows a confirmation form on GET and revokes nothing', async () => {
      const m = await sentEmail();
      const response = await fetchAs(linksOf(m).unsubscribeUrl, BROWSER);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/html/);
      const page = await response.text();
      expect(page).toMatch(/<form method="post">/);
      expect(page).not.toContain(m.messageId);
      expect(await consentsOf(m.customerId)).toEqual([]);
    });

    it("refuses another tenant's ids under this tenant's signature (404, no effect)", async () => {
      const a = await sentEmail();
      const b = await sentEmail();
      // Signed with tenant A's secret, naming tenant B's message: B's secret does not verify it.
      const crossed = signToken('unsubscribe', b.tenantId, b.messageId, a.linkSecret);
      const response = await fetch(`${baseUrl}/t/u/${crossed}`, { method: 'POST' });
      expect(response.status).toBe(404);
      // Tenant A's own id with B's message: row-level security hides B's message from A.
      const mixed = signToken('unsubscribe', a.tenantId, b.messageId, a.linkSecret);
      expect((await fetch(`${baseUrl}/t/u/${mixed}`, { method: 'POST' })).status).toBe(404);
      const clickToken = signToken('click', b.tenantId, b.messageId, a.linkSecret, DESTINATION);
      const click = `${baseUrl}/t/c/${clickToken}?u=${encodeURIComponent(DESTINATION)}`;
      expect((await fetchAs(click, BROWSER)).status).toBe(404);

      expect(await consentsOf(b.customerId)).toEqual([]);
      expect(await eventsOf(b.messageId)).toEqual([]);
      expect((await messageRow(b.messageId)).status).toBe('SENT');
    });
  });

  describe('SMS callbacks', () => {
    /** POSTs a form to an SMS hook, signed like the provider would (or with `signature`). */
    function postHook(path: string, params: Record<string, string>, signature?: string) {
      const url = `${baseUrl}${path}`;
      return fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature':
            signature ?? twilio.getExpectedTwilioSignature(SMS_AUTH_TOKEN, url, params),
        },
        body: new URLSearchParams(params).toString(),
      });
    }

    /** Makes the sent message an SMS with a provider id, as the SMS channel would record it. */
    async function asSentSms(m: SentEmail): Promise<string> {
      const sid = `SM${randomBytes(16).toString('hex')}`;
      await sql(
        `UPDATE messages SET channel = 'SMS', to_address = $2, provider_message_id = $3
         WHERE id = $1`,
        [m.messageId, m.phone, sid],
      );
      return sid;
    }

    it('marks a message DELIVERED on a signed status callback', async () => {
      const m = await sentEmail();
      const sid = await asSentSms(m);
      await advanceClock(5_000);

      const response = await postHook(`/hooks/sms/${m.tenantId}/status`, {
        MessageSid: sid,
        MessageStatus: 'delivered',
        AccountSid: 'AC0123',
      });
      expect(response.status).toBe(204);
      const row = await messageRow(m.messageId);
      expect(row.status).toBe('DELIVERED');
      expect(row.delivered_at?.getTime()).toBe(nowMs);
      expect(await eventsOf(m.messageId)).toMatchObject([{ kind: 'DELIVERED' }]);
    });

    it('marks a SENT message FAILED with the carrier error code', async () => {
      const m = await sentEmail();
      const sid = await asSentSms(m);
      const response = await postHook(`/hooks/sms/${m.tenantId}/status`, {
        MessageSid: sid,
        MessageStatus: 'undelivered',
        ErrorCode: '30006',
      });
      expect(response.status).toBe(204);
      expect(await messageRow(m.messageId)).toMatchObject({
        status: 'FAILED',
        failure: 'SMS_30006',
      });
    });

    it('refuses a bad or missing signature with 403 and a malformed tenant with 404', async () => {
      const m = await sentEmail();
      const sid = await asSentSms(m);
      const params = { MessageSid: sid, MessageStatus: 'delivered' };
      const path = `/hooks/sms/${m.tenantId}/status`;

      expect((await postHook(path, params, 'bm90IGEgc2lnbmF0dXJl')).status).toBe(403);
      const unsigned = await fetch(`${baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params).toString(),
      });
      expect(unsigned.status).toBe(403);
      // Signed for another tenant's URL: the path is part of what is signed.
      const other = twilio.getExpectedTwilioSignature(
        SMS_AUTH_TOKEN,
        `${baseUrl}/hooks/sms/00000000-0000-4000-8000-000000000000/status`,
        params,
      );
      expect((await postHook(path, params, other)).status).toBe(403);
      expect((await messageRow(m.messageId)).status).toBe('SENT');

      expect((await postHook('/hooks/sms/not-a-tenant/status', params)).status).toBe(404);
    });

    it('revokes SMS MARKETING and TRANSACTIONAL on an inbound "  Stop \\n" (C13)', async () => {
      const m = await sentEmail();
      const response = await postHook(`/hooks/sms/${m.tenantId}/inbound`, {
        From: m.phone,
        To: '+15005550006',
        Body: '  Stop \n',
        MessageSid: `SM${randomBytes(16).toString('hex')}`,
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/xml/);
      expect(await response.text()).toBe('<Response/>');
      expect(await consentsOf(m.customerId)).toEqual([
        { channel: 'SMS', purpose: 'MARKETING', granted: false, source: 'sms-keyword' },
        { channel: 'SMS', purpose: 'TRANSACTIONAL', granted: false, source: 'sms-keyword' },
      ]);
    });

    it('changes nothing for "Stopwatch arrived broken" (C13 item 5)', async () => {
      const m = await sentEmail();
      const response = await postHook(`/hooks/sms/${m.tenantId}/inbound`, {
        From: m.phone,
        Body: 'Stopwatch arrived broken',
      });
      expect(response.status).toBe(200);
      expect(await consentsOf(m.customerId)).toEqual([]);
    });

    it('grants SMS consent back on START', async () => {
      const m = await sentEmail();
      const path = `/hooks/sms/${m.tenantId}/inbound`;
      await postHook(path, { From: m.phone, Body: 'STOP' });
      await advanceClock(60_000);
      await postHook(path, { From: m.phone, Body: 'start' });
      const latest = await sql<{ purpose: string; granted: boolean }>(
        `SELECT DISTINCT ON (purpose) purpose, granted FROM consent_records
         WHERE customer_id = $1 AND channel = 'SMS' ORDER BY purpose, occurred_at DESC, id DESC`,
        [m.customerId],
      );
      expect(latest).toEqual([
        { purpose: 'MARKETING', granted: true },
        { purpose: 'TRANSACTIONAL', granted: true },
      ]);
    });
  });
});
