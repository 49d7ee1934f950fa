/**
 * String ordering of the condition language: Unicode code point order, the order PostgreSQL
 * gives UTF-8 text under `COLLATE "C"`. JavaScript's `<` compares UTF-16 code units instead,
 * which ranks characters above U+FFFF (stored as surrogate pairs, 0xD800–0xDFFF) below
 * U+E000–U+FFFF; this comparison does not.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Only a surrogate against U+E000..U+FFFF disagrees with code unit order: move the
    // surrogates above that range, which keeps every other pair's relative order.
    if (x >= 0xd800 && y >= 0xd800) return lift(x) - lift(y);
    return x - y;
  }
  return a.length - b.length;
}

const lift = (unit: number): number => (unit >= 0xe000 ? unit - 0x800 : unit + 0x2000);
