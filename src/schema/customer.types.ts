import { Authorized, Field, ID, InputType, ObjectType, Int } from 'type-graphql';
import { JSONScalar } from './scalars';
import { Connection } from './connection';
import { Channel, MessageStatus, Purpose } from './enums';

@ObjectType()
export class Event {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field(() => JSONScalar)
  properties: Record<string, unknown>;

  @Field()
  occurredAt: Date;

  @Field()
  receivedAt: Date;

  @Field(() => String, { nullable: true })
  messageId: string | null;
}

export const EventConnection = Connection(Event, 'Event');

@ObjectType({
  description:
    'A customer of the tenant, known by the tenant’s own id and/or anonymous ids. Personal ' +
    'fields need scope READ (an INGEST key sees only id and externalId).',
})
export class Customer {
  @Field(() => ID)
  id: string;

  @Field(() => String, {
    nullable: true,
    description: 'Null while the customer is known only by anonymous ids.',
  })
  externalId: string | null;

  @Authorized('READ')
  @Field(() => String, { nullable: true })
  email: string | null;

  @Authorized('READ')
  @Field(() => String, { nullable: true })
  phone: string | null;

  @Authorized('READ')
  @Field(() => String, { nullable: true })
  timezone: string | null;

  @Authorized('READ')
  @Field(() => String, { nullable: true })
  locale: string | null;

  @Authorized('READ')
  @Field(() => JSONScalar)
  traits: Record<string, unknown>;

  @Field()
  createdAt: Date;

  @Field()
  updatedAt: Date;
}

@ObjectType({ description: 'One message of one enrollment step.' })
export class Message {
  @Field(() => ID)
  id: string;

  @Field(() => Channel)
  channel: Channel;

  @Field(() => MessageStatus)
  status: MessageStatus;

  @Field(() => String, {
    nullable: true,
    description:
      'Why it was not sent: NO_CONSENT, FREQUENCY_CAP, GOAL_REACHED, INVALID_ADDRESS, ' +
      'TEMPLATE_VARIABLE_MISSING: <variable>.',
  })
  suppressionReason: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      'For FAILED and DEAD_LETTER: what went wrong (PERMANENT, OUTCOME_UNKNOWN, ' +
      'RETRIES_EXHAUSTED, RENDER_ERROR); for QUEUED after a failure: TRANSIENT.',
  })
  failure: string | null;

  @Field(() => String, { nullable: true })
  to: string | null;

  @Field(() => String, { nullable: true })
  subject: string | null;

  @Field(() => String, { nullable: true })
  body: string | null;

  @Field(() => String, { nullable: true })
  html: string | null;

  @Field(() => Int)
  stepIndex: number;

  @Field(() => Purpose)
  purpose: Purpose;

  @Field(() => String, { nullable: true, description: 'The step variant this run got.' })
  variant: string | null;

  @Field(() => Int, { description: 'Delivery attempts so far.' })
  attempts: number;

  @Field(() => Date, { nullable: true, description: 'When QUEUED after a failure: next try.' })
  nextAttemptAt: Date | null;

  @Field(() => Date, { nullable: true, description: 'Delivery confirmed by the provider.' })
  deliveredAt: Date | null;

  @Field(() => Date, {
    nullable: true,
    description: 'First open by a person (machine opens are not counted).',
  })
  openedAt: Date | null;

  @Field(() => Date, { nullable: true, description: 'First click by a person.' })
  clickedAt: Date | null;

  @Field(() => ID)
  enrollmentId: string;

  @Field()
  scheduledFor: Date;

  @Field(() => Date, { nullable: true })
  sentAt: Date | null;

  // Resolved by MessageResolver field resolvers.
  triggerId: string;
  customerId: string;
}

export const MessageConnection = Connection(Message, 'Message');

@ObjectType()
export class TrackResult {
  @Field(() => ID)
  eventId: string;

  @Field({ description: 'True when this messageId was already stored; eventId is the original.' })
  duplicate: boolean;
}

@ObjectType()
export class TrackRejection {
  @Field(() => Int)
  index: number;

  @Field()
  code: string;

  @Field()
  message: string;

  @Field(() => String, { nullable: true })
  field: string | null;
}

@ObjectType()
export class TrackBatchResult {
  @Field(() => Int)
  accepted: number;

  @Field(() => Int)
  duplicates: number;

  @Field(() => [TrackRejection])
  rejected: TrackRejection[];

  @Field(() => [ID], {
    nullable: 'items',
    description: 'Per input position: the stored (or original) event id, null if rejected.',
  })
  eventIds: Array<string | null>;
}

@InputType()
export class IdentifyInput {
  @Field()
  externalId: string;

  @Field(() => String, {
    nullable: true,
    description: 'Links this anonymous id, and the history recorded under it, to the customer.',
  })
  anonymousId?: string | null;

  @Field(() => String, { nullable: true })
  email?: string | null;

  @Field(() => String, { nullable: true })
  phone?: string | null;

  @Field(() => String, { nullable: true })
  timezone?: string | null;

  @Field(() => String, { nullable: true })
  locale?: string | null;

  @Field(() => JSONScalar, { nullable: true })
  traits?: unknown;
}

@InputType()
export class TrackInput {
  @Field(() => String, {
    nullable: true,
    description: 'The tenant’s customer id. Required unless anonymousId is given.',
  })
  customerExternalId?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'A device or session id for a customer not yet identified (see identify).',
  })
  anonymousId?: string | null;

  @Field()
  event: string;

  @Field(() => JSONScalar, { nullable: true })
  properties?: unknown;

  @Field(() => Date, { nullable: true, description: 'Default: now on the service clock.' })
  occurredAt?: Date | null;

  @Field(() => String, { nullable: true, description: 'Idempotency key, unique per tenant.' })
  messageId?: string | null;
}
