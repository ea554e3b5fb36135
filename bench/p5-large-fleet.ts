/**
 * P5: one `fleetRotate` run over a very large fleet (20,000 accounts by default) through the
 * production worker, on a local Azure that answers at once: does it complete, how long does it
 * take, what is the largest payload anywhere in the fleet's chain of runs (inputs carried over
 * continue-as-new, activity inputs and results, child inputs and results, the final result, the
 * `status` answer), and how many history events does one account cost (the fleet's share and
 * its own `rotateKey` run's).
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { clearKeyPairStock, generateKeyPairs, stockKeyPairs } from '../src/local-azure/rsa';
import { workflowIdFor } from '../src/shared/accounts';
import { statusQuery } from '../src/shared/approval';
import { groupAccounts } from '../src/shared/fleet-tally';
import type { FleetRotateInput, RunResult } from '../src/shared/runbooks';
import { signedStartOptions } from '../test/helpers/trust';
import { approveWhenAsked, fleetResult, POLICY, REQUESTER, seedFleetFile } from './p1-fleet';
import { check, progress, type BenchOutcome } from './report';
import { SCRATCH, startBenchAzure, startWorkerProcess, type BenchTemporal } from './stack';

/** Options of {@link runP5}. */
export interface P5Options {
  accounts: number;
  /** Accounts sharing one key (each key rotated once, the others follow it). */
  accountsPerKey: number;
}

/** The payload bound the fleet is held to: Temporal refuses payloads over 2 MB (its default blob size limit). */
const PAYLOAD_LIMIT = 2 * 1024 * 1024;
/** Child runs whose histories are read to count a rotation's own events. */
const CHILD_SAMPLE = 20;

type Payloads = temporal.api.common.v1.IPayloads | null | undefined;
const bytesOf = (p: Payloads): number => (p ? temporal.api.common.v1.Payloads.encode(p).finish().length : 0);

/** Sizes of every payload in a history, by where it was, and the run that continued from it. */
function payloadsOf(history: temporal.api.history.v1.IHistory): {
  largest: { bytes: number; where: string };
  events: number;
  next?: string;
} {
  let largest = { bytes: 0, where: '' };
  let next: string | undefined;
  const see = (p: Payloads, where: string): void => {
    const bytes = bytesOf(p);
    if (bytes > largest.bytes) largest = { bytes, where };
  };
  for (const e of history.events ?? []) {
    see(e.workflowExecutionStartedEventAttributes?.input, 'run input');
    see(e.workflowExecutionContinuedAsNewEventAttributes?.input, 'continue-as-new input');
    see(e.workflowExecutionCompletedEventAttributes?.result, 'fleet result');
    const scheduled = e.activityTaskScheduledEventAttributes;
    see(scheduled?.input, `${scheduled?.activityType?.name ?? ''} input`);
    see(e.activityTaskCompletedEventAttributes?.result, 'activity result');
    see(e.startChildWorkflowExecutionInitiatedEventAttributes?.input, 'child input');
    see(e.childWorkflowExecutionCompletedEventAttributes?.result, 'child result');
    if (e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId)
      next = e.workflowExecutionContinuedAsNewEventAttributes.newExecutionRunId;
  }
  return { largest, events: history.events?.length ?? 0, ...(next ? { next } : {}) };
}

