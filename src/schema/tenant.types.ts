import { Field, ID, InputType, Int, ObjectType } from 'type-graphql';
import { ApiScope, Channel, Purpose } from './enums';
import { DurationScalar } from './scalars';
import { QuietHours, QuietHoursInput } from './trigger.types';

@ObjectType({
  description:
    'At most `max` marketing messages per customer within a rolling `within` window, on one ' +
    'channel or on all channels together. Transactional messages are never capped.',
})
export class FrequencyCap {
  @Field(() => Purpose)
  purpose: Purpose;

  @Field(() => Channel, { nullable: true, description: 'Null: all channels counted together.' })
  channel: Channel | null;

  @Field(() => Int, { description: '0 blocks every marketing send on this scope.' })
  max: number;

  @Field(() => DurationScalar)
  within: string;

  @Field({ description: 'True when max is 0: this cap blocks every marketing send it covers.' })
  isBlockingAll: boolean;
}

@ObjectType({ description: 'A shop or app whose customers Nudge messages.' })
export class Tenant {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field({ description: 'IANA time zone used when a customer has none.' })
  timezone: string;

  @Field(() => String, { nullable: true, description: 'Where WEBHOOK steps are POSTed.' })
  webhookUrl: string | null;

  @Field(() => QuietHours, {
    nullable: true,
    description: 'Marketing due in these local hours (customer’s zone) waits until they end.',
  })
  quietHours: QuietHours | null;

  @Field(() => [FrequencyCap])
  frequencyCaps: FrequencyCap[];

  @Field(() => [Channel], {
    description: 'Channels on which marketing needs a recorded grant (default: SMS).',
  })
  explicitConsentChannels: Channel[];

  @Field()
  createdAt: Date;
}

@ObjectType({ description: 'An API key. Its secret is shown once, at creation.' })
export class ApiKey {
  @Field(() => ID)
  id: string;

  @Field()
  name: string;

  @Field({ description: 'Non-secret start of the key, to recognise it.' })
  prefix: string;

  @Field(() => [ApiScope])
  scopes: ApiScope[];

  @Field()
  createdAt: Date;

  @Field(() => Date, { nullable: true })
  revokedAt: Date | null;
}

@ObjectType()
export class CreateTenantPayload {
  @Field(() => Tenant)
  tenant: Tenant;

  @Field(() => ApiKey)
  apiKey: ApiKey;

  @Field({ description: 'The admin key secret. Shown only here; store it safely.' })
  secret: string;
}

@ObjectType()
export class CreateApiKeyPayload {
  @Field(() => ApiKey)
  apiKey: ApiKey;

  @Field({ description: 'Shown only here; store it safely.' })
  secret: string;
}

@ObjectType()
export class WebhookSecretPayload {
  @Field({ description: 'Standard Webhooks signing secret (whsec_…). Shown only here.' })
  secret: string;
}

@InputType()
export class CreateTenantInput {
  @Field()
  name: string;

  @Field(() => String, { nullable: true })
  timezone?: string | null;
}

@InputType()
export class CreateApiKeyInput {
  @Field()
  name: string;

  @Field(() => [ApiScope])
  scopes: ApiScope[];
}

@InputType()
export class FrequencyCapInput {
  @Field(() => Purpose, {
    nullable: true,
    description: 'Default MARKETING; TRANSACTIONAL is refused (never capped).',
  })
  purpose?: Purpose | null;

  @Field(() => Channel, { nullable: true, description: 'Omit for all channels together.' })
  channel?: Channel | null;

  @Field(() => Int, { description: '0 to 10000; 0 blocks every marketing send on this scope.' })
  max: number;

  @Field(() => DurationScalar, { description: 'Rolling window, longer than zero, at most P366D.' })
  within: string;
}

@InputType({ description: 'Fields left out stay as they are.' })
export class UpdateTenantSettingsInput {
  @Field(() => String, { nullable: true })
  timezone?: string | null;

  @Field(() => String, { nullable: true, description: '"" clears it.' })
  webhookUrl?: string | null;

  @Field(() => QuietHoursInput, { nullable: true, description: 'null clears them.' })
  quietHours?: QuietHoursInput | null;

  @Field(() => [FrequencyCapInput], {
    nullable: true,
    description: 'Replaces every cap (at most 10, one per purpose and channel); [] removes all.',
  })
  frequencyCaps?: FrequencyCapInput[] | null;

  @Field(() => [Channel], {
    nullable: true,
    description: 'Replaces the channels whose marketing needs a recorded grant.',
  })
  explicitConsentChannels?: Channel[] | null;
}
