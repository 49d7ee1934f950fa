import { InputProblem } from '../../errors';
import { parseDuration } from '../time/duration';
import { CHANNELS, type Channel } from '../triggers/trigger-definition';

/**
 * Frequency caps: "at most 3 marketing messages per customer within 7 days", on one channel
 * or on all channels together. Only marketing is ever capped: an order receipt or a password
 * reset must not be held back because a promotion went out the same day.
 */

/** A validated cap. */
export interface FrequencyCap {
  purpose: 'MARKETING';
  /** The channel counted and limited; null: all channels together. */
  channel: Channel | null;
  /**
   * Sends allowed within the window. 0 is accepted and means "blocks all marketing sends on
   * this scope" (all channels when `channel` is null) — an explicit choice, never a default.
   */
  max: number;
  /** The rolling window as written (ISO 8601, e.g. `P7D`). */
  within: string;
  withinMs: number;
}

/** The most caps a tenant may have. */
export const MAX_FREQUENCY_CAPS = 10;
/** The largest `max` accepted; more than this is no cap at all. */
export const MAX_CAP_SENDS = 10_000;

/**
 * Validates a tenant's list of caps. Each item is `{ purpose?, channel?, max, within }`:
 * `purpose` MARKETING (the default; TRANSACTIONAL is refused), `channel` one of EMAIL, SMS,
 * PUSH, WEBHOOK or null for all channels together, `max` an integer from 0 to 10,000, `within`
 * an ISO duration longer than zero and at most P366D. At most 10 caps, and no two for the same
 * purpose and channel. Pure. Throws `InputProblem` at `frequencyCaps`, `frequencyCaps.<i>` or
 * `frequencyCaps.<i>.<field>`.
 */
export function parseFrequencyCaps(input: unknown[]): FrequencyCap[] {
  if (!Array.isArray(input)) throw new InputProblem('frequencyCaps', 'expected a list of caps');
  if (input.length > MAX_FREQUENCY_CAPS) {
    throw new InputProblem(
      'frequencyCaps',
      `at most ${MAX_FREQUENCY_CAPS} caps (got ${input.length})`,
    );
  }
  const caps: FrequencyCap[] = [];
  input.forEach((item, i) => {
    const cap = parseCap(item, `frequencyCaps.${i}`);
    const same = caps.findIndex((c) => c.purpose === cap.purpose && c.channel === cap.channel);
    if (same >= 0) {
      const scope = cap.channel ?? 'all channels together';
      throw new InputProblem(
        `frequencyCaps.${i}.channel`,
        `frequencyCaps.${same} already caps ${cap.purpose} on ${scope}; keep one cap per ` +
          'purpose and channel',
      );
    }
    caps.push(cap);
  });
  return caps;
}

function parseCap(item: unknown, path: string): FrequencyCap {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    throw new InputProblem(path, 'expected { purpose, channel, max, within }');
  }
  const raw = item as Record<string, unknown>;

  const purpose = raw.purpose ?? 'MARKETING';
  if (purpose === 'TRANSACTIONAL') {
    throw new InputProblem(`${path}.purpose`, 'transactional messages are never capped');
  }
  if (purpose !== 'MARKETING') {
    throw new InputProblem(`${path}.purpose`, 'expected MARKETING');
  }

  const channel = raw.channel ?? null;
  if (channel !== null && !CHANNELS.includes(channel as Channel)) {
    throw new InputProblem(
      `${path}.channel`,
      `expected one of ${CHANNELS.join(', ')}, or null for all channels together`,
    );
  }

  const max = raw.max;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 0 || max > MAX_CAP_SENDS) {
    throw new InputProblem(
      `${path}.max`,
      `expected an integer from 0 to ${MAX_CAP_SENDS} (0 blocks every marketing send on this ` +
        'channel; to remove a cap, leave it out of the list)',
    );
  }

  if (typeof raw.within !== 'string') {
    throw new InputProblem(`${path}.within`, 'expected an ISO 8601 duration such as P7D');
  }
  let within: { iso: string; ms: number };
  try {
    within = parseDuration(raw.within);
  } catch (err) {
    throw new InputProblem(`${path}.within`, (err as Error).message);
  }
  if (within.ms <= 0) {
    throw new InputProblem(`${path}.within`, 'must be longer than zero, e.g. PT24H or P7D');
  }

  return {
    purpose: 'MARKETING',
    channel: channel as Channel | null,
    max,
    within: within.iso,
    withinMs: within.ms,
  };
}
