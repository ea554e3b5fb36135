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
import type { RequestLog } from '../src/local-azure';
import { clearKeyPairStock, generateKeyPairs, stockKeyPairs } from '../src/local-azure/rsa';
import { workflowIdFor } from '../src/shared/accounts';
import { statusQuery } from '../src/shared/approval';
import { groupAccounts } from '../src/shared/fleet-tally';
import type { FleetRotateInput, RunResult } from '../src/shared/runbooks';
import { signedStartOptions } from '../test/helpers/trust';
import { approveWhenAsked, fleetResult, POLICY, REQUESTER, seedFleetFile } from './p1-fleet';
import { check, progress, type BenchOutcome } from './report';
import { cpuMeter, type CpuSpent } from './cpu';
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

/** What one history costs Temporal: events, workflow tasks, activities and bytes as stored. */
export interface HistoryCost {
  events: number;
  workflowTasks: number;
  activities: number;
  /** The history as the server stores and sends it (encoded protobuf, payloads sealed by the codec). */
  bytes: number;
}

/** Sizes of every payload in a history, by where it was, its cost, and the run that continued from it. */
function payloadsOf(history: temporal.api.history.v1.IHistory): {
  largest: { bytes: number; where: string };
  cost: HistoryCost;
  /** The run's own input (the first run's grows with the fleet, about 20 bytes per account). */
  inputBytes: number;
  next?: string;
} {
  let largest = { bytes: 0, where: '' };
  let next: string | undefined;
  const cost: HistoryCost = {
    events: history.events?.length ?? 0,
    workflowTasks: 0,
    activities: 0,
    bytes: temporal.api.history.v1.History.encode(history).finish().length,
  };
  const see = (p: Payloads, where: string): void => {
    const bytes = bytesOf(p);
    if (bytes > largest.bytes) largest = { bytes, where };
  };
  for (const e of history.events ?? []) {
    if (e.workflowTaskCompletedEventAttributes) cost.workflowTasks++;
    if (e.activityTaskScheduledEventAttributes) cost.activities++;
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
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input;
  return { largest, cost, inputBytes: bytesOf(started), ...(next ? { next } : {}) };
}

/** Adds `b` to `a`. */
function addCost(a: HistoryCost, b: HistoryCost): void {
  a.events += b.events;
  a.workflowTasks += b.workflowTasks;
  a.activities += b.activities;
  a.bytes += b.bytes;
}

const zeroCost = (): HistoryCost => ({ events: 0, workflowTasks: 0, activities: 0, bytes: 0 });

/** Runs P5 and returns its tables: the fleet's, and what one rotation cost. */
export async function runP5(temporal: BenchTemporal, options: P5Options): Promise<BenchOutcome[]> {
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
  let cpu: CpuSpent;
  let requests = '';
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
    const meter = cpuMeter({ worker: worker.pid, temporal: temporal.server.process.pid });
    const t0 = performance.now();
    handle = await temporal.client.workflow.start(workflowType, start);
    await approveWhenAsked(handle, local.tenantId);
    result = await fleetResult(handle, 'P5', fleet.length, 30_000);
    wallMs = performance.now() - t0;
    cpu = meter.stop();
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
    requests = requestsPerRotation(local.requestLog, fleet.length);
  } finally {
    await local.close();
  }

  // The fleet's chain of runs, payload by payload.
  let runId: string | undefined = handle.firstExecutionRunId;
  let runs = 0;
  const fleetCost = zeroCost();
  let largest = { bytes: 0, where: '' };
  let firstInputBytes = 0;
  while (runId) {
    const seen = payloadsOf(
      await temporal.client.workflow.getHandle(handle.workflowId, runId).fetchHistory(),
    );
    runs++;
    if (runs === 1) firstInputBytes = seen.inputBytes;
    addCost(fleetCost, seen.cost);
    if (seen.largest.bytes > largest.bytes) largest = seen.largest;
    runId = seen.next;
  }
  const childCost = zeroCost();
  const sample = fleet.filter((_, i) => i % Math.max(1, Math.floor(fleet.length / CHILD_SAMPLE)) === 0);
  for (const f of sample.slice(0, CHILD_SAMPLE)) {
    const child = payloadsOf(
      await temporal.client.workflow.getHandle(workflowIdFor(f.account)).fetchHistory(),
    );
    addCost(childCost, child.cost);
    if (child.largest.bytes > largest.bytes)
      largest = { ...child.largest, where: `rotateKey ${child.largest.where}` };
  }
  const sampled = Math.min(sample.length, CHILD_SAMPLE);
  const perChild = childCost.events / sampled;
  const n = fleet.length;
  const fleetEvents = fleetCost.events;
  const writeBoundS = Math.max(0, (n - 200) / 10);
  const fleetTable: BenchOutcome = {
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
        'first run input KiB': (firstInputBytes / 1024).toFixed(1),
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
  const cost = rotationCost(n, fleetCost, childCost, sampled, cpu, runs);
  cost.notes.unshift(
    `Azure requests per rotated account (every attempt, from the local Azure's log): ${requests}.`,
  );
  return [fleetTable, cost];
}

/**
 * What one rotated account costs: Temporal's work (workflow tasks, activities, history events and
 * bytes) for the fleet's share and for the account's own `rotateKey` run, and CPU per process.
 */
function rotationCost(
  accounts: number,
  fleet: HistoryCost,
  children: HistoryCost,
  sampled: number,
  cpu: CpuSpent,
  runs: number,
): BenchOutcome {
  const row = (part: string, c: HistoryCost, per: number): Record<string, string> => ({
    part,
    'workflow tasks': (c.workflowTasks / per).toFixed(2),
    activities: (c.activities / per).toFixed(2),
    'history events': (c.events / per).toFixed(1),
    'history bytes': (c.bytes / per).toFixed(0),
  });
  const total = zeroCost();
  addCost(total, { ...fleet });
  const perChild = (k: keyof HistoryCost): number => (children[k] / sampled) * accounts;
  addCost(total, {
    events: perChild('events'),
    workflowTasks: perChild('workflowTasks'),
    activities: perChild('activities'),
    bytes: perChild('bytes'),
  });
  const ms = (s: number): string => `${((s / accounts) * 1000).toFixed(1)} ms`;
  return {
    title: `Cost of one rotation (P5, ${accounts} pinned accounts, no emulated latency)`,
    table: [
      row(`fleet's share (${runs} run(s) / ${accounts})`, fleet, accounts),
      row(`rotateKey run (mean of ${sampled})`, children, sampled),
      row('one rotated account', total, accounts),
    ],
    notes: [
      `CPU per rotated account (user + system, while the fleet ran): worker ${ms(cpu.worker)}, Temporal dev server ${ms(cpu.temporal)}, local Azure and bench client ${ms(cpu.bench)}; total ${ms(cpu.worker + cpu.temporal + cpu.bench)}.`,
      'History bytes are the histories as the server returns them (encoded protobuf, every payload sealed by the codec). Workflow tasks are completed ones; activities are scheduled ones (retries are attempts of one activity and add no events).',
    ],
    summary: [],
  };
}

/** Azure requests per rotated account by kind, as the local Azure logged them while the fleet ran. */
function requestsPerRotation(log: RequestLog, accounts: number): string {
  const entries = log.entries();
  const count = (test: (e: (typeof entries)[number]) => boolean): string =>
    (entries.filter(test).length / accounts).toFixed(2);
  return [
    `ARM reads ${count((e) => e.service === 'arm' && e.method === 'GET')}`,
    `ARM writes ${count((e) => e.service === 'arm' && e.method !== 'GET')}`,
    `Key Vault creates ${count((e) => e.service === 'keyvault' && /^keys\.(create|rotate)$/.test(e.operation))}`,
    `other Key Vault ${count((e) => e.service === 'keyvault' && !/^keys\.(create|rotate)$/.test(e.operation))}`,
    `blob ${count((e) => e.service === 'blob')}`,
    `Entra token ${count((e) => e.service === 'entra')}`,
  ].join(', ');
}
