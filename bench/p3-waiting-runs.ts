/**
 * P3: N configure runs waiting on approval, held by one production worker (a child process):
 * its RSS while they pile up (peak) and once they all wait (settled); then the worker is
 * restarted and a sample is queried and a smaller sample approved to completion.
 * Temporal runs on a persistent SQLite file, as a real deployment keeps its history.
 */
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { decideUpdate, statusQuery, type ApprovalPolicy, type Person } from '../src/shared/approval';
import type { AccountRef } from '../src/shared/accounts';
import type { ConfigureCmkInput, RunResult } from '../src/shared/runbooks';
import { signedDecision, signedStartOptions } from '../test/helpers/trust';
import { check, progress, type BenchOutcome } from './report';
import {
  addBenchAccount,
  addBenchVault,
  forEachLimited,
  SCRATCH,
  startBenchAzure,
  startTemporal,
  startWorkerProcess,
  type WorkerProcess,
} from './stack';

/** Options of {@link runP3}. */
export interface P3Options {
  runs: number;
  /**
   * The worker's V8 old-space limit (`--max-old-space-size`) as its container sets it
   * (`deployedWorkerHeapMiB` in test/kit/worker-process.ts), or `node` for Node's default (about 4 GiB here).
   */
  heapMiB: number | 'node';
}

const REQUESTER: Person = { aadObjectId: '00000000-0000-4000-8000-00000000b301', name: 'Bench Requester' };
const APPROVER: Person = { aadObjectId: '00000000-0000-4000-8000-00000000b302', name: 'Bench Approver' };
const TARGET_MIB = 1024;
const QUERY_SAMPLE = 200;
const APPROVE_SAMPLE = 20;

/** Samples the worker's RSS every 500 ms until stopped; the peak is also read from VmHWM. */
function sampleMemory(worker: WorkerProcess): { stop(): number } {
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, worker.memory().rssMiB);
  }, 500);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, worker.memory().peakMiB);
    },
  };
}

function sample<T>(items: readonly T[], count: number): T[] {
  const step = Math.max(1, Math.floor(items.length / count));
  return items.filter((_, i) => i % step === 0).slice(0, count);
}

