import { InputProblem } from '../../errors';
import { parseDuration } from './duration';

/** How a step picks its send time after its delay. */
export const SEND_TIME_MODES = ['BEST_HOUR'] as const;
export type SendTimeMode = (typeof SEND_TIME_MODES)[number];

/** The untrusted input: `{ mode: BEST_HOUR, within: "PT24H" }`. */
export interface SendTimeInput {
  mode: string;
  within?: string | null;
}

/**
 * A validated send-time option. BEST_HOUR: when the step comes due, wait for the next start
 * of the customer's best local hour, at most `within` after the due time.
 */
export interface SendTime {
  mode: SendTimeMode;
  within: string;
  withinMs: number;
}

export const DEFAULT_SEND_TIME_WITHIN = 'PT24H';
const MIN_WITHIN_MS = 3_600_000;
const MAX_WITHIN_MS = 7 * 24 * 3_600_000;

/**
 * Validates a step's `sendTime`. `within` defaults to PT24H and lies between PT1H and P7D.
 * Throws `InputProblem` at `mode` or `within`.
 */
export function parseSendTime(input: SendTimeInput): SendTime {
  if (!(SEND_TIME_MODES as readonly string[]).includes(input.mode)) {
    throw new InputProblem('mode', `expected one of ${SEND_TIME_MODES.join(', ')}`);
  }
  const text = input.within ?? DEFAULT_SEND_TIME_WITHIN;
  let parsed;
  try {
    if (typeof text !== 'string') throw new Error('expected an ISO 8601 duration such as PT24H');
    parsed = parseDuration(text);
  } catch (err) {
    throw new InputProblem('within', (err as Error).message);
  }
  if (parsed.ms < MIN_WITHIN_MS || parsed.ms > MAX_WITHIN_MS) {
    throw new InputProblem('within', 'expected a duration from PT1H to P7D');
  }
  return { mode: input.mode as SendTimeMode, within: parsed.iso, withinMs: parsed.ms };
}
