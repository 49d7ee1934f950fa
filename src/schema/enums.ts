import { registerEnumType } from 'type-graphql';

/** GraphQL enums. Values equal the engine's string literals, so no mapping is needed. */
export enum ApiScope {
  INGEST = 'INGEST',
  READ = 'READ',
  WRITE = 'WRITE',
  BILLING = 'BILLING',
  ADMIN = 'ADMIN',
}

export enum Channel {
  EMAIL = 'EMAIL',
  SMS = 'SMS',
  PUSH = 'PUSH',
  WEBHOOK = 'WEBHOOK',
}

export enum TriggerStatus {
  ACTIVE = 'ACTIVE',
  DRAFT = 'DRAFT',
  PAUSED = 'PAUSED',
}

export enum MessageStatus {
  QUEUED = 'QUEUED',
  SENT = 'SENT',
  DELIVERED = 'DELIVERED',
  OPENED = 'OPENED',
  CLICKED = 'CLICKED',
  FAILED = 'FAILED',
  SUPPRESSED = 'SUPPRESSED',
}

registerEnumType(ApiScope, {
  name: 'ApiScope',
  description: 'INGEST: identify/track only. READ, WRITE, BILLING as named. ADMIN: everything.',
});
registerEnumType(Channel, { name: 'Channel' });
registerEnumType(TriggerStatus, { name: 'TriggerStatus' });
registerEnumType(MessageStatus, { name: 'MessageStatus' });