/** Runs P3 on its own persistent Temporal server and returns its table. */
export async function runP3(options: P3Options): Promise<BenchOutcome> {
  const temporal = await startTemporal({
    dbFile: path.join(SCRATCH, `p3-temporal-${randomUUID().slice(0, 8)}.db`),
  });
  const local = await startBenchAzure({ throttling: false });
  const taskQueue = `bench-p3-${randomUUID().slice(0, 8)}`;
  const vaultName = `kv-p3-${randomUUID().slice(0, 8)}`;
  addBenchVault(local, vaultName);
  const tag = randomUUID().slice(0, 6);
  const accounts: AccountRef[] = [];
  for (let i = 0; i < options.runs; i++)
    accounts.push(addBenchAccount(local, `stp3${tag}${String(i).padStart(6, '0')}`));
  const policy: ApprovalPolicy = {
    approvers: { configure: [APPROVER.aadObjectId] },
    quorum: {},
    deadline: '7d',
    alwaysApprove: ['configure'],
    tenantId: local.tenantId,
    requesters: { configure: [REQUESTER.aadObjectId] },
  };
  const pendingQuery = `TaskQueue = "${taskQueue}" AND ApprovalStatus = "pending" AND ExecutionStatus = "Running"`;
  const workerEnv: Record<string, string> =
    options.heapMiB === 'node'
      ? {}
      : { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=${options.heapMiB}`.trim() };
  let worker = await startWorkerProcess(temporal, local, taskQueue, policy, workerEnv);
  const idle = worker.memory().rssMiB;
  const workflowIds: string[] = [];
  let peak = 0;
  let settled = 0;
  let answered = 0;
  let completed = 0;
  let fillMs = 0;
  try {
    const memory = sampleMemory(worker);
    const t0 = performance.now();
    await forEachLimited(accounts, 32, async (account, i) => {
      const input: ConfigureCmkInput = {
        account,
        vault: { name: vaultName, resourceGroup: 'rg-keys' },
        key: { name: `cmk-${i}`, type: 'RSA', size: 2048 },
        identity: { type: 'SystemAssigned' },
        pinVersion: false,
        requester: REQUESTER,
      };
      const { workflowType, ...start } = await signedStartOptions('configure', input, taskQueue, {
        tenantId: local.tenantId,
      });
      await temporal.client.workflow.start(workflowType, start);
      workflowIds.push(start.workflowId);
      if ((i + 1) % 1000 === 0) progress(`P3 started ${i + 1}/${options.runs}`);
    });
    for (let waiting = 0; ;) {
      waiting = (await temporal.client.workflow.count(pendingQuery)).count;
      if (waiting >= options.runs) break;
      const ended = (
        await temporal.client.workflow.count(`TaskQueue = "${taskQueue}" AND ExecutionStatus != "Running"`)
      ).count;
      check(ended === 0, `P3 ${ended} run(s) ended instead of waiting for approval`);
      progress(
        `P3 ${waiting}/${options.runs} wait for approval; worker RSS ${worker.memory().rssMiB.toFixed(0)} MiB`,
      );
      await new Promise((r) => setTimeout(r, 5_000));
    }
    fillMs = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 10_000));
    settled = worker.memory().rssMiB;
    peak = memory.stop();
    progress(
      `P3 all ${options.runs} wait; peak ${peak.toFixed(0)} MiB, settled ${settled.toFixed(0)} MiB; restarting the worker`,
    );

    await worker.stop();
    worker = await startWorkerProcess(temporal, local, taskQueue, policy, workerEnv);
    const queried = sample(workflowIds, QUERY_SAMPLE);
    await forEachLimited(queried, 16, async (id) => {
      const status = await temporal.client.workflow.getHandle(id).query(statusQuery);
      if (status.approval.state === 'pending') answered++;
    });
    const approved = sample(workflowIds, APPROVE_SAMPLE);
    await forEachLimited(approved, APPROVE_SAMPLE, async (id) => {
      const handle = temporal.client.workflow.getHandle(id);
      const status = await handle.query(statusQuery);
      await handle.executeUpdate(decideUpdate, {
        args: [await signedDecision(status, APPROVER, 'approve', { tenantId: local.tenantId })],
      });
      const result = (await handle.result()) as RunResult;
      if (result.outcome === 'succeeded') completed++;
    });
  } finally {
    await worker.stop();
    await local.close();
    await temporal.stop();
  }
  check(
    answered === Math.min(QUERY_SAMPLE, options.runs),
    `P3 only ${answered} sampled runs answered after the restart`,
  );
  check(
    completed === Math.min(APPROVE_SAMPLE, options.runs),
    `P3 only ${completed} approved runs completed after the restart`,
  );
  return {
    title: `P3 · ${options.runs} runs waiting on approval, one worker`,
    table: [
      {
        runs: options.runs,
        'worker heap limit': options.heapMiB === 'node' ? 'node default' : `${options.heapMiB} MiB`,
        'worker RSS idle MiB': idle.toFixed(0),
        'peak MiB': peak.toFixed(0),
        'settled MiB': settled.toFixed(0),
        'fill s': (fillMs / 1000).toFixed(0),
        'queried after restart': `${answered}/${Math.min(QUERY_SAMPLE, options.runs)}`,
        'approved → succeeded': `${completed}/${Math.min(APPROVE_SAMPLE, options.runs)}`,
      },
    ],
    notes: [
      "The worker caches at most CMK_WORKER_MAX_CACHED_WORKFLOWS runs (default 1,000); the rest are evicted and replayed when they wake. Its heap limit is the one docker-compose.yml gives the worker inside its 1 GiB container (--p3-heap-mib=N to change it, =node for Node's default, under which V8 lets garbage grow towards about 4 GiB here before collecting).",
      'Each run is configureCmk with an approval-always policy: preflight, then it waits on the `decide` update with a 7-day deadline timer. RSS is VmRSS of the worker process from /proc (peak = max of 0.5 s samples and VmHWM; settled = 10 s after the last run started waiting).',
      'After a graceful worker restart (SIGTERM, then a new process), a sample is queried (`status` answers pending from replayed history) and a smaller sample approved via the `decide` update and run to completion.',
    ],
    summary: [
      {
        benchmark: `P3 worker RSS with ${options.runs} waiting runs`,
        target: `≤ 1 GiB (${TARGET_MIB} MiB) with 10000 runs`,
        reached: `peak ${peak.toFixed(0)} MiB, settled ${settled.toFixed(0)} MiB; ${answered}/${Math.min(QUERY_SAMPLE, options.runs)} resumable`,
        met: peak <= TARGET_MIB && options.runs >= 10_000,
      },
    ],
  };
}
