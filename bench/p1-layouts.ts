/**
 * P1 by key layout: the same `fleetRotate` over N pinned accounts, side by side in one run, with
 * the keys spread over vaults (20 per vault), all keys in one vault (Key Vault's 20 creates per
 * vault per 10 s then bound the fleet) and one key shared by every account (one new version,
 * every account repointed). Each row against the bound that applies to its layout.
 */
import path from 'node:path';
import {
  AZURE_LATENCY,
  cpuNote,
  keyPairsFor,
  measureRunbook,
  seedFleetFile,
  type P1Options,
  type WayResult,
} from './p1-fleet';
import { DEFAULT_KEY_VAULT_CREATES_PER_SECOND } from '../src/shared/task-queues';
import { layoutBound } from './p1-bounds';
import { msPerAccount } from './cpu';
import { KEYS_PER_VAULT, type FleetLayout } from './p1-seed';
import { describeTimeline } from './p1-stats';
import { progress, type BenchOutcome } from './report';
import { SCRATCH, type RowServers } from './stack';

/** The key layouts P1 compares. */
export const P1_LAYOUTS = ['spread', 'one-vault', 'one-key'] as const;
export type P1Layout = (typeof P1_LAYOUTS)[number];

/** How each layout seeds its fleet and what it is called in the table. */
const LAYOUTS: Record<P1Layout, { label: string; layout: (n: number) => FleetLayout }> = {
  spread: { label: `keys spread over vaults (${KEYS_PER_VAULT} per vault)`, layout: () => ({}) },
  'one-vault': { label: 'all keys in one vault', layout: (n) => ({ keysPerVault: n }) },
  'one-key': { label: 'one key shared by all accounts', layout: (n) => ({ accountsPerKey: n }) },
};

/** Runs the runbook once per layout over `options.accounts` accounts and returns the table. */
export async function runP1Layouts(
  servers: RowServers,
  options: Pick<P1Options, 'accounts' | 'concurrency' | 'latency'> & { layouts: readonly P1Layout[] },
): Promise<BenchOutcome> {
  const n = options.accounts;
  const rows: Array<{ layout: P1Layout; keys: number; vaults: number; result: WayResult }> = [];
  for (const id of options.layouts) {
    const seedFile = path.join(SCRATCH, `p1-layout-${id}.json`);
    const fleet = await seedFleetFile(n, seedFile, LAYOUTS[id].layout(n));
    const keys = new Set(fleet.map((f) => `${f.vaultName}/${f.keyName}`)).size;
    const vaults = new Set(fleet.map((f) => f.vaultName)).size;
    // One stock of pre-made RSA pairs serves every table and layout (each way's local Azure gets a fresh copy).
    const keyPairs = await keyPairsFor(n + 50);
    progress(`P1 layout ${id}: ${n} accounts, ${keys} keys in ${vaults} vault(s)`);
    const result = await measureRunbook(
      servers,
      `fleetRotate, ${LAYOUTS[id].label}`,
      { seedFile, fleet, keyPairs, latencies: options.latency === 'azure' ? AZURE_LATENCY : [] },
      options,
    );
    rows.push({ layout: id, keys, vaults, result });
  }
  const table = rows.map(({ keys, vaults, result: w }) => {
    const bound = layoutBound(n, keys, Math.ceil(keys / vaults), w.stats.readsOk);
    const wallS = w.wallMs / 1000;
    return {
      layout: w.way.replace(/^fleetRotate, /, ''),
      keys,
      vaults,
      'wall s': wallS.toFixed(1),
      'bound s': bound.seconds.toFixed(0),
      'bound that applies': bound.which,
      '% of bound':
        bound.seconds <= 0
          ? 'n/a'
          : w.failed > 0
            ? 'n/a (failures)'
            : ((bound.seconds / wallS) * 100).toFixed(0),
      'ARM writes ok': w.stats.writesOk,
      'ARM write 429s': w.stats.writes429,
      'Key Vault 429s': w.stats.keyVault429s,
      'failed accounts': w.failed,
      'extra key versions': w.extraVersions,
      'worker CPU ms / account': w.cpu ? msPerAccount(w.cpu.worker, n) : '',
    };
  });
  const summary = rows
    .filter((r) => r.layout !== 'spread')
    .map(({ layout, keys, vaults, result: w }) => {
      const bound = layoutBound(n, keys, Math.ceil(keys / vaults), w.stats.readsOk);
      const pct = (bound.seconds / (w.wallMs / 1000)) * 100;
      const share429 = w.stats.writes429 / Math.max(1, w.stats.writes429 + w.stats.writesOk);
      return {
        benchmark: `P1 ${LAYOUTS[layout].label}, % of its bound (${n} accounts)`,
        target: '≥ 90 %, 0 failed, ≤ 5 % 429s',
        reached: `${pct.toFixed(0)} % of ${bound.seconds.toFixed(0)} s (${bound.which}); ${w.failed} failed; ARM 429s ${(share429 * 100).toFixed(1)} %, Key Vault 429s ${w.stats.keyVault429s}`,
        met: pct >= 90 && w.failed === 0 && share429 <= 0.05,
      };
    });
  return {
    title: `P1 · fleet rotation of ${n} pinned accounts by key layout`,
    table,
    notes: [
      `Bound that applies: the largest of the ARM write bound ((N − 200) / 10 s: one account PATCH each), the read bound of the reads the run made ((reads − 250) / 25 s), the Key Vault create bound of the fullest vault (its keys in fixed 10-second windows of 20 software RSA creates: (⌈keys / 20⌉ − 1) × 10 s) and that of the subscription, whose limit in a region is five times a vault's (all keys in windows of 100: (⌈keys / 100⌉ − 1) × 10 s). "% of bound" = that / wall time.`,
      `All keys in one vault: every rotation creates a version in that vault, so Key Vault allows 2 rotations/s, well under ARM's 10/s. Temporal's server paces each vault's creates (the makeKeyVersion activity, its vault the fairness key) to CMK_KEY_VAULT_CREATES_PER_SECOND (${process.env.CMK_KEY_VAULT_CREATES_PER_SECOND ?? DEFAULT_KEY_VAULT_CREATES_PER_SECOND}/s here); a create over Key Vault's limit is still answered 429 with Retry-After, which the SDK waits out and retries.`,
      "One key shared by every account: the fleet rotates the key once (the first account) and moves every other account to that version; ARM's write bucket is the bound.",
      ...rows
        .filter((r) => r.result.cpu)
        .map((r) => `${LAYOUTS[r.layout].label}: ${cpuNote(r.result.cpu!, n)}`),
      ...rows.map((r) => describeTimeline(LAYOUTS[r.layout].label, r.result.stats, r.result.approval)),
      options.latency === 'azure'
        ? 'Latency: Azure-like (ARM reads 100 ms, ARM writes 1 s, Key Vault 200 ms, blob 30 ms), as in the comparison with the scripts.'
        : 'Latency: none (the local Azure answers at once).',
    ],
    summary,
  };
}
