import type { Logger } from '../logger';
import type { ApiScope } from './scopes';

/**
 * Who is acting, for which tenant. Every engine and tenancy service method that touches
 * tenant data takes it first; the tenant always comes from the credential, never from input.
 */
export interface TenantContext {
  tenantId: string;
  scopes: readonly ApiScope[];
  /** The API key that authenticated the request; null for jobs (timers, replays). */
  apiKeyId: string | null;
  requestId: string | null;
  log: Logger;
}

/** A context for background work on a tenant's behalf (timers, system jobs). */
export function jobContext(tenantId: string, log: Logger): TenantContext {
  return { tenantId, scopes: ['ADMIN'], apiKeyId: null, requestId: null, log };
}
