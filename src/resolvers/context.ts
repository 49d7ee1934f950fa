import type { Logger } from '../logger';
import type { Services } from '../services';
import type { TenantContext } from '../tenancy/tenant-context';
import { UnauthenticatedError } from '../errors';

/** Who sent a request: the operator, a tenant key, or nobody. */
export type Principal = { kind: 'operator' } | { kind: 'tenant'; tenant: TenantContext } | null;

/** The per-request GraphQL context. */
export interface RequestContext {
  requestId: string;
  log: Logger;
  principal: Principal;
  services: Services;
}

/** The tenant context of an authenticated tenant request (auth is checked before). */
export function tenantOf(ctx: RequestContext): TenantContext {
  if (ctx.principal?.kind !== 'tenant')
    throw new UnauthenticatedError('this operation needs a tenant API key');
  return ctx.principal.tenant;
}
