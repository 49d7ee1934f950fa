import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TrackInput } from './nudge-operations';

/** The columns of RetailRocket's `events.csv`, in file order (see examples/data/README.md). */
export const RETAILROCKET_COLUMNS = [
  'timestamp',
  'visitorid',
  'event',
  'itemid',
  'transactionid',
  'datetime',
] as const;

/** One data row of a RetailRocket events file. */
export interface RetailRocketEvent {
  /** 0-based position among the data rows (the header is not counted). */
  rowIndex: number;
  /** Event time, Unix epoch milliseconds, UTC. */
  timestampMs: number;
  visitorId: string;
  /** `view`, `addtocart` or `transaction`. */
  event: string;
  itemId: string;
  /** Set on `transaction` rows only; the file writes it as a float (`8693.0`), kept as `8693`. */
  transactionId: string | null;
  /**
   * SHA-256 (hex) of the row's exact text. Equal rows get equal ids, so exact duplicates in
   * the file are sent with the same idempotency key and stored once.
   */
  rowHash: string;
}

/**
 * Parses the text of a RetailRocket events file: a header row naming `RETAILROCKET_COLUMNS`,
 * then one event per line (LF or CRLF). Rows keep their file order. Quoted fields are not
 * supported (the dataset has none). Throws an `Error` naming the line of the first bad row.
 */
export function parseRetailRocketCsv(text: string): RetailRocketEvent[] {
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();

  const header = lines[0]?.split(',') ?? [];
  if (header.join(',') !== RETAILROCKET_COLUMNS.join(',')) {
    throw new Error(
      `line 1: expected the header "${RETAILROCKET_COLUMNS.join(',')}", got "${lines[0] ?? ''}"`,
    );
  }

  return lines.slice(1).map((line, rowIndex) => parseRow(line, rowIndex, rowIndex + 2));
}

/** Reads and parses a RetailRocket events file (see `parseRetailRocketCsv`). */
export function readRetailRocketEvents(file: string): RetailRocketEvent[] {
  return parseRetailRocketCsv(readFileSync(file, 'utf8'));
}

/**
 * The replay order: by time, and rows with the same timestamp in file order. Returns a new
 * array; the input is not changed.
 */
export function sortForReplay(events: readonly RetailRocketEvent[]): RetailRocketEvent[] {
  return [...events].sort((a, b) => a.timestampMs - b.timestampMs || a.rowIndex - b.rowIndex);
}

/**
 * The `track` input of one event: the visitor as customer, the item (and on transactions the
 * transaction id) as properties, and the row's hash as idempotency key, so an exact duplicate
 * row is stored once.
 */
export function toTrackInput(event: RetailRocketEvent): TrackInput {
  return {
    customerExternalId: event.visitorId,
    event: event.event,
    occurredAt: new Date(event.timestampMs).toISOString(),
    properties:
      event.transactionId === null
        ? { itemId: event.itemId }
        : { itemId: event.itemId, transactionId: event.transactionId },
    messageId: `retailrocket:${event.rowHash}`,
  };
}

function parseRow(line: string, rowIndex: number, lineNumber: number): RetailRocketEvent {
  if (line.includes('"')) throw new Error(`line ${lineNumber}: quoted fields are not supported`);
  const fields = line.split(',');
  if (fields.length !== RETAILROCKET_COLUMNS.length) {
    throw new Error(
      `line ${lineNumber}: expected ${RETAILROCKET_COLUMNS.length} fields, got ${fields.length}`,
    );
  }

  const [timestamp, visitorId, event, itemId, transactionId] = fields;
  if (!/^\d{1,15}$/.test(timestamp)) {
    throw new Error(`line ${lineNumber}: timestamp must be epoch milliseconds, got "${timestamp}"`);
  }
  if (!/^\d+$/.test(visitorId)) {
    throw new Error(`line ${lineNumber}: visitorid must be an integer id, got "${visitorId}"`);
  }
  if (event.length === 0) throw new Error(`line ${lineNumber}: event is empty`);
  if (transactionId !== '' && !/^\d+(\.0+)?$/.test(transactionId)) {
    throw new Error(
      `line ${lineNumber}: transactionid must be empty or an integer, got "${transactionId}"`,
    );
  }

  return {
    rowIndex,
    timestampMs: Number(timestamp),
    visitorId,
    event,
    itemId,
    transactionId: transactionId === '' ? null : transactionId.replace(/\.0+$/, ''),
    rowHash: createHash('sha256').update(line).digest('hex'),
  };
}
