import { NotFoundError } from '../../errors';
import { Tx, rows } from '../../platform/database';
import { FrequencyCap, parseFrequencyCaps } from '../caps/frequency-cap';
import { QuietHours, parseQuietHours } from '../time/quiet-hours';
import { CHANNELS, type Channel } from '../triggers/trigger-definition';

/** A tenant's rules for any send, read once per step from its settings row. */
export interface SendPolicy {
  /** IANA zone used when the customer has none. */
  timezone: string;
  /** The tenant's quiet hours; null: none. A trigger may replace them with its own. */
  quietHours: QuietHours | null;
  /** Marketing caps; empty: none. `max: 0` blocks every marketing send on its scope. */
  frequencyCaps: FrequencyCap[];
  /** Channels on which marketing needs a recorded grant (SMS by default). */
  explicitConsentChannels: Channel[];
  /** Where WEBHOOK steps are POSTed; null: not configured. */
  webhookUrl: string | null;
  /** Secret that signs tracking and unsubscribe links. Never shown to clients. */
  linkSecret: string;
}

interface PolicyRow {
  timezone: string;
  quiet_hours: { from: string; to: string } | null;
  frequency_caps: unknown[];
  explicit_consent_channels: string[];
  webhook_url: string | null;
  link_secret: string;
}

/**
 * Reads the tenant's send policy in the caller's tenant transaction. Stored settings were
 * validated when saved and are parsed again here, so the engine always sees the current shape.
 * Takes no lock. Throws NOT_FOUND when the tenant does not exist.
 */
export async function loadSendPolicy(tx: Tx, tenantId: string): Promise<SendPolicy> {
  const [row] = await rows<PolicyRow>(
    tx,
    `SELECT timezone, quiet_hours, frequency_caps, explicit_consent_channels, webhook_url,
       link_secret
     FROM tenants WHERE id = $1`,
    [tenantId],
  );
  if (!row) throw new NotFoundError('tenant');
  return {
    timezone: row.timezone,
    quietHours: row.quiet_hours && parseQuietHours(row.quiet_hours),
    frequencyCaps: parseFrequencyCaps(row.frequency_caps),
    explicitConsentChannels: CHANNELS.filter((c) => row.explicit_consent_channels.includes(c)),
    webhookUrl: row.webhook_url,
    linkSecret: row.link_secret,
  };
}