/** Runs P5 and returns its table. */
export async function runP5(temporal: BenchTemporal, options: P5Options): Promise<BenchOutcome> {
  const seedFile = path.join(SCRATCH, 'p5-seed.json');
  const fleet = await seedFleetFile(options.accounts, seedFile, { accountsPerKey: options.accountsPerKey });
  const keys = new Set(fleet.map((f) => `${f.vaultName}/${f.keyName}`)).size;
  progress(`P5 seeded ${fleet.length} accounts on ${keys} keys; generating ${keys + 50} RSA key pairs`);
  const pairs = await generateKeyPairs(2048, keys + 50);
  const local = await startBenchAzure({ stateFile: seedFile });
  clearKeyPairStock();
  stockKeyPairs(2048, pairs);
  const taskQueue = `bench-p5-${randomUUID().slice(0, 8)}`;
  const worker = await startWorkerProcess(temporal, local, taskQueue, POLICY);
  let handle: WorkflowHandleWithFirstExecutionRunId;
  let result: RunResult;
  let wallMs: number;
  let statusBytes: number;
  try {
    const input: FleetRotateInput = {
      accounts: [],
      // Compact: 20,000 account references in full would pass Temporal's 2 MB payload limit.
      groups: groupAccounts(fleet.map((f) => f.account)),
      requester: REQUESTER,
    };
    const { workflowType, ...start } = await signedStartOptions('fleetRotate', input, taskQueue, {
      tenantId: local.tenantId,
    });
    local.requestLog.clear();
    const t0 = performance.now();
    handle = await temporal.client.workflow.start(workflowType, start);
    await approveWhenAsked(handle, local.tenantId);
    result = await fleetResult(handle, 'P5', fleet.length, 30_000);
    wallMs = performance.now() - t0;
    statusBytes = Buffer.byteLength(JSON.stringify(await handle.query(statusQuery)));
    progress(`P5 fleetRotate: ${result.message}`);
  } finally {
    await worker.stop();
    clearKeyPairStock();
  }
  try {
    check(
      result.outcome === 'succeeded' && result.fleetCounts?.succeeded === fleet.length,
      `P5 fleetRotate ended ${result.outcome}: ${result.message}`,
    );
    let rotated = 0;
    for (const f of fleet) {
      const versions =
        local.state.data.vaults[f.vaultName.toLowerCase()]?.keys[f.keyName.toLowerCase()]?.versions ?? [];
      const view = local.state.getStorageAccount(
        f.account.subscriptionId,
        f.account.resourceGroup,
        f.account.name,
      ) as { properties: { encryption: { keyvaultproperties?: { keyversion?: string } } } } | undefined;
      const pinned = view?.properties.encryption.keyvaultproperties?.keyversion;
      if (versions.length === 2 && pinned === versions[1]?.version) rotated++;
    }
    check(
      rotated === fleet.length,
      `P5: the local Azure shows ${fleet.length - rotated} account(s) not rotated once`,
    );
  } finally {
    await local.close();
  }

  // The fleet's chain of runs, payload by payload.
  let runId: string | undefined = handle.firstExecutionRunId;
  let runs = 0;
  let fleetEvents = 0;
  let largest = { bytes: 0, where: '' };
  while (runId) {
    const seen = payloadsOf(
      await temporal.client.workflow.getHandle(handle.workflowId, runId).fetchHistory(),
    );
    runs++;
    fleetEvents += seen.events;
    if (seen.largest.bytes > largest.bytes) largest = seen.largest;
    runId = seen.next;
  }
  let childEvents = 0;
  const sample = fleet.filter((_, i) => i % Math.max(1, Math.floor(fleet.length / CHILD_SAMPLE)) === 0);
  for (const f of sample.slice(0, CHILD_SAMPLE)) {
    const child = payloadsOf(
      await temporal.client.workflow.getHandle(workflowIdFor(f.account)).fetchHistory(),
    );
    childEvents += child.events;
    if (child.largest.bytes > largest.bytes)
      largest = { ...child.largest, where: `rotateKey ${child.largest.where}` };
  }
  const perChild = childEvents / Math.min(sample.length, CHILD_SAMPLE);
  const n = fleet.length;
  const writeBoundS = Math.max(0, (n - 200) / 10);
  return {
    title: `P5 · one fleetRotate over ${n} accounts on ${keys} keys, no emulated latency`,
    table: [
      {
        accounts: n,
        keys,
        'wall s': (wallMs / 1000).toFixed(0),
        'accounts/s': (n / (wallMs / 1000)).toFixed(2),
        'ARM write bound s': writeBoundS.toFixed(0),
        runs: runs,
        'largest payload KiB': (largest.bytes / 1024).toFixed(1),
        'largest is': largest.where,
        'status answer KiB': (statusBytes / 1024).toFixed(1),
        'fleet events / account': (fleetEvents / n).toFixed(2),
        'rotateKey events / account': perChild.toFixed(1),
      },
    ],
    notes: [
      `Every payload of the fleet's ${runs} runs (run and continue-as-new inputs, activity inputs and results, child inputs and results, the final result) and of ${Math.min(sample.length, CHILD_SAMPLE)} sampled rotateKey runs is measured as Temporal stores it (encoded by the payload codec); the status answer as JSON. Temporal's default limit is 2 MB per payload.`,
      "No emulated latency, but the worker still paces its ARM requests to the subscription's buckets (writes 200 + 10/s), so the wall time cannot be below the ARM write bound (N − 200) / 10 s.",
      `Accounts are started in compact form (grouped by subscription and resource group); ${options.accountsPerKey} accounts share each key, so ${keys} key versions are made (their RSA pairs stocked before the clock starts).`,
      'Checked: the fleet ends succeeded with every account counted, and the local Azure shows each key with exactly one new version and every account pinned to it.',
    ],
    summary: [
      {
        benchmark: `P5 fleet of ${n} accounts: completes, every payload bounded`,
        target: `completes; largest payload ≤ ${PAYLOAD_LIMIT / 1024 / 1024} MB`,
        reached: `completed in ${(wallMs / 1000).toFixed(0)} s; largest ${(largest.bytes / 1024).toFixed(1)} KiB (${largest.where}); ${(fleetEvents / n).toFixed(1)} + ${perChild.toFixed(0)} events per account`,
        met: largest.bytes <= PAYLOAD_LIMIT,
      },
    ],
  };
}
