/**
 * A fleet rotation interrupted mid-way (the worker SIGKILLed, or the Temporal server restarted)
 * and resumed: four pinned accounts on three keys, rotated one at a time, interrupted once the
 * first account's rotation has finished. Whatever the interruption, each key is rotated once,
 * each account PATCHed once, and the progress and result name every account once.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { FleetProgress } from '../../src/shared/approval';
import type { AccountRef } from '../../src/shared/accounts';
import type { FleetOutcome, RunResult } from '../../src/shared/runbooks';
import { PEOPLE, resultOf } from '../helpers/stack';
import { decideAs } from '../helpers/trust';
import { statusOf, type KillHarness } from './kill-harness';
import { hurryPendingActivities } from './support';

/** What a fleet run ended with, as the suite compares it. */
export interface FleetChaosOutcome {
  outcome: string;
  /** Successful Key Vault rotate calls, per key. */
  rotatesPerKey: number[];
  /** New versions per key. */
  newVersionsPerKey: number[];
  /** Successful PATCHes per account. */
  patchesPerAccount: number[];
  /** Accounts pinned to their key's newest version. */
  onNewestVersion: number;
  /** The progress the status query shows at the end. */
  progress: { total: number; counts: FleetProgress['counts'] } | undefined;
  /** Each account's outcome in the result, by name, sorted. */
  results: string[];
}

interface Fleet {
  accounts: AccountRef[];
  keys: { vault: string; key: string }[];
  keyOf: Map<string, { vault: string; key: string }>;
}

/** Configures four pinned accounts: two share a key, two have a key each. */
async function setUpFleet(h: KillHarness): Promise<Fleet> {
  const vault = h.vaultName();
  const keys = [
    { vault, key: 'shared' },
    { vault, key: 'alone' },
    { vault: h.vaultName(), key: 'other' },
  ];
  const plan = [keys[0]!, keys[1]!, keys[0]!, keys[2]!];
  const fleet: Fleet = { accounts: [], keys, keyOf: new Map() };
  for (const k of plan) {
    const account = h.newAccount();
    const input = h.configureInput(account, k.vault);
    const { result } = await h.drive(
      await h.start('configure', { ...input, key: { ...input.key, name: k.key }, pinVersion: true }),
    );
    if (result.outcome !== 'succeeded') throw new Error(`configure ${account.name}: ${result.message}`);
    fleet.accounts.push(account);
    fleet.keyOf.set(account.name, k);
  }
  return fleet;
}

function childrenDone(events: Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']): number {
  return (events ?? []).filter((e) => e.childWorkflowExecutionCompletedEventAttributes).length;
}

/** Hurries the activities a dead worker held in every run still open on the harness's queue. */
export async function hurryQueue(h: KillHarness): Promise<void> {
  const open: WorkflowHandle[] = [];
  for await (const w of h.client.workflow.list({
    query: `TaskQueue = '${h.taskQueue}' AND ExecutionStatus = 'Running'`,
  }))
    open.push(h.client.workflow.getHandle(w.workflowId, w.runId));
  await Promise.all(open.map((w) => hurryPendingActivities(h.client, w)));
}

/**
 * Runs a fleet rotation, approving it, and calls `interrupt` once after its first account's
 * rotation finished while others have not; returns what the suite compares.
 */
export async function fleetInterrupted(
  h: KillHarness,
  interrupt: () => Promise<void>,
): Promise<{ got: FleetChaosOutcome; want: FleetChaosOutcome; interruptedAfter: number; result: RunResult }> {
  const fleet = await setUpFleet(h);
  const rotates = (k: { vault: string; key: string }) =>
    h.local.requestLog
      .writes({ operation: 'keys.rotate' })
      .filter(
        (e) =>
          e.status < 300 && e.host === `${k.vault}.vault.azure.net` && e.path.includes(`/keys/${k.key}/`),
      ).length;
  const patches = (a: AccountRef) =>
    h.local.requestLog
      .writes({ operation: 'storageAccounts.update' })
      .filter((e) => e.status < 300 && e.path.toLowerCase().endsWith(`/storageaccounts/${a.name}`)).length;
  const rotatesBefore = fleet.keys.map(rotates);
  const versionsBefore = fleet.keys.map((k) => h.local.state.listKeyVersions(k.vault, k.key).length);
  const patchesBefore = fleet.accounts.map(patches);

  const handle = await h.start('fleetRotate', { accounts: fleet.accounts, concurrency: 1, ...h.context });
  let interruptedAfter = -1;
  for (;;) {
    let status: string;
    try {
      status = (await handle.describe()).status.name;
    } catch {
      // The server may be coming back.
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    if (status !== 'RUNNING') break;
    const run = await statusOf(handle);
    if (run.stage === 'awaiting-approval' && run.approval.state === 'pending')
      await decideAs(handle, PEOPLE.alice, 'approve');
    if (interruptedAfter < 0) {
      const done = childrenDone((await handle.fetchHistory()).events);
      if (done >= 1 && done < fleet.accounts.length) {
        interruptedAfter = done;
        await interrupt();
      }
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const result = await resultOf(handle);
  const progress = (await statusOf(handle)).fleet;
  const newest = (a: AccountRef): boolean => {
    const k = fleet.keyOf.get(a.name)!;
    const versions = h.local.state.listKeyVersions(k.vault, k.key) as Array<{ key?: { kid?: string } }>;
    const latest = versions[versions.length - 1]?.key?.kid?.split('/').pop();
    const arm = h.local.state.getStorageAccount(a.subscriptionId, a.resourceGroup, a.name) as unknown as {
      properties: { encryption: { keyvaultproperties?: { keyversion?: string } } };
    };
    return latest !== undefined && arm.properties.encryption.keyvaultproperties?.keyversion === latest;
  };
  const got: FleetChaosOutcome = {
    outcome: result.outcome,
    rotatesPerKey: fleet.keys.map((k, i) => rotates(k) - rotatesBefore[i]!),
    newVersionsPerKey: fleet.keys.map(
      (k, i) => h.local.state.listKeyVersions(k.vault, k.key).length - versionsBefore[i]!,
    ),
    patchesPerAccount: fleet.accounts.map((a, i) => patches(a) - patchesBefore[i]!),
    onNewestVersion: fleet.accounts.filter(newest).length,
    progress: progress && { total: progress.total, counts: progress.counts },
    results: (result.fleet ?? []).map((o: FleetOutcome) => `${o.account.name}:${o.outcome}`).sort(),
  };
  return { got, want: fleetWanted(fleet.accounts.map((a) => a.name)), interruptedAfter, result };
}

/** A fleet outcome in one short line, for the suite's table. */
export function showFleet(o: FleetChaosOutcome): string {
  const counts = Object.entries(o.progress?.counts ?? {})
    .map(([k, n]) => `${n} ${k}`)
    .join(', ');
  return `${o.outcome}; rotates ${o.rotatesPerKey.join('/')}; +versions ${o.newVersionsPerKey.join('/')}; PATCHes ${o.patchesPerAccount.join('/')}; ${o.onNewestVersion} on new; card ${counts} of ${o.progress?.total ?? '?'}`;
}

/** What every interrupted fleet must end with. */
function fleetWanted(names: string[]): FleetChaosOutcome {
  const accounts = names.length;
  return {
    outcome: 'succeeded',
    rotatesPerKey: [1, 1, 1],
    newVersionsPerKey: [1, 1, 1],
    patchesPerAccount: Array<number>(accounts).fill(1),
    onNewestVersion: accounts,
    progress: { total: accounts, counts: { succeeded: accounts } },
    results: names.map((n) => `${n}:succeeded`).sort(),
  };
}
