import { InputProblem } from '../../errors';
import { checkStorableText } from '../../validation';

/** A tenant's own customer id: 1 to 255 characters, not blank. */
export function checkExternalId(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > 255) {
    throw new InputProblem(path, 'expected 1 to 255 characters');
  }
  checkStorableText(value, path);
  return value;
}

/** A JSON object (not an array or scalar) of at most `maxBytes` when serialised. */
export function checkJsonObject(
  value: unknown,
  path: string,
  maxBytes: number,
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputProblem(path, 'expected a JSON object');
  }
  checkStorableText(value, path);
  const size = Buffer.byteLength(JSON.stringify(value));
  if (size > maxBytes) throw new InputProblem(path, `larger than ${maxBytes} bytes (${size})`);
  return value as Record<string, unknown>;
}

/** The earliest `occurredAt` accepted anywhere. */
export const EARLIEST_OCCURRED_AT_MS = Date.UTC(2000, 0, 1);

/**
 * Checks an explicit `occurredAt` (of an event, a consent): a valid time from 2000-01-01 on,
 * at most `maxFutureSkewMs` after `nowMs` on the service clock. Returns it in epoch ms, or
 * null when none was given (the caller defaults to `nowMs`). Throws `InputProblem` at `path`.
 */
export function checkOccurredAt(
  value: Date | null | undefined,
  nowMs: number,
  maxFutureSkewMs: number,
  path: string,
): number | null {
  if (value == null) return null;
  const explicitMs = value.getTime();
  if (Number.isNaN(explicitMs) || explicitMs < EARLIEST_OCCURRED_AT_MS) {
    throw new InputProblem(path, 'expected a time after 2000-01-01T00:00:00Z');
  }
  if (explicitMs > nowMs + maxFutureSkewMs) {
    throw new InputProblem(
      path,
      `lies more than ${Math.round(maxFutureSkewMs / 60_000)} minutes after the ` +
        `service clock (${new Date(nowMs).toISOString()})`,
    );
  }
  return explicitMs;
}
