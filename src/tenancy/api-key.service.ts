import { findUnstorableText, isUuid } from '../validation';
import { BadInputError, ConflictError, NotFoundError } from '../errors';
import { Database, Tx, rows } from '../platform/database';
import type { Bus } from '../platform/bus';

/** Announced when a key is revoked, so every instance closes its open subscriptions. */
export const API_KEY_REVOKED = 'api-key-revoked';
import { API_SCOPES, ApiScope } from './scopes';
import { hashSecret, newApiKeySecret, prefixOf, safeEqual } from './secrets';
import type { TenantContext } from './tenant-context';

export interface ApiKeyView {
  id: string;
  name: string;
  prefix: string;
  scopes: ApiScope[];
  createdAt: Date;
  revokedAt: Date | null;
}

export interface AuthenticatedKey {
  tenantId: string;
  apiKeyId: string;
  scopes: ApiScope[];
}

interface ApiKeyRow {
  id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  scopes: ApiScope[];
  created_at: Date;
  revoked_at: Date | null;
}

/** How long a looked-up key is trusted without asking PostgreSQL again (a backstop: see below). */
const KEY_CACHE_TTL_MS = 5_000;
const MAX_CACHED_KEYS = 10_000;

interface CachedKey {
  row: Pick<ApiKeyRow, 'id' | 'tenant_id' | 'key_hash' | 'scopes'>;
  expiresAtMs: number;
}

const toView = (r: ApiKeyRow): ApiKeyView => ({
  id: r.id,
  name: r.name,
  prefix: r.prefix,
  scopes: r.scopes,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

/**
 * API keys: secrets shown once, stored as HMAC-SHA-256 with the server pepper, revocable.
 *
 * Authentication keeps active keys in memory by prefix for a few seconds, so a busy client
 * does not cost a PostgreSQL round trip per request; the presented secret is still compared
 * with the stored hash every time. A revocation drops the key here before `revoke` returns,
 * and on every other instance when the bus delivers API_KEY_REVOKED (`forget`); the short
 * lifetime only bounds a lost bus message.
 */
export class ApiKeyService {
  private readonly cache = new Map<string, CachedKey>();
  /** Bumped by `forget`: a lookup that was under way when a key was revoked is not cached. */
  private revocations = 0;

  constructor(
    private readonly db: Database,
    private readonly pepper: string,
    private readonly bus: Bus,
  ) {}

  /** Creates a key for the context's tenant. Throws BAD_USER_INPUT for bad names or scopes. */
  async create(
    ctx: TenantContext,
    input: { name: string; scopes: ApiScope[] },
  ): Promise<{ apiKey: ApiKeyView; secret: string }> {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 200 || findUnstorableText(name)) {
      throw new BadInputError('input.name', 'expected 1 to 200 characters');
    }
    if (input.scopes.length === 0) {
      throw new BadInputError('input.scopes', `expected at least one of ${API_SCOPES.join(', ')}`);
    }
    const scopes = [...new Set(input.scopes)];
    return this.db.withTenant(ctx.tenantId, (tx) => this.insert(tx, ctx.tenantId, name, scopes));
  }

  /** Inserts a key inside the caller's transaction (also used when a tenant is created). */
  async insert(
    tx: Tx,
    tenantId: string,
    name: string,
    scopes: ApiScope[],
  ): Promise<{ apiKey: ApiKeyView; secret: string }> {
    const { prefix, secret } = newApiKeySecret();
    const [row] = (await rows(
      tx,
      `INSERT INTO api_keys (tenant_id, name, prefix, key_hash, scopes)
       VALUES ($1, $2, $3, $4, $5) RETURNING *`,
      [tenantId, name, prefix, hashSecret(this.pepper, secret), scopes],
    )) as ApiKeyRow[];
    return { apiKey: toView(row), secret };
  }

  /**
   * Revokes a key of the context's tenant at once, including its open subscriptions on every
   * instance. Another tenant's key is NOT_FOUND. Idempotent. The tenant's last active ADMIN
   * key cannot be revoked (CONFLICT): nobody could create keys any more.
   */
  async revoke(ctx: TenantContext, id: string): Promise<ApiKeyView> {
    if (!isUuid(id)) throw new NotFoundError('api key', 'id');
    const row = await this.db.withTenant(ctx.tenantId, async (tx) => {
      const active = await rows<ApiKeyRow>(
        tx,
        `SELECT * FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL FOR UPDATE`,
        [ctx.tenantId],
      );
      const target = active.find((k) => k.id === id);
      const otherAdmins = active.filter((k) => k.id !== id && k.scopes.includes('ADMIN'));
      if (target?.scopes.includes('ADMIN') && otherAdmins.length === 0) {
        throw new ConflictError(
          'this is the last active ADMIN key; create another ADMIN key first',
          {
            field: 'id',
            reason: 'LAST_ADMIN_KEY',
          },
        );
      }
      const [revoked] = await rows<ApiKeyRow>(
        tx,
        `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now())
         WHERE tenant_id = $1 AND id = $2 RETURNING *`,
        [ctx.tenantId, id],
      );
      return revoked;
    });
    if (!row) throw new NotFoundError('api key', 'id');
    this.forget(row.id);
    await this.bus.publish(API_KEY_REVOKED, { apiKeyId: row.id });
    return toView(row);
  }

  async list(ctx: TenantContext): Promise<ApiKeyView[]> {
    const found = await this.db.withTenant(ctx.tenantId, (tx) =>
      rows<ApiKeyRow>(tx, 'SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at', [
        ctx.tenantId,
      ]),
    );
    return found.map(toView);
  }

  /**
   * Resolves a presented secret to its tenant and scopes, or null when it is unknown,
   * malformed or revoked. The lookup is by the non-secret prefix; the hash comparison is
   * constant-time.
   */
  async authenticate(secret: string): Promise<AuthenticatedKey | null> {
    const prefix = prefixOf(secret);
    if (!prefix) return null;
    const nowMs = Date.now();
    let row = this.cache.get(prefix);
    if (!row || row.expiresAtMs <= nowMs) {
      const revocations = this.revocations;
      const [found] = (await this.db.dataSource.query(
        `SELECT id, tenant_id, key_hash, scopes FROM api_keys
         WHERE prefix = $1 AND revoked_at IS NULL`,
        [prefix],
      )) as ApiKeyRow[];
      if (!found) {
        this.cache.delete(prefix);
        return null;
      }
      row = { row: found, expiresAtMs: nowMs + KEY_CACHE_TTL_MS };
      if (revocations === this.revocations) {
        if (this.cache.size >= MAX_CACHED_KEYS) this.cache.clear();
        this.cache.set(prefix, row);
      }
    }
    const key = row.row;
    if (!safeEqual(key.key_hash, hashSecret(this.pepper, secret))) return null;
    return { tenantId: key.tenant_id, apiKeyId: key.id, scopes: key.scopes };
  }

  /** Drops a revoked key from this instance's cache (called on API_KEY_REVOKED). */
  forget(apiKeyId: string): void {
    this.revocations++;
    for (const [prefix, cached] of this.cache) {
      if (cached.row.id === apiKeyId) this.cache.delete(prefix);
    }
  }
}
