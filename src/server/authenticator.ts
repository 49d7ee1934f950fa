import type { ApiKeyService } from '../tenancy/api-key.service';
import { safeEqual } from '../tenancy/secrets';
import type { Logger } from '../logger';
import type { TenantContext } from '../tenancy/tenant-context';

export type Authenticated = { kind: 'operator' } | { kind: 'tenant'; tenant: TenantContext } | null;

/** Turns `Authorization: Bearer <secret>` into the operator or a tenant key (or nobody). */
export class Authenticator {
  constructor(
    private readonly operatorToken: string,
    private readonly apiKeys: ApiKeyService,
    private readonly log: Logger,
  ) {}

  async fromHeader(header: string | undefined): Promise<Authenticated> {
    if (!header) return null;
    const secret = header.replace(/^Bearer\s+/i, '').trim();
    if (secret.length === 0) return null;
    if (safeEqual(secret, this.operatorToken)) return { kind: 'operator' };
    const key = await this.apiKeys.authenticate(secret);
    if (!key) return null;
    return {
      kind: 'tenant',
      tenant: {
        tenantId: key.tenantId,
        scopes: key.scopes,
        apiKeyId: key.apiKeyId,
        requestId: null,
        log: this.log,
      },
    };
  }
}
