import { InputProblem } from './errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a UUID in its canonical text form (ids of rows; anything else is never found). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** Deepest nesting accepted in tenant JSON (properties, traits, definitions). */
export const MAX_JSON_DEPTH = 32;

const UNPAIRED_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

interface Unstorable {
  path: string;
  problem: string;
}

/**
 * Finds the first place inside `value` (deeply, keys included) that PostgreSQL cannot store
 * faithfully: text with a U+0000 character or an unpaired UTF-16 surrogate, or nesting deeper
 * than `MAX_JSON_DEPTH`. Returns its path relative to `value` ('' for the value itself) and
 * what is wrong, or null when there is nothing.
 */
export function findUnstorableText(value: unknown, path = '', depth = 0): Unstorable | null {
  const at = (key: string | number) => (path ? `${path}.${key}` : String(key));
  if (typeof value === 'string') return textProblem(value, path);
  if (typeof value !== 'object' || value === null) return null;
  if (depth >= MAX_JSON_DEPTH) {
    return { path, problem: `nested deeper than ${MAX_JSON_DEPTH} levels` };
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findUnstorableText(value[i], at(i), depth + 1);
      if (found) return found;
    }
    return null;
  }
  for (const [key, child] of Object.entries(value)) {
    const badKey = textProblem(key, at(key));
    if (badKey) return { path: badKey.path, problem: `its key ${badKey.problem}` };
    const found = findUnstorableText(child, at(key), depth + 1);
    if (found) return found;
  }
  return null;
}

function textProblem(text: string, path: string): Unstorable | null {
  if (text.includes('\u0000')) return { path, problem: 'contains a U+0000 (NUL) character' };
  if (UNPAIRED_SURROGATE.test(text))
    return { path, problem: 'contains an unpaired UTF-16 surrogate' };
  return null;
}

/** Throws `InputProblem` at the offending path when `value` cannot be stored faithfully. */
export function checkStorableText(value: unknown, path: string): void {
  const found = findUnstorableText(value);
  if (!found) return;
  throw new InputProblem([path, found.path].filter(Boolean).join('.'), found.problem);
}
