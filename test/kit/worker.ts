/**
 * A runbook worker in this process, made by the production factory `createCmkWorker` (the one
 * `worker.ts`'s `main()` uses) with the run's shared workflow bundle and the test codec.
 */
import type { NativeConnection } from '@temporalio/worker';
import type { WorkerTrust } from '../../src/activities/settings';
import { DEFAULT_ARM_WRITES_PER_SECOND } from '../../src/shared/task-queues';
import { createCmkWorker, type CmkWorker, type CmkWorkerOptions } from '../../worker';
import { SEEDED } from './azure';
import { testDataConverter } from '../helpers/codec';
import { workflowBundle } from '../helpers/temporal';

/** What {@link startWorker} needs. */
export interface KitWorkerOptions {
  connection: NativeConnection;
  taskQueue: string;
  activities: object;
  trust: WorkerTrust;
  namespace?: string;
  tracing?: CmkWorkerOptions['tracing'];
  /** The run's shared bundle unless given (a traced bundle, say). */
  workflowBundle?: CmkWorkerOptions['workflowBundle'];
  /** Worker options beyond the short shutdown grace tests use. */
  options?: CmkWorkerOptions['options'];
  /** The ARM write queues it polls: the local Azure's seeded subscription at the default rate unless given. */
  armWrites?: CmkWorkerOptions['armWrites'];
  /** The rate per vault of Key Vault creates: the worker's default unless given. */
  keyVaultCreates?: CmkWorkerOptions['keyVaultCreates'];
}

/** A running worker: stop it, or stop and start a fresh one on the same task queue. */
export interface KitWorker {
  taskQueue: string;
  worker(): CmkWorker;
  /** Stops the worker (in-flight activities are cancelled) and starts a fresh one. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Starts a worker polling `taskQueue`; resolves once it runs. */
export async function startWorker(opts: KitWorkerOptions): Promise<KitWorker> {
  const bundle = opts.workflowBundle ?? (await workflowBundle());
  let worker: CmkWorker;
  let running: Promise<void> | undefined;
  const launch = async (): Promise<void> => {
    worker = await createCmkWorker({
      connection: opts.connection,
      namespace: opts.namespace ?? 'default',
      taskQueue: opts.taskQueue,
      activities: opts.activities,
      trust: opts.trust,
      workflowBundle: bundle,
      dataConverter: testDataConverter,
      ...(opts.tracing ? { tracing: opts.tracing } : {}),
      options: { shutdownGraceTime: '100ms', ...opts.options },
      armWrites: opts.armWrites ?? {
        subscriptionIds: [SEEDED.subscriptionId],
        perSecond: DEFAULT_ARM_WRITES_PER_SECOND,
      },
      ...(opts.keyVaultCreates ? { keyVaultCreates: opts.keyVaultCreates } : {}),
    });
    running = worker.run();
  };
  const stop = async (): Promise<void> => {
    if (!running) return;
    const done = running;
    running = undefined;
    worker.shutdown();
    await done;
  };
  await launch();
  return {
    taskQueue: opts.taskQueue,
    worker: () => worker,
    async restart() {
      await stop();
      await launch();
    },
    close: stop,
  };
}
