import { TestNudge } from './support/harness';
import {
  createTrigger,
  identifyWith,
  listDecisions,
  mailsTo,
  track,
  updateTriggerRaw,
} from './support/scenario';
import {
  ChannelPeers,
  advance,
  consent,
  local,
  messagesOf,
  registerPush,
  setTenantSettings,
  startNudgeWithPeers,
  stopPeers,
} from './support/sequences';

/**
 * The classic flow, end to end on the virtual clock with real local peers for every channel:
 * "email 30 minutes after the cart is left, with its items; SMS 24 h after that if the email
 * was not opened; push 48 h after entry with a final offer; stop the moment they buy; never
 * more than the cap; never at night; never without consent." One customer per branch, each
 * in a fresh tenant, so every assertion about what did not happen has a sibling that did.
 */
const FLOW = {
  name: 'Cart rescue',
  event: 'added_to_cart',
  entryKey: ['cartId'],
  goal: { event: 'purchase', within: 'P7D', matchOn: ['cartId'] },
  steps: [
    {
      delay: 'PT30M',
      channel: 'EMAIL',
      template: {
        subject: 'Your {{ event.properties.productName }} is waiting',
        body: 'Hi {{ customer.traits.firstName | default: "there" }}, still thinking about it?',
        html:
          '<html><body><p>{{ event.properties.productName }}</p>' +
          '<a href="https://shop.example/cart/{{ event.properties.cartId }}">Back to cart</a>' +
          '</body></html>',
      },
    },
    {
      delay: 'PT24H',
      channel: 'SMS',
      condition: { previousStep: 'NOT_OPENED' },
      template: { body: 'Your {{ event.properties.productName }} is still in your cart.' },
    },
    {
      delay: 'PT48H',
      after: 'ENTRY',
      channel: 'PUSH',
      template: { subject: 'Last chance', body: '10% off {{ event.properties.productName }}' },
    },
  ],
};

