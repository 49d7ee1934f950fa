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
  ARCHIVED = 'ARCHIVED',
}

export enum ReentryPolicy {
  EVERY_TIME = 'EVERY_TIME',
  ONCE = 'ONCE',
  ONCE_PER = 'ONCE_PER',
}

export enum Weekday {
  MON = 'MON',
  TUE = 'TUE',
  WED = 'WED',
  THU = 'THU',
  FRI = 'FRI',
  SAT = 'SAT',
  SUN = 'SUN',
}

export enum DecisionOutcome {
  ENTERED = 'ENTERED',
  RESET = 'RESET',
  HELD = 'HELD',
  NOT_MATCHED = 'NOT_MATCHED',
  BLOCKED = 'BLOCKED',
  CANCELLED = 'CANCELLED',
  FIRED = 'FIRED',
  DEFERRED = 'DEFERRED',
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
registerEnumType(TriggerStatus, {
  name: 'TriggerStatus',
  description:
    'ACTIVE reacts to events; DRAFT and PAUSED do not (runs in progress go on); ARCHIVED is ' +
    'final: no entries, no edits, runs in progress finish.',
});
registerEnumType(ReentryPolicy, {
  name: 'ReentryPolicy',
  description: 'EVERY_TIME (default); ONCE: one entry ever; ONCE_PER: one entry per period.',
});
registerEnumType(Weekday, { name: 'Weekday' });
registerEnumType(DecisionOutcome, { name: 'DecisionOutcome' });
registerEnumType(MessageStatus, { name: 'MessageStatus' });
