/**
 * P4: wall time of `configureCmk` with no approval wait (the vault already has purge
 * protection, so the plan is neither destructive nor irreversible) and zero emulator latency,
 * against calling the same activities directly in sequence. Median of several runs each.
 */
import { randomUUID } from 'node:crypto';
import type { LocalAzure } from '../src/local-azure';
import type { AccountRef } from '../src/shared/accounts';
import type { ApprovalPolicy, Person } from '../src/shared/approval';
import type { ConfigureCmkInput, RunResult } from '../src/shared/runbooks';
import { signedStartOptions } from '../test/helpers/trust';
import { check, median, progress, seconds, type BenchOutcome } from './report';
import {
  addBenchAccount,
  addBenchVault,
  directActivities,
  startBenchAzure,
  startWorkerProcess,
  type BenchTemporal,
} from './stack';

/** Options of {@link runP4}. */
export interface P4Options {
  runs: number;
}

const REQUESTER: Person = { aadObjectId: '00000000-0000-4000-8000-00000000b401', name: 'Bench Requester' };
const POLICY: ApprovalPolicy = {
  approvers: { configure: ['00000000-0000-4000-8000-00000000b402'] },
  quorum: {},
  deadline: '1h',
  requesters: { configure: [REQUESTER.aadObjectId] },
};
const TARGET_MS = 3_000;

function encryptionOf(
  local: LocalAzure,
  account: AccountRef,
): { keySource?: string; keyvaultproperties?: { keyname?: string } } {
  const view = local.state.getStorageAccount(account.subscriptionId, account.resourceGroup, account.name) as
    | { properties: { encryption: { keySource?: string; keyvaultproperties?: { keyname?: string } } } }
    | undefined;
  return view?.properties.encryption ?? {};
}

/** Runs P4 on the given Temporal server and returns its table. */
export async function runP4(temporal: BenchTemporal, options: P4Options): Promise<BenchOutcome> {
  const local = await startBenchAzure();
  const taskQueue = `bench-p4-${randomUUID().slice(0, 8)}`;
  const worker = await startWorkerProcess(temporal, local, taskQueue, POLICY);
  const direct = directActivities(local);
  const vaultName = `kv-p4-${randomUUID().slice(0, 8)}`;
  addBenchVault(local, vaultName);
  const newAccount = (): AccountRef =>
    addBenchAccount(local, `stp4${randomUUID().replace(/-/g, '').slice(0, 12)}`);
  const request = (account: AccountRef, i: number) => ({
    account,
    vault: { name: vaultName, resourceGroup: 'rg-keys' },
    key: { name: `cmk-${i}`, type: 'RSA' as const, size: 2048 as const },
    identity: { type: 'SystemAssigned' as const },
    pinVersion: false,
  });
  const workflowMs: number[] = [];
  const directMs: number[] = [];
  try {
    for (let i = 0; i < options.runs + 1; i++) {
      const a = newAccount();
      const input: ConfigureCmkInput = { ...request(a, 2 * i), requester: REQUESTER };
      const { workflowType, ...start } = await signedStartOptions('configure', input, taskQueue, {
        tenantId: local.tenantId,
      });
      const t0 = performance.now();
      const handle = await temporal.client.workflow.start(workflowType, start);
      const result = (await handle.result()) as RunResult;
      const tookMs = performance.now() - t0;
      check(result.outcome === 'succeeded', `P4 configureCmk ended ${result.outcome}: ${result.message}`);
      check(!result.steps.some((s) => s.id === 'approval'), 'P4 configureCmk waited for an approval');
      check(
        encryptionOf(local, a).keySource === 'Microsoft.Keyvault',
        `P4 ${a.name} is not on CMK after the run`,
      );

      const b = newAccount();
      const r = request(b, 2 * i + 1);
      const t1 = performance.now();
      await direct.run(async (act) => {
        const plan = await act.inspect({ account: b, request: { operation: 'configure', ...r } });
        check(plan.blockers.length === 0, `P4 direct plan is blocked: ${JSON.stringify(plan.blockers)}`);
        const vault = await act.ensureVault({
          account: b,
          vault: r.vault,
          location: plan.location ?? 'eastus',
        });
        const identity = await act.assignIdentity({ account: b, identity: r.identity });
        await act.grantKeyAccess({ vault, principalId: identity.principalId, keyName: r.key.name });
        const key = await act.ensureKey({ vault, key: r.key, runId: randomUUID() });
        await act.enableCmk({ account: b, key, identity: identity.identity, pinVersion: false });
        const probe = await act.probeDataAccess({ account: b, expect: 'allowed', withinMs: 120_000 });
        check(probe.state === 'allowed', `P4 direct probe on ${b.name} says ${probe.state}`);
      });
      const directTook = performance.now() - t1;
      check(
        encryptionOf(local, b).keySource === 'Microsoft.Keyvault',
        `P4 ${b.name} is not on CMK after the direct calls`,
      );
      // The first pair warms the worker's workflow cache and both sides' token caches; it is not counted.
      if (i > 0) {
        workflowMs.push(tookMs);
        directMs.push(directTook);
      }
      progress(
        `P4 run ${i}: workflow ${tookMs.toFixed(0)} ms, direct ${directTook.toFixed(0)} ms${i === 0 ? ' (warm-up)' : ''}`,
      );
    }
  } finally {
    await worker.stop();
    await local.close();
  }
  const wf = median(workflowMs);
  const dr = median(directMs);
  return {
    title: `P4 · configureCmk wall time, no approval wait, zero emulator latency (median of ${options.runs})`,
    table: [
      {
        path: 'configureCmk workflow (worker process)',
        'median ms': wf.toFixed(0),
        'min ms': Math.min(...workflowMs).toFixed(0),
        'max ms': Math.max(...workflowMs).toFixed(0),
      },
      {
        path: 'same activities called directly',
        'median ms': dr.toFixed(0),
        'min ms': Math.min(...directMs).toFixed(0),
        'max ms': Math.max(...directMs).toFixed(0),
      },
      { path: 'overhead (workflow − direct)', 'median ms': (wf - dr).toFixed(0), 'min ms': '', 'max ms': '' },
    ],
    notes: [
      'Both paths run inspect, ensureVault, assignIdentity, grantKeyAccess, ensureKey, enableCmk and probeDataAccess with production activity timing; the workflow also posts status to Temporal, records steps and re-reads nothing (no approval → no re-inspect).',
      'Every run is checked in the local Azure: the account ends on Microsoft.Keyvault.',
    ],
    summary: [
      {
        benchmark: 'P4 configureCmk wall time',
        target: `≤ ${seconds(TARGET_MS)} s`,
        reached: `${seconds(wf)} s (overhead ${(wf - dr).toFixed(0)} ms over direct calls)`,
        met: wf <= TARGET_MS,
      },
    ],
  };
}
