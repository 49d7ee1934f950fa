import { Arg, Authorized, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import {
  ApiKey,
  CreateApiKeyInput,
  CreateApiKeyPayload,
  Tenant,
  UpdateTenantSettingsInput,
  WebhookSecretPayload,
} from '../schema/tenant.types';
import { tenantOf } from './context';
import type { RequestContext } from './context';

@Resolver()
export class TenantResolver {
  @Authorized('READ')
  @Query(() => Tenant, { description: 'The tenant of the calling key.' })
  tenant(@Ctx() ctx: RequestContext): Promise<Tenant> {
    return ctx.services.tenants.get(tenantOf(ctx)) as Promise<Tenant>;
  }

  @Authorized('ADMIN')
  @Query(() => [ApiKey])
  apiKeys(@Ctx() ctx: RequestContext): Promise<ApiKey[]> {
    return ctx.services.apiKeys.list(tenantOf(ctx)) as Promise<ApiKey[]>;
  }

  @Authorized('ADMIN')
  @Mutation(() => CreateApiKeyPayload, { description: 'The secret is shown once.' })
  createApiKey(
    @Arg('input') input: CreateApiKeyInput,
    @Ctx() ctx: RequestContext,
  ): Promise<CreateApiKeyPayload> {
    return ctx.services.apiKeys.create(tenantOf(ctx), input) as Promise<CreateApiKeyPayload>;
  }

  @Authorized('ADMIN')
  @Mutation(() => ApiKey)
  revokeApiKey(@Arg('id', () => ID) id: string, @Ctx() ctx: RequestContext): Promise<ApiKey> {
    return ctx.services.apiKeys.revoke(tenantOf(ctx), id) as Promise<ApiKey>;
  }

  @Authorized('ADMIN')
  @Mutation(() => Tenant, {
    description:
      'Default zone, webhook URL, quiet hours, frequency caps and explicit-consent channels. ' +
      'Fields left out stay unchanged.',
  })
  updateTenantSettings(
    @Arg('input') input: UpdateTenantSettingsInput,
    @Ctx() ctx: RequestContext,
  ): Promise<Tenant> {
    return ctx.services.tenants.updateSettings(tenantOf(ctx), input) as Promise<Tenant>;
  }

  @Authorized('ADMIN')
  @Mutation(() => WebhookSecretPayload, {
    description: 'New signing secret for WEBHOOK steps; shown once.',
  })
  async rotateWebhookSecret(@Ctx() ctx: RequestContext): Promise<WebhookSecretPayload> {
    return { secret: await ctx.services.tenants.rotateWebhookSecret(tenantOf(ctx)) };
  }
}
