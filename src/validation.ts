import { InputProblem } from './errors';

/**
 * Finds the first string inside `value` (deeply, keys included) that PostgreSQL cannot store:
 * text with a U+0000 character. Returns its path relative to `value` ('' for the value
 * itself), or null when there is none.
 */
export function findUnstorableText(value: unknown, path = ''): string | null {
  const at = (key: string | number) => (path ? `${path}.${key}` : String(key));
  if (typeof value === 'string') return value.includes('\u0000') ? path : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableText(value[i], at(i));
      if (found !== null) return found;
    }
    return null;
  }
  if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) {
      if (key.includes('\u0000')) return at(key);
      const found = findUnstorableText(child, at(key));
      if (found !== null) return found;
    }
  }
  return null;
}

/** Throws `InputProblem` at the offending path when `value` holds a U+0000 character. */
export function checkStorableText(value: unknown, path: string): void {
  const found = findUnstorableText(value);
  if (found === null) return;
  throw new InputProblem(
    [path, found].filter(Boolean).join('.'),
    'contains a U+0000 (NUL) character',
  );
}
