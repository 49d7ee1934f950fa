/**
 * Whitespace, including the zero-width characters that paste in from rich text: a name made
 * only of them is as useless in a greeting as an empty one.
 */
const BLANK_TEXT = /^[\s\u200B-\u200D\u2060\uFEFF]*$/u;

/**
 * True for the values the `default` filter replaces (C19): undefined, null, false, a string
 * that is empty or whitespace only, an empty array and an empty object. 0 and any other number
 * are values, as in Liquid.
 */
export function isBlank(value: unknown): boolean {
  if (value === undefined || value === null || value === false) return true;
  if (typeof value === 'string') return BLANK_TEXT.test(value);
  if (Array.isArray(value)) return value.length === 0;
  if (isPlainObject(value)) return Object.keys(value).length === 0;
  return false;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}
