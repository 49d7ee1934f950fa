import webpush from 'web-push';
import { OPERATOR_TOKEN, startTestNudge, TestNudge, type HarnessOptions } from './harness';
import { startSmsProvider, SmsProviderPeer as SmsProvider } from './sms-provider';
import { startPushService, PushServicePeer as PushService } from './push-service';

/** Where tracking links in sent emails point; tests swap it for the running app's origin. */
export const PUBLIC_URL = 'http://nudge.test';
export const SMS_ACCOUNT = {
  accountSid: 'AC00000000000000000000000000000001',
  authToken: 'sms-secret-token',
};

export interface ChannelPeers {
  sms: SmsProvider;
  push: PushService;
}

/** A Nudge whose SMS and PUSH channels talk to real local peers (and EMAIL to the SMTP sink). */
export async function startNudgeWithPeers(
  env: Record<string, string> = {},
  start: HarnessOptions['start'] = {},
): Promise<{ t: TestNudge; peers: ChannelPeers }> {
  const sms = await startSmsProvider(SMS_ACCOUNT);
  const push = await startPushService();
  const vapid = webpush.generateVAPIDKeys();
  const t = await startTestNudge({
    env: {
      NUDGE_PUBLIC_URL: PUBLIC_URL,
      NUDGE_SMS_API_URL: sms.url,
      TWILIO_ACCOUNT_SID: SMS_ACCOUNT.accountSid,
      TWILIO_AUTH_TOKEN: SMS_ACCOUNT.authToken,
      NUDGE_SMS_FROM: '+15550000000',
      VAPID_PUBLIC_KEY: vapid.publicKey,
      VAPID_PRIVATE_KEY: vapid.privateKey,
      VAPID_SUBJECT: 'mailto:ops@nudge.test',
      NUDGE_PROVIDER_TIMEOUT_MS: '500',
      ...env,
    },
    start,
  });
  return { t, peers: { sms, push } };
}

export async function stopPeers(peers: ChannelPeers): Promise<void> {
  await peers.sms.close();
  await peers.push.close();
}

/** A tracking URL from an email, pointed at the running app instead of the public name. */
export function local(t: TestNudge, url: string): string {
  return url.replace(PUBLIC_URL, new URL(t.nudge.url).origin);
}

export async function setTenantSettings(
  t: TestNudge,
  secret: string,
  input: Record<string, unknown>,
): Promise<void> {
  await t.ok(
    secret,
    `mutation($i: UpdateTenantSettingsInput!) { updateTenantSettings(input: $i) { id } }`,
    { i: input },
  );
}

export async function consent(
  t: TestNudge,
  secret: string,
  action: 'grantConsent' | 'revokeConsent',
  input: { customerExternalId: string; channel: string; purpose: string; occurredAt?: string },
): Promise<void> {
  await t.ok(secret, `mutation($i: ConsentInput!) { ${action}(input: $i) { channel } }`, {
    i: { source: 'test', ...input },
  });
}

export async function registerPush(
  t: TestNudge,
  secret: string,
  customerExternalId: string,
  subscription: { endpoint: string; keys: { p256dh: string; auth: string } },
): Promise<void> {
  await t.ok(
    secret,
    `mutation($i: RegisterPushSubscriptionInput!) { registerPushSubscription(input: $i) { id } }`,
    { i: { customerExternalId, ...subscription } },
  );
}

export interface FullMessage {
  id: string;
  stepIndex: number;
  channel: string;
  purpose: string;
  status: string;
  suppressionReason: string | null;
  failure: string | null;
  to: string | null;
  subject: string | null;
  body: string | null;
  html: string | null;
  variant: string | null;
  attempts: number;
  scheduledFor: string;
  sentAt: string | null;
  openedAt: string | null;
  enrollmentId: string;
}

/** The customer's messages, oldest first, with delivery and engagement fields. */
export async function messagesOf(
  t: TestNudge,
  secret: string,
  customerExternalId: string,
): Promise<FullMessage[]> {
  const data = await t.ok<any>(
    secret,
    `query($c: String) { messages(customerExternalId: $c, first: 100) { edges { node {
       id stepIndex channel purpose status suppressionReason failure to subject body html variant
       attempts scheduledFor sentAt openedAt enrollmentId } } } }`,
    { c: customerExternalId },
  );
  return data.messages.edges.map((e: { node: FullMessage }) => e.node);
}

/** Moves the manual clock forward by an ISO duration. */
export async function advance(t: TestNudge, by: string): Promise<number> {
  const data = await t.ok<any>(
    OPERATOR_TOKEN,
    `mutation($by: Duration!) { advanceClock(by: $by) { timersFired } }`,
    { by },
  );
  return data.advanceClock.timersFired;
}
