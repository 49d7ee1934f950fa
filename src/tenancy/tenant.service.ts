import { findUnstorableText } from '../validation';
import { BadInputError, checkedAt, NotFoundError } from '../errors';
import type { OutboundGuard } from '../engine/channels/outbound-guard';
import { checkWebhookUrl } from '../engine/channels/webhook-url';
import { Database, rows } from '../platform/database';
import { ApiKeyService, ApiKeyView } from './api-key.service';
import type { TenantContext } from './tenant-context';
import { checkTimezone } from './timezone';
import { randomBase62 } from './secrets';
import {
  TenantSettingsInput,
  TenantSettingsRow,
  TenantSettingsView,
  parseSettingsChange,
  toSettingsView,
} from './tenant-settings';

export interface TenantView extends TenantSettingsView {
  id: string;
  name: string;
  timezone: string;
  webhookUrl: string | null;
  createdAt: Date;
}

interface TenantRow extends TenantSettingsRow {
  id: string;
  name: string;
  timezone: string;
  webhook_url: string | null;
  created_at: Date;
}

const toView = (r: TenantRow): TenantView => ({
  id: r.id,
  name: r.name,
  timezone: r.timezone,
  webhookUrl: r.webhook_url,
  createdAt: r.created_at,
  ...toSettingsView(r),
});

/** Tenants: creation by the operator, settings by the tenant's admins. */
export class TenantService {
  constructor(
    private readonly db: Database,
    private readonly apiKeys: ApiKeyService,
    private readonly outbound: OutboundGuard,
  ) {}

  /**
   * Creates a tenant and its first key (scope ADMIN). The secret is returned once and
   * stored only as a keyed hash. Throws BAD_USER_INPUT for a blank name or unknown zone.
   */
  async create(input: {
    name: string;
    timezone?: string | null;
  }): Promise<{ tenant: TenantView; apiKey: ApiKeyView; secret: string }> {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 200 || findUnstorableText(name)) {
      throw new BadInputError('input.name', 'expected 1 to 200 characters');
    }
    const timezone = checkedAt('input', () => checkTimezone(input.timezone ?? 'UTC', 'timezone'));

    return this.db.asSystem(async (tx) => {
      const [row] = (await rows(
        tx,
        'INSERT INTO tenants (name, timezone) VALUES ($1, $2) RETURNING *',
        [name, timezone],
      )) as TenantRow[];
      const { apiKey, secret } = await this.apiKeys.insert(tx, row.id, 'default admin key', [
        'ADMIN',
      ]);
      return { tenant: toView(row), apiKey, secret };
    });
  }

  async get(ctx: TenantContext): Promise<TenantView> {
    const [row] = (await this.db.withTenant(ctx.tenantId, (tx) =>
      rows(tx, 'SELECT * FROM tenants WHERE id = $1', [ctx.tenantId]),
    )) as TenantRow[];
    if (!row) throw new NotFoundError('tenant');
    return toView(row);
  }

  /**
   * Updates the tenant's settings; a field left out stays as it is. `timezone`: the default
   * IANA zone (null: unchanged). `webhookUrl`: `""` clears it, null leaves it; setting one for
   * the first time creates the signing secret (read it with `rotateWebhookSecret`).
   * `quietHours`: `{ from, to }`, or null to clear. `frequencyCaps`: replaces the whole list
   * (`[]` removes every cap; see `parseFrequencyCaps`). `explicitConsentChannels`: replaces the
   * channels whose marketing needs a recorded grant. Throws BAD_USER_INPUT with the field's
   * path, e.g. `input.frequencyCaps.0.max`; `input.webhookUrl` also for an IP literal or
   * `localhost` that the outbound guard refuses (`NUDGE_OUTBOUND_PRIVATE=deny`).
   */
  async updateSettings(
    ctx: TenantContext,
    input: TenantSettingsInput & { webhookUrl?: string | null },
  ): Promise<TenantView> {
    const change = checkedAt('input', () => parseSettingsChange(input));
    const clearWebhook = input.webhookUrl === '';
    const webhookUrl =
      input.webhookUrl == null || clearWebhook
        ? null
        : checkWebhookUrl(input.webhookUrl, this.outbound, 'input.webhookUrl');
    const [row] = (await this.db.withTenant(ctx.tenantId, (tx) =>
      rows(
        tx,
        `UPDATE tenants SET timezone = COALESCE($2, timezone),
           webhook_url = CASE WHEN $5 THEN NULL ELSE COALESCE($3, webhook_url) END,
           webhook_secret = COALESCE(webhook_secret, $4),
           quiet_hours = CASE WHEN $6 THEN $7::jsonb ELSE quiet_hours END,
           frequency_caps = COALESCE($8::jsonb, frequency_caps),
           explicit_consent_channels = COALESCE($9::text[], explicit_consent_channels)
         WHERE id = $1 RETURNING *`,
        [
          ctx.tenantId,
          change.timezone,
          webhookUrl,
          newWebhookSecret(),
          clearWebhook,
          change.quietHours !== null,
          change.quietHours?.value ? JSON.stringify(change.quietHours.value) : null,
          change.frequencyCaps && JSON.stringify(change.frequencyCaps),
          change.explicitConsentChannels,
        ],
      ),
    )) as TenantRow[];
    if (!row) throw new NotFoundError('tenant');
    ctx.log.info(
      { settings: Object.keys(input).filter((k) => input[k as keyof typeof input] !== undefined) },
      'tenant settings updated',
    );
    return toView(row);
  }

  /** Replaces the webhook signing secret and returns it; the old one stops working at once. */
  async rotateWebhookSecret(ctx: TenantContext): Promise<string> {
    const secret = newWebhookSecret();
    await this.db.withTenant(ctx.tenantId, (tx) =>
      rows(tx, 'UPDATE tenants SET webhook_secret = $2 WHERE id = $1', [ctx.tenantId, secret]),
    );
    return secret;
  }
}

/** Standard Webhooks secret format: `whsec_` + base64 of 24 random bytes. */
function newWebhookSecret(): string {
  return `whsec_${Buffer.from(randomBase62(32)).toString('base64')}`;
}
