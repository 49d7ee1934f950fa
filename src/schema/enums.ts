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

export enum Purpose {
  MARKETING = 'MARKETING',
  TRANSACTIONAL = 'TRANSACTIONAL',
}

export enum StepAnchor {
  ENTRY = 'ENTRY',
  PREVIOUS_STEP = 'PREVIOUS_STEP',
}

export enum PreviousStepCondition {
  DELIVERED = 'DELIVERED',
  NOT_DELIVERED = 'NOT_DELIVERED',
  OPENED = 'OPENED',
  NOT_OPENED = 'NOT_OPENED',
  CLICKED = 'CLICKED',
  NOT_CLICKED = 'NOT_CLICKED',
}

export enum CapPolicy {
  SUPPRESS = 'SUPPRESS',
  DEFER = 'DEFER',
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
  SKIPPED = 'SKIPPED',
  SUPPRESSED = 'SUPPRESSED',
  CONVERTED = 'CONVERTED',
}

export enum MessageStatus {
  QUEUED = 'QUEUED',
  SENDING = 'SENDING',
  SENT = 'SENT',
  DELIVERED = 'DELIVERED',
  OPENED = 'OPENED',
  CLICKED = 'CLICKED',
  FAILED = 'FAILED',
  DEAD_LETTER = 'DEAD_LETTER',
  SUPPRESSED = 'SUPPRESSED',
}

registerEnumType(ApiScope, {
  name: 'ApiScope',
  description: 'INGEST: identify/track only. READ, WRITE, BILLING as named. ADMIN: everything.',
});
registerEnumType(Channel, { name: 'Channel' });
registerEnumType(Purpose, {
  name: 'Purpose',
  description:
    'MARKETING needs consent (or no revocation) and counts toward caps; TRANSACTIONAL ' +
    '(receipts, codes) is never capped and ignores quiet hours, but respects a revocation.',
});
registerEnumType(StepAnchor, {
  name: 'StepAnchor',
  description: 'What a step delay counts from: the sequence start or the previous step.',
});
registerEnumType(PreviousStepCondition, {
  name: 'PreviousStepCondition',
  description: 'How the previous step’s message must have fared. Machine opens do not count.',
});
registerEnumType(CapPolicy, {
  name: 'CapPolicy',
  description: 'SUPPRESS a capped step, or DEFER it to the first instant a slot frees.',
});
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
registerEnumType(MessageStatus, {
  name: 'MessageStatus',
  description:
    'QUEUED: recorded, waiting for (another) delivery attempt. SENDING: handed to the ' +
    'provider, answer pending. FAILED: permanent failure or an unknown outcome that cannot be ' +
    'retried safely. DEAD_LETTER: every retry failed. SUPPRESSED: not sent, see the reason.',
});
