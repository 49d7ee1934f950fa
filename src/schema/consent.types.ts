import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { Channel, Purpose } from './enums';

@ObjectType({
  description:
    'One grant or revocation. The current state per channel and purpose is the record that ' +
    'occurred last; without one, TRANSACTIONAL is allowed, and MARKETING unless the channel ' +
    'is one of the tenant’s explicitConsentChannels.',
})
export class ConsentRecord {
  @Field(() => Channel)
  channel: Channel;

  @Field(() => Purpose)
  purpose: Purpose;

  @Field({ description: 'True for a grant, false for a revocation.' })
  granted: boolean;

  @Field({ description: 'Where the customer said so, as the tenant reported it.' })
  source: string;

  @Field({ description: 'When the customer said so; decides which record is current.' })
  occurredAt: Date;

  @Field({ description: 'When Nudge recorded it.' })
  recordedAt: Date;
}

@InputType()
export class ConsentInput {
  @Field(() => String, {
    nullable: true,
    description: 'The tenant’s customer id; give this or anonymousId. Never creates a customer.',
  })
  customerExternalId?: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'An anonymous id already seen in track (before the customer is identified).',
  })
  anonymousId?: string | null;

  @Field(() => Channel)
  channel: Channel;

  @Field(() => Purpose)
  purpose: Purpose;

  @Field({ description: '1 to 100 characters, e.g. "checkout checkbox" or "preference center".' })
  source: string;

  @Field(() => Date, {
    nullable: true,
    description: 'When the customer said so. Default: now on the service clock.',
  })
  occurredAt?: Date | null;
}

@ObjectType({ description: 'A browser’s Web Push subscription. Its keys are never returned.' })
export class PushSubscription {
  @Field(() => ID)
  id: string;

  @Field()
  endpoint: string;

  @Field({ description: 'When it was (last) registered; PUSH steps use the newest live one.' })
  createdAt: Date;

  @Field(() => Date, {
    nullable: true,
    description: 'When it stopped receiving: unregistered, or gone at the push service.',
  })
  prunedAt: Date | null;
}

@InputType()
export class PushSubscriptionKeysInput {
  @Field({ description: 'base64url of the 65-byte P-256 public key.' })
  p256dh: string;

  @Field({ description: 'base64url of the 16-byte auth secret.' })
  auth: string;
}

@InputType({ description: 'The customer, and what the browser’s PushSubscription.toJSON() gives.' })
export class RegisterPushSubscriptionInput {
  @Field(() => String, { nullable: true, description: 'Give this or anonymousId.' })
  customerExternalId?: string | null;

  @Field(() => String, { nullable: true })
  anonymousId?: string | null;

  @Field({ description: 'The push service URL (http or https, at most 2,048 characters).' })
  endpoint: string;

  @Field(() => PushSubscriptionKeysInput)
  keys: PushSubscriptionKeysInput;
}