describe('three-step cart flow', () => {
  let t: TestNudge;
  let peers: ChannelPeers;

  beforeAll(async () => {
    ({ t, peers } = await startNudgeWithPeers());
  });
  afterAll(async () => {
    await t.stop();
    await stopPeers(peers);
  });

  /** A tenant with the flow, and one customer reachable (and consenting) on every channel. */
  async function shopper(
    name: string,
    start = '2025-04-14T09:00:00.000Z',
  ): Promise<{ secret: string; triggerId: string; id: string; email: string; phone: string }> {
    const { secret } = await t.createTenant(`t-${name}`);
    await t.setClock(start);
    const triggerId = await createTrigger(t, secret, FLOW);
    const id = `cust-${name}`;
    const email = `${name}-${Date.now()}@example.com`;
    const phone = `+1555${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`;
    await identifyWith(t, secret, {
      externalId: id,
      email,
      phone,
      timezone: 'UTC',
      traits: { firstName: 'Ana' },
    });
    await consent(t, secret, 'grantConsent', {
      customerExternalId: id,
      channel: 'SMS',
      purpose: 'MARKETING',
    });
    await registerPush(t, secret, id, peers.push.newSubscription());
    return { secret, triggerId, id, email, phone };
  }

  async function leaveCart(secret: string, id: string, cartId: string): Promise<void> {
    await track(t, secret, {
      customerExternalId: id,
      event: 'added_to_cart',
      properties: { cartId, productName: 'Trail Shoe' },
    });
  }

  const smsTo = (phone: string) => peers.sms.received.filter((m) => m.to === phone);
  const pushesTo = (endpoint: string) => peers.push.received.filter((p) => p.endpoint === endpoint);

  it('never opened: email at +30 min, SMS 24 h later, push at +48 h, each exactly once', async () => {
    const s = await shopper('never-opened');
    await leaveCart(s.secret, s.id, 'c-1');
    await advance(t, 'PT30M');
    const [mail] = await mailsTo(t.smtp, s.email);
    expect(mail.subject).toBe('Your Trail Shoe is waiting');
    expect(mail.text).toContain('Hi Ana,');

    await advance(t, 'PT24H');
    expect(smsTo(s.phone).map((m) => m.body)).toEqual(['Your Trail Shoe is still in your cart.']);
    await advance(t, 'PT24H');
    const messages = await messagesOf(t, s.secret, s.id);
    expect(messages.map((m) => [m.channel, m.status, m.scheduledFor])).toEqual([
      ['EMAIL', 'SENT', '2025-04-14T09:30:00.000Z'],
      ['SMS', 'SENT', '2025-04-15T09:30:00.000Z'],
      ['PUSH', 'SENT', '2025-04-16T09:00:00.000Z'],
    ]);
    const [push] = pushesTo(messages[2].to!);
    expect(push.payload).toMatchObject({ title: 'Last chance', body: '10% off Trail Shoe' });
    await advance(t, 'P3D');
    expect(smsTo(s.phone)).toHaveLength(1);
    expect(pushesTo(messages[2].to!)).toHaveLength(1);
  });

  it('opened step 1 (a person, not a proxy): no SMS, push still at +48 h', async () => {
    const s = await shopper('opened');
    await leaveCart(s.secret, s.id, 'c-2');
    await advance(t, 'PT30M');
    const [mail] = await mailsTo(t.smtp, s.email);
    const pixel = /<img[^>]+src="([^"]+)"/.exec(mail.html!)![1];
    // A mail privacy proxy fetches it first: that is not an open.
    await fetch(local(t, pixel), {
      headers: { 'user-agent': 'Mozilla/5.0 (via ggpht.com GoogleImageProxy)' },
    });
    await advance(t, 'PT1H');
    await fetch(local(t, pixel), {
      headers: {
        'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15',
      },
    });
    await advance(t, 'P3D');
    const messages = await messagesOf(t, s.secret, s.id);
    expect(messages.map((m) => [m.channel, m.status])).toEqual([
      ['EMAIL', 'OPENED'],
      ['PUSH', 'SENT'],
    ]);
    expect(smsTo(s.phone)).toHaveLength(0);
    const decisions = await listDecisions(t, s.secret, s.id);
    expect(decisions).toContainEqual(
      expect.objectContaining({ outcome: 'SKIPPED', reason: 'STEP_CONDITION' }),
    );
  });

  it('only a machine opened step 1: the SMS still goes out', async () => {
    const s = await shopper('machine-open');
    await leaveCart(s.secret, s.id, 'c-2m');
    await advance(t, 'PT30M');
    const [mail] = await mailsTo(t.smtp, s.email);
    const pixel = /<img[^>]+src="([^"]+)"/.exec(mail.html!)![1];
    await fetch(local(t, pixel), { headers: { 'user-agent': 'GoogleImageProxy' } });
    await advance(t, 'PT24H');
    expect(smsTo(s.phone)).toHaveLength(1);
  });

  it('bought after step 1: the run ends at once, nothing more is sent, the purchase converts', async () => {
    const s = await shopper('bought');
    await leaveCart(s.secret, s.id, 'c-3');
    await advance(t, 'PT30M');
    await advance(t, 'PT2H');
    // Another cart's purchase is not this run's goal.
    await track(t, s.secret, {
      customerExternalId: s.id,
      event: 'purchase',
      properties: { cartId: 'other' },
    });
    await advance(t, 'PT1H');
    await track(t, s.secret, {
      customerExternalId: s.id,
      event: 'purchase',
      properties: { cartId: 'c-3' },
    });
    await advance(t, 'P3D');
    const messages = await messagesOf(t, s.secret, s.id);
    expect(messages.map((m) => [m.channel, m.status])).toEqual([['EMAIL', 'SENT']]);
    expect(smsTo(s.phone)).toHaveLength(0);
    const converted = (await listDecisions(t, s.secret, s.id)).filter(
      (d) => d.outcome === 'CONVERTED',
    );
    expect(converted).toHaveLength(1);
    expect(converted[0].detail).toMatchObject({
      creditedMessageId: messages[0].id,
      timeToConvertMs: 3.5 * 3_600_000,
    });
  });

  it('a run finishes on its own version: paused, or its goal edited, the purchase still ends it', async () => {
    const s = await shopper('paused');
    await leaveCart(s.secret, s.id, 'c-p');
    await advance(t, 'PT30M');
    // Version 2 watches another goal event, then the trigger is paused; run 1 goes on.
    const edited = await updateTriggerRaw(t, s.secret, s.triggerId, {
      goal: { event: 'order_completed', within: 'P7D' },
    });
    expect(edited.errors).toBeUndefined();
    expect(edited.data!.updateTrigger.version).toBe(2);
    const paused = await updateTriggerRaw(t, s.secret, s.triggerId, { status: 'PAUSED' });
    expect(paused.data!.updateTrigger.status).toBe('PAUSED');

    await advance(t, 'PT1H');
    await track(t, s.secret, {
      customerExternalId: s.id,
      event: 'purchase',
      properties: { cartId: 'c-p' },
    });
    await advance(t, 'P3D');
    const messages = await messagesOf(t, s.secret, s.id);
    expect(messages.map((m) => [m.channel, m.status])).toEqual([['EMAIL', 'SENT']]);
    expect(smsTo(s.phone)).toHaveLength(0);
    const converted = (await listDecisions(t, s.secret, s.id)).filter(
      (d) => d.outcome === 'CONVERTED',
    );
    expect(converted.map((d) => d.triggerVersion)).toEqual([1]);
  });

  it('a purchase that happened before the email went out is not credited to it', async () => {
    const s = await shopper('late-purchase');
    await leaveCart(s.secret, s.id, 'c-4');
    await advance(t, 'PT30M'); // email sent at 09:30
    // Reported late: the purchase happened at 09:20, before the email.
    await track(t, s.secret, {
      customerExternalId: s.id,
      event: 'purchase',
      properties: { cartId: 'c-4' },
      occurredAt: '2025-04-14T09:20:00.000Z',
    });
    await advance(t, 'P3D');
    const converted = (await listDecisions(t, s.secret, s.id)).filter(
      (d) => d.outcome === 'CONVERTED',
    );
    expect(converted).toHaveLength(1);
    expect(converted[0].detail).toMatchObject({ creditedMessageId: null });
    expect(smsTo(s.phone)).toHaveLength(0);
  });

  it('opted out of SMS (STOP by revocation): SMS suppressed NO_CONSENT, push still sent', async () => {
    const s = await shopper('sms-optout');
    await leaveCart(s.secret, s.id, 'c-5');
    await advance(t, 'PT30M');
    await consent(t, s.secret, 'revokeConsent', {
      customerExternalId: s.id,
      channel: 'SMS',
      purpose: 'MARKETING',
    });
    await advance(t, 'P3D');
    const messages = await messagesOf(t, s.secret, s.id);
    expect(messages.map((m) => [m.channel, m.status, m.suppressionReason])).toEqual([
      ['EMAIL', 'SENT', null],
      ['SMS', 'SUPPRESSED', 'NO_CONSENT'],
      ['PUSH', 'SENT', null],
    ]);
    expect(smsTo(s.phone)).toHaveLength(0);
  });

  it('capped (≤ 1 marketing message per 7 days): email sent, SMS and push suppressed', async () => {
    const s = await shopper('capped');
    await setTenantSettings(t, s.secret, {
      frequencyCaps: [{ purpose: 'MARKETING', max: 1, within: 'P7D' }],
    });
    await leaveCart(s.secret, s.id, 'c-6');
    await advance(t, 'P3D');
    const messages = await messagesOf(t, s.secret, s.id);
    expect(messages.map((m) => [m.channel, m.status, m.suppressionReason])).toEqual([
      ['EMAIL', 'SENT', null],
      ['SMS', 'SUPPRESSED', 'FREQUENCY_CAP'],
      ['PUSH', 'SUPPRESSED', 'FREQUENCY_CAP'],
    ]);
    expect(smsTo(s.phone)).toHaveLength(0);
  });

  it('quiet hours: a step due at night waits for the morning in the customer’s zone', async () => {
    const s = await shopper('quiet', '2025-04-14T18:45:00.000Z');
    await setTenantSettings(t, s.secret, { quietHours: { from: '21:00', to: '08:00' } });
    await identifyWith(t, s.secret, { externalId: s.id, timezone: 'Europe/Berlin' });
    // 20:45 in Berlin (UTC+2): the email falls due at 21:15 local, inside quiet hours.
    await leaveCart(s.secret, s.id, 'c-7');
    await advance(t, 'PT30M');
    expect(await messagesOf(t, s.secret, s.id)).toEqual([]);
    await advance(t, 'PT12H');
    const [email] = await messagesOf(t, s.secret, s.id);
    expect([email.channel, email.status, email.scheduledFor]).toEqual([
      'EMAIL',
      'SENT',
      '2025-04-15T06:00:00.000Z', // 08:00 Berlin
    ]);
    const deferred = (await listDecisions(t, s.secret, s.id)).filter(
      (d) => d.outcome === 'DEFERRED',
    );
    expect(deferred).toEqual([
      expect.objectContaining({
        reason: 'QUIET_HOURS',
        detail: expect.objectContaining({ deferredTo: '2025-04-15T06:00:00.000Z' }),
      }),
    ]);
  });
});
