/**
 * P6: is a rate Temporal's server enforces one budget however many workers poll? A workflow
 * schedules W ARM writes at once on one task queue, drained by 1, 2 or 4 worker processes whose
 * only pacing is the queue's server-enforced rate (`maxTaskQueueActivitiesPerSecond`), against
 * the local Azure's write bucket; a last row gives 4 workers a per-process rate
 * (`maxActivitiesPerSecond`) instead, which is what per-worker pacing amounts to. The question
 * this answers comes before routing the runbooks' ARM writes through such a queue.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { armStats } from './p1-stats';
import { check, progress, type BenchOutcome } from './report';
import { addBenchAccount, startBenchAzure, type BenchTemporal } from './stack';
import { P6_WORKER_ENTRY } from './p6/worker';
import type { armWrites, WriteTarget } from './p6/workflows';

/** Options of {@link runP6}. */
export interface P6Options {
  /** ARM writes per row. */
  writes: number;
  /** The rate each row's pacing is set to, per second (ARM's refill is 10). */
  rate: number;
}

/** The write bucket every row starts from: ARM's refill of 10/s, a small burst so the refill dominates. */
const BUCKET = { burst: 20, refillPerSecond: 10 };
const ACCOUNTS = 40;

interface Row {
  way: string;
  workers: number;
  wallS: number;
  ok: number;
  throttled: number;
  /** Writes still throttled after the SDK's retries. */
  failed: number;
}

async function startRateWorker(
  temporal: BenchTemporal,
  env: Record<string, string>,
  queue: string,
  mode: 'queue' | 'worker',
  rate: number,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', P6_WORKER_ENTRY], {
    env: {
      ...process.env,
      ...env,
      TEMPORAL_ADDRESS: temporal.server.address,
      P6_QUEUE: queue,
      P6_MODE: mode,
      P6_RATE: String(rate),
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const deadline = Date.now() + 120_000;
  for (;;) {
    check(child.exitCode === null, `P6 worker exited with ${child.exitCode}`);
    const d = await temporal.connection.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: queue },
      taskQueueType: 2, // activity
    });
    if ((d.pollers ?? []).some((p) => p.identity?.startsWith(`${child.pid}@`))) return child;
    check(Date.now() < deadline, 'P6 worker did not poll within 120 s');
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs P6 and returns its table. */
export async function runP6(temporal: BenchTemporal, options: P6Options): Promise<BenchOutcome> {
  const local = await startBenchAzure({ armLimits: { writes: BUCKET } });
  const targets: WriteTarget[] = Array.from({ length: ACCOUNTS }, (_, i) =>
    addBenchAccount(local, `stp6${randomUUID().replace(/-/g, '').slice(0, 8)}${i}`),
  );
  const client = new Client({ connection: temporal.connection, namespace: 'default' });
  const connection = await NativeConnection.connect({ address: temporal.server.address });
  const wfQueue = `bench-p6-wf-${randomUUID().slice(0, 8)}`;
  const wfWorker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue: wfQueue,
    workflowsPath: require.resolve('./p6/workflows'),
  });
  const running = wfWorker.run();
  const rows: Row[] = [];
  const plan: { workers: number; mode: 'queue' | 'worker' }[] = [
    { workers: 1, mode: 'queue' },
    { workers: 2, mode: 'queue' },
    { workers: 4, mode: 'queue' },
    { workers: 4, mode: 'worker' },
  ];
  try {
    for (const { workers, mode } of plan) {
      // A fresh queue per row: the server keeps a queue's last rate for a while.
      const queue = `bench-p6-arm-${randomUUID().slice(0, 8)}`;
      const children: ChildProcess[] = [];
      try {
        for (let i = 0; i < workers; i++)
          children.push(await startRateWorker(temporal, local.env, queue, mode, options.rate));
        // Let the bucket fill to its burst again after the previous row.
        await new Promise((r) => setTimeout(r, (BUCKET.burst / BUCKET.refillPerSecond) * 1000 + 500));
        local.requestLog.clear();
        const startedAt = Date.now();
        const t0 = performance.now();
        const failed = await client.workflow.execute<typeof armWrites>('armWrites', {
          taskQueue: wfQueue,
          workflowId: `p6-${queue}`,
          args: [
            { queue, targets: Array.from({ length: options.writes }, (_, i) => targets[i % ACCOUNTS]!) },
          ],
        });
        const wallS = (performance.now() - t0) / 1000;
        const stats = armStats(local.requestLog, startedAt);
        check(
          stats.writesOk + failed === options.writes,
          `P6: ${stats.writesOk} writes succeeded and ${failed} failed of ${options.writes}`,
        );
        rows.push({ way: mode, workers, wallS, ok: stats.writesOk, throttled: stats.writes429, failed });
        progress(
          `P6 ${workers} worker(s), ${mode} rate: ${wallS.toFixed(1)} s, ${stats.writes429} write 429s`,
        );
      } finally {
        for (const c of children) {
          c.kill('SIGTERM');
          await once(c, 'exit');
        }
      }
    }
  } finally {
    wfWorker.shutdown();
    await running;
    await connection.close();
    await local.close();
  }
  const bound = Math.max(0, (options.writes - BUCKET.burst) / BUCKET.refillPerSecond);
  const queueRows = rows.filter((r) => r.way === 'queue');
  const share = (r: Row): number => r.throttled / (r.throttled + r.ok);
  const rates = queueRows.map((r) => r.ok / r.wallS);
  const spread = (Math.max(...rates) - Math.min(...rates)) / Math.max(...rates);
  return {
    title: `P6 · one server-enforced rate, ${options.writes} ARM writes, 1/2/4 worker processes (write bucket ${BUCKET.burst} + ${BUCKET.refillPerSecond}/s)`,
    table: rows.map((r) => ({
      pacing:
        r.way === 'queue'
          ? `task queue rate ${options.rate}/s (server)`
          : `${options.rate}/s per worker process (maxActivitiesPerSecond)`,
      'worker processes': r.workers,
      'wall s': r.wallS.toFixed(1),
      'writes/s': (r.ok / r.wallS).toFixed(2),
      'writes ok': r.ok,
      'write 429s': r.throttled,
      '429 share %': (share(r) * 100).toFixed(1),
      'writes failed': r.failed,
      'bucket bound s': bound.toFixed(0),
    })),
    notes: [
      `A workflow schedules ${options.writes} activities at once on one task queue; each is one PATCH of a storage account through the production ARM client with the worker's own pacing off (the SDK retries a 429 up to 3 times, honouring Retry-After). The local Azure's write bucket is shrunk to a burst of ${BUCKET.burst} with ARM's refill of ${BUCKET.refillPerSecond}/s, so the refill, not the burst, decides.`,
      "Temporal's server divides a task queue's rate over the queue's read partitions and gives each a burst of ceil(rate / partitions): the queue dispatches at the rate from the first task, without ARM's burst.",
      'Worker processes, the local Azure, the Temporal dev server and this process share the same 2 cores.',
    ],
    summary: [
      {
        benchmark: 'P6 server-enforced rate is one budget: 1, 2, 4 workers',
        target: 'same throughput (±10 %), ≤ 5 % 429s',
        reached: queueRows
          .map((r) => `${r.workers}: ${(r.ok / r.wallS).toFixed(1)}/s, ${(share(r) * 100).toFixed(1)} % 429`)
          .join('; '),
        met: spread <= 0.1 && queueRows.every((r) => share(r) <= 0.05 && r.failed === 0),
      },
    ],
  };
}
