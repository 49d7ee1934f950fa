import { InputProblem, nestedAt } from '../errors';
import { FrequencyCap, parseFrequencyCaps } from '../engine/caps/frequency-cap';
import { QuietHours, parseQuietHours } from '../engine/time/quiet-hours';
import { CHANNELS, type Channel } from '../engine/triggers/trigger-definition';
import { checkTimezone } from './timezone';

/**
 * The send settings of a tenant: default zone, quiet hours, frequency caps and the channels
 * whose marketing needs an explicit grant. Validation is pure and reports paths relative to
 * the settings input (`frequencyCaps.0.max`); the engine reads the stored result through
 * `loadSendPolicy`.
 */

/** The untrusted update. Absent (undefined) leaves a setting unchanged. */
export interface TenantSettingsInput {
  timezone?: string | null;
  /** null clears the quiet hours. */
  quietHours?: { from: string; to: string } | null;
  /** `[]` removes every cap; null leaves them unchanged. */
  frequencyCaps?: unknown[] | null;
  /** `[]`: no channel needs an explicit grant; null leaves them unchanged. */
  explicitConsentChannels?: string[] | null;
}

/** A validated update; null in any field means "leave unchanged". */
export interface SettingsChange {
  timezone: string | null;
  /** `{ value: null }` clears. */
  quietHours: { value: QuietHours | null } | null;
  frequencyCaps: FrequencyCap[] | null;
  explicitConsentChannels: Channel[] | null;
}

/** How a cap reads back: as saved, plus whether it blocks every send (`max: 0`). */
export interface FrequencyCapView {
  purpose: 'MARKETING';
  channel: Channel | null;
  max: number;
  within: string;
  isBlockingAll: boolean;
}

/** The settings columns as a tenant sees them. */
export interface TenantSettingsView {
  quietHours: { from: string; to: string } | null;
  frequencyCaps: FrequencyCapView[];
  explicitConsentChannels: Channel[];
}

/** The settings columns of a `tenants` row. */
export interface TenantSettingsRow {
  quiet_hours: QuietHours | null;
  frequency_caps: FrequencyCap[];
  explicit_consent_channels: Channel[];
}

/**
 * Validates an update of the send settings. Pure. Throws `InputProblem` at `timezone`,
 * `quietHours.from`/`.to`, `frequencyCaps…` or `explicitConsentChannels.<i>`.
 */
export function parseSettingsChange(input: TenantSettingsInput): SettingsChange {
  return {
    timezone: input.timezone == null ? null : checkTimezone(input.timezone, 'timezone'),
    quietHours:
      input.quietHours === undefined
        ? null
        : {
            value:
              input.quietHours === null
                ? null
                : nestedAt('quietHours', () => parseQuietHours(input.quietHours!)),
          },
    frequencyCaps: input.frequencyCaps == null ? null : parseFrequencyCaps(input.frequencyCaps),
    explicitConsentChannels:
      input.explicitConsentChannels == null
        ? null
        : parseChannels(input.explicitConsentChannels, 'explicitConsentChannels'),
  };
}

export function toSettingsView(row: TenantSettingsRow): TenantSettingsView {
  return {
    quietHours: row.quiet_hours && { from: row.quiet_hours.from, to: row.quiet_hours.to },
    frequencyCaps: row.frequency_caps.map((c) => ({
      purpose: c.purpose,
      channel: c.channel,
      max: c.max,
      within: c.within,
      isBlockingAll: c.max === 0,
    })),
    explicitConsentChannels: CHANNELS.filter((c) => row.explicit_consent_channels.includes(c)),
  };
}

/** Known channels, each once, in the order of `CHANNELS`. */
function parseChannels(input: unknown[], path: string): Channel[] {
  if (!Array.isArray(input)) throw new InputProblem(path, 'expected a list of channels');
  input.forEach((channel, i) => {
    if (!CHANNELS.includes(channel as Channel)) {
      throw new InputProblem(`${path}.${i}`, `expected one of ${CHANNELS.join(', ')}`);
    }
  });
  return CHANNELS.filter((c) => input.includes(c));
}
