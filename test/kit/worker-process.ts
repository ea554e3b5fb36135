/**
 * The production worker as a child process (its `main`, through {@link WORKER_ENTRY}): configured
 * from the environment as production is, against the local Azure, with a policy and the test bot
 * key; for benchmarks (its memory from /proc) and suites that stop or kill it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Connection } from '@temporalio/client';
import { parse } from 'yaml';
import type { LocalAzure } from '../../src/local-azure';
import type { ApprovalPolicy } from '../../src/shared/approval';
import { TEST_PAYLOAD_ENV } from '../helpers/codec';
import { workerTrustEnv } from '../helpers/trust';
import { workerNodeFlags } from '../../src/workflow-threads';
import { WORKER_ENTRY } from './worker-entry';

const ROOT = path.resolve(__dirname, '../..');

/** Memory of a process from /proc: resident now and the high-water mark, in MiB. */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

/** The V8 heap limit docker-compose.yml gives the production worker (its NODE_OPTIONS), in MiB. */
export function deployedWorkerHeapMiB(): number {
  const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: { worker: { environment?: Record<string, string | undefined> } };
  };
  const heap = /--max-old-space-size=(\d+)/.exec(compose.services.worker.environment?.NODE_OPTIONS ?? '');
  if (!heap) throw new Error('docker-compose.yml gives the worker no --max-old-space-size');
  return Number(heap[1]);
}

/** The production worker as a child process. */
export interface WorkerProcess {
  pid: number;
  taskQueue: string;
  memory(): { rssMiB: number; peakMiB: number };
  /** Graceful stop (SIGTERM, as an orchestrator would). */
  stop(): Promise<void>;
}

/** What {@link startWorkerProcess} needs. */
export interface WorkerProcessOptions {
  /** The Temporal frontend the worker connects to. */
  address: string;
  /** A client connection on the same server, to see the worker poll. */
  connection: Connection;
  local: LocalAzure;
  taskQueue: string;
  /** The policy, read by the worker from the environment as production reads it. */
  policy: ApprovalPolicy;
  /** A prebuilt workflow bundle (else the worker bundles from source). */
  bundlePath?: string;
  /** Environment on top (tuning, a bot SDK). */
  env?: Record<string, string>;
  log?: (line: string) => void;
}

/**
 * The environment a production worker child reads: the local Azure's client settings, the
 * policy (its tenant as given) and test bot key, the Temporal address and task queue, the test
 * payload key.
 */
export function workerProcessEnv(
  options: Pick<WorkerProcessOptions, 'address' | 'local' | 'taskQueue' | 'policy' | 'bundlePath' | 'env'>,
): NodeJS.ProcessEnv {
  const { local } = options;
  return {
    ...process.env,
    ...local.env,
    // The policy and the test bot key, read by the worker as production reads them.
    ...workerTrustEnv(options.policy),
    TEMPORAL_ADDRESS: options.address,
    TEMPORAL_NAMESPACE: 'default',
    CMK_TASK_QUEUE: options.taskQueue,
    ...(options.bundlePath ? { CMK_KIT_WORKFLOW_BUNDLE: options.bundlePath } : {}),
    ...TEST_PAYLOAD_ENV,
    // Any free port for /metrics: several workers may run at once on a shared machine.
    CMK_METRICS_PORT: '0',
    MicrosoftAppId: '',
    MicrosoftAppPassword: '',
    ...options.env,
  };
}

/** Starts the worker child and resolves once it polls `taskQueue` (120 s at most). */
export async function startWorkerProcess(options: WorkerProcessOptions): Promise<WorkerProcess> {
  const { local, taskQueue } = options;
  // Bench people belong to the local Azure's tenant.
  const env = workerProcessEnv({ ...options, policy: { ...options.policy, tenantId: local.tenantId } });
  const { child, errors } = spawnEntry([...workerNodeFlags(), '--import', 'tsx', WORKER_ENTRY], env);
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the worker exited with ${child.exitCode}: ${errors()}`);
    const description = await options.connection.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: taskQueue },
    });
    // This process's own poller (the SDK's identity is `<pid>@<host>`): a worker stopped just
    // before on the same queue stays listed as a poller for a while.
    if ((description.pollers ?? []).some((p) => p.identity?.startsWith(`${child.pid}@`))) break;
    if (Date.now() > deadline) throw new Error(`the worker did not poll within 120 s: ${errors()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  options.log?.(`worker pid ${child.pid} polls ${taskQueue}`);
  return {
    pid: child.pid!,
    taskQueue,
    memory: () => memoryOf(child.pid!),
    stop: () => stopChild(child),
  };
}

/**
 * Spawns a production entry point (its Node arguments, e.g. `--import tsx worker.ts`) with `env`,
 * keeping the last 4,000 characters of its stderr. CMK_BENCH_CPU_PROF=<dir> writes a V8 CPU
 * profile of it there when it stops.
 */
export function spawnEntry(
  nodeArgs: string[],
  env: NodeJS.ProcessEnv,
): { child: ChildProcess; errors: () => string } {
  const profile = process.env.CMK_BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.CMK_BENCH_CPU_PROF}`]
    : [];
  const child = spawn(process.execPath, [...profile, ...nodeArgs], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    errors = (errors + chunk.toString()).slice(-4000);
  });
  return { child, errors: () => errors };
}

/** Stops a child as an orchestrator would: SIGTERM, SIGKILL after 15 s; resolves once it exited. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await once(child, 'exit');
  clearTimeout(timer);
}
