import { BadInputError } from '../errors';

/** A keyset page request: rows strictly after `afterSeq`, at most `first` of them. */
export interface PageRequest {
  first: number;
  afterSeq: string;
}

export interface Page<T> {
  nodes: Array<{ cursor: string; node: T }>;
  hasNextPage: boolean;
}

const MAX_PAGE = 100;
const MAX_SEQ = 9_223_372_036_854_775_807n;

/** Opaque cursor: base64 of `seq:<n>`. Never an offset. */
export function encodeCursor(seq: string): string {
  return Buffer.from(`seq:${seq}`).toString('base64url');
}

/** Reads Relay `first`/`after`. Throws BAD_USER_INPUT naming the argument. */
export function pageRequest(
  first: number | null | undefined,
  after: string | null | undefined,
): PageRequest {
  const size = first ?? 20;
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE) {
    throw new BadInputError('first', `expected an integer from 1 to ${MAX_PAGE}`);
  }
  if (!after) return { first: size, afterSeq: '0' };
  const decoded = Buffer.from(after, 'base64url').toString('utf8');
  const match = /^seq:(\d{1,19})$/.exec(decoded);
  if (!match || BigInt(match[1]) > MAX_SEQ) {
    throw new BadInputError('after', 'not a cursor returned by this API');
  }
  return { first: size, afterSeq: match[1] };
}

/** Turns `first + 1` fetched rows into a page and whether more follow. */
export function pageOf<R, T>(
  fetched: R[],
  request: PageRequest,
  seqOf: (row: R) => string,
  map: (row: R) => T,
): Page<T> {
  const visible = fetched.slice(0, request.first);
  return {
    nodes: visible.map((row) => ({ cursor: encodeCursor(seqOf(row)), node: map(row) })),
    hasNextPage: fetched.length > request.first,
  };
}
