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
  /** Seconds from the start at which Key Vault answered each 429. */
  keyVault429sAtS: number[];
  /** Seconds from the start to the first successful ARM write (undefined without one). */
  firstWriteS?: number;
  /** Successful ARM writes answered in each 10 s from the start. */
  writesPer10s: number[];
}

/** Counts ARM requests in `log` by kind and status. */
export function armStats(log: RequestLog, startedAt: number): ArmStats {
  const arm = log.entries({ service: 'arm' });
  const writes = new Set(log.writes({ service: 'arm' }));
  const reads = arm.filter((e) => !writes.has(e));
  const ok = (s: number): boolean => s >= 200 && s < 300;
  const readsOk = reads.filter((e) => ok(e.status)).length;
  const keyVault429s = log.entries({ service: 'keyvault', status: 429 });
  return {
    writesOk: [...writes].filter((e) => ok(e.status)).length,
    writes429: [...writes].filter((e) => e.status === 429).length,
    readsOk,
    reads429: reads.filter((e) => e.status === 429).length,
    readBoundS: Math.max(0, (readsOk - 250) / 25),
    keyVault429s: keyVault429s.length,
    keyVault429sAtS: keyVault429s.map((e) => (Date.parse(e.at) - startedAt) / 1000),
    ...writeTimeline(
      [...writes].filter((e) => ok(e.status)),
      startedAt,
    ),
  };
}

/** When the successful writes were answered, from `startedAt` (epoch ms). */
function writeTimeline(
  writes: { at: string }[],
  startedAt: number,
): Pick<ArmStats, 'firstWriteS' | 'writesPer10s'> {
  const seconds = writes.map((e) => (Date.parse(e.at) - startedAt) / 1000);
  const writesPer10s: number[] = [];
  for (const s of seconds) {
    const slot = Math.max(0, Math.floor(s / 10));
    while (writesPer10s.length <= slot) writesPer10s.push(0);
    writesPer10s[slot]!++;
  }
  return { ...(seconds.length ? { firstWriteS: Math.min(...seconds) } : {}), writesPer10s };
}

/** A way's write timeline in words, for a table's notes. */
export function describeTimeline(
  way: string,
  stats: ArmStats,
  approval?: { askedS: number; approvedS: number },
): string {
  const asked = approval
    ? `the plan asked for approval ${approval.askedS.toFixed(1)} s after the start and was approved at ${approval.approvedS.toFixed(1)} s; `
    : '';
  const throttled = stats.keyVault429sAtS.length
    ? ` Key Vault answered 429 at ${stats.keyVault429sAtS.map((s) => `${s.toFixed(1)} s`).join(', ')}.`
    : '';
  if (stats.firstWriteS === undefined) return `${way}: ${asked}no ARM write succeeded.${throttled}`;
  return `${way}: ${asked}the first ARM write was answered at ${stats.firstWriteS.toFixed(1)} s; ARM writes answered per 10 s: ${stats.writesPer10s.join(', ')}.${throttled}`;
}
