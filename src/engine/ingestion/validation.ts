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
