/**
 * ARM traffic of one P1 way, read from the local Azure's request log: successful and
 * throttled writes and reads, and the least time the read bucket needs for those reads.
 */
import type { RequestLog } from '../src/local-azure';

/** ARM request counts of one way. */
export interface ArmStats {
  writesOk: number;
  writes429: number;
  readsOk: number;
  reads429: number;
  /** (successful reads − 250 burst) / 25 per s, at least 0. */
  readBoundS: number;
  /** Key Vault data-plane answers 429 (its per-vault limits; the SDK retries them after Retry-After). */
  keyVault429s: number;
}

/** Counts ARM requests in `log` by kind and status. */
export function armStats(log: RequestLog): ArmStats {
  const arm = log.entries({ service: 'arm' });
  const writes = new Set(log.writes({ service: 'arm' }));
  const reads = arm.filter((e) => !writes.has(e));
  const ok = (s: number): boolean => s >= 200 && s < 300;
  const readsOk = reads.filter((e) => ok(e.status)).length;
  return {
    writesOk: [...writes].filter((e) => ok(e.status)).length,
    writes429: [...writes].filter((e) => e.status === 429).length,
    readsOk,
    reads429: reads.filter((e) => e.status === 429).length,
    readBoundS: Math.max(0, (readsOk - 250) / 25),
    keyVault429s: log.entries({ service: 'keyvault', status: 429 }).length,
  };
}
