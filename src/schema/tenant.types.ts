import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { ApiScope } from './enums';

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
export class UpdateTenantSettingsInput {
  @Field(() => String, { nullable: true })
  timezone?: string | null;

  @Field(() => String, { nullable: true })
  webhookUrl?: string | null;
}
