import { Duration } from 'luxon';

/** A parsed ISO 8601 duration: the text as written and its length in milliseconds. */
export interface ParsedDuration {
  iso: string;
  ms: number;
}

/** The longest duration accepted anywhere (a year of days). */
export const MAX_DURATION_MS = 366 * 24 * 3_600_000;

/**
 * Parses an ISO 8601 duration such as `PT30M`, `PT2H`, `P7D` or `P1W`. Years and months are
 * refused: their length depends on the calendar, so `P30D` says what is meant. Throws an
 * `Error` whose message says what would be accepted.
 */
export function parseDuration(text: string): ParsedDuration {
  const trimmed = text.trim();
  const shape = /^P(?!$)(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d{1,3})?S)?)?$/;
  if (/^P(\d+Y|\d+M)/.test(trimmed.replace(/T.*$/, ''))) {
    throw new Error(
      `"${text}" uses years or months, whose length varies; write days instead (e.g. P30D)`,
    );
  }
  if (!shape.test(trimmed)) {
    throw new Error(
      `"${text}" is not an ISO 8601 duration; expected e.g. PT30M, PT2H, P7D or P1DT12H`,
    );
  }
  const ms = Duration.fromISO(trimmed).as('milliseconds');
  if (!Number.isFinite(ms) || ms > MAX_DURATION_MS) {
    throw new Error(`"${text}" is longer than the maximum of P366D`);
  }
  return { iso: trimmed, ms: Math.round(ms) };
}
