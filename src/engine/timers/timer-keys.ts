/**
 * Redis key names of the timer index, built only here. The shard sits in a hash tag so the
 * due and lease sets of one shard live on one Redis Cluster slot (the claim script touches both).
 */
export function timerKeys(prefix: string, shard: number): { due: string; lease: string } {
  return {
    due: `${prefix}:timers:{${shard}}:due`,
    lease: `${prefix}:timers:{${shard}}:lease`,
  };
}
