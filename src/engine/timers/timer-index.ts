/**
 * The fast index of pending timers (DESIGN.md "Timers"). PostgreSQL holds the truth; this
 * index only says which timer ids are due when, so workers can claim them cheaply. Losing the
 * index loses nothing: it is rebuilt from PostgreSQL.
 */
export interface IndexedTimer {
  timerId: string;
  tenantId: string;
  dueAtMs: number;
}

export interface ClaimedTimer {
  timerId: string;
  shard: number;
  dueAtMs: number;
}

export interface TimerIndex {
  readonly shardCount: number;
  /** Adds or moves timers; idempotent per timer id. */
  schedule(timers: IndexedTimer[]): Promise<void>;
  /**
   * Adds timers that are neither due nor leased (the sweep's repair); a timer a live worker
   * holds, or one already queued, is left alone. Returns how many were added.
   */
  restore(timers: IndexedTimer[]): Promise<number>;
  /** Removes timers from the due set (cancelled or done). */
  unschedule(timers: Array<Pick<IndexedTimer, 'timerId' | 'tenantId'>>): Promise<void>;
  /** Atomically leases up to `limit` timers due at or before `nowMs`, in due order. */
  claimDue(shard: number, nowMs: number, limit: number, leaseMs: number): Promise<ClaimedTimer[]>;
  /** Releases the lease of timers whose effect is committed. */
  ack(shard: number, timerIds: string[]): Promise<void>;
  /** Puts timers whose lease expired back into the due set. Returns how many. */
  requeueExpired(shard: number, nowMs: number): Promise<number>;
  /** The earliest due time across shards, or null when nothing is indexed. */
  earliestDueMs(): Promise<number | null>;
  /** Empties every shard (used before a rebuild from PostgreSQL). */
  clear(): Promise<void>;
  close(): Promise<void>;
}

/** Stable shard of a tenant: FNV-1a of its id modulo the shard count. */
export function shardOf(tenantId: string, shardCount: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < tenantId.length; i++) {
    hash ^= tenantId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shardCount;
}
