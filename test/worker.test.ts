import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createCmkWorker, connectToTemporal } from '../worker';
import { testDataConverter, testEnv, uniqueId, workflowBundle } from './helpers/temporal';
import { loadConfig } from '../src/config';
import { testPolicy } from './helpers/stack';
import { startSigned, workerTrust } from './helpers/trust';
import { armWriteQueue, keyVaultCreateQueue } from '../src/shared/task-queues';
import { WriteQueueRate } from '../src/activities/write-queue-rate';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { freePort, startDevServer } from '../scripts/temporal-dev-server';
import { ensureTemporalCli } from '../scripts/temporal-toolchain';

const SUBSCRIPTION = '3f1c9a2e-7b64-4d0e-a5c8-0000000000a1';

/**
 * The worker factory on `connection`, with a stub activity and the given ARM write settings; a
 * run's first step (loadRunSettings) is the worker's own, so runs can start on it.
 */
async function stubbedCmkWorker(
  connection: NativeConnection,
  taskQueue: string,
  armWrites: Parameters<typeof createCmkWorker>[0]['armWrites'],
  keyVaultCreates?: { perSecond: number },
): ReturnType<typeof createCmkWorker> {
  return createCmkWorker({
    connection,
    namespace: 'default',
    taskQueue,
    activities: { rotateKey: () => Promise.resolve() },
    trust: workerTrust(testPolicy()),
    workflowBundle: await workflowBundle(),
    dataConverter: testDataConverter,
    armWrites,
    ...(keyVaultCreates ? { keyVaultCreates } : {}),
  });
}

describe('worker', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await testEnv();
  });
  const startWorker = (
    taskQueue: string,
    armWrites: Parameters<typeof createCmkWorker>[0]['armWrites'],
    keyVaultCreates?: { perSecond: number },
  ) => stubbedCmkWorker(env.nativeConnection, taskQueue, armWrites, keyVaultCreates);
  after(async () => {
    await env.teardown();
  });

  test("when the worker factory starts against the dev server, then the runbooks' queue, each subscription's ARM write queue and the queue of Key Vault creates list its poller, the write queue at the configured rate, the creates queue holds the configured rate per vault and five times it in all (a subscription's limit), and it shuts down cleanly", async () => {
    const taskQueue = uniqueId('tq-worker');
    const worker = await startWorker(
      taskQueue,
      { subscriptionIds: [SUBSCRIPTION, SUBSCRIPTION.toUpperCase()], perSecond: 7 },
      { perSecond: 1.5 },
    );
    const running = worker.run();
    after(() => worker.getState() === 'RUNNING' && worker.shutdown());
    const writes = armWriteQueue(taskQueue, SUBSCRIPTION);
    const creates = keyVaultCreateQueue(taskQueue);
    assert.deepEqual(worker.taskQueues, [taskQueue, writes, creates]);
    assert.equal(worker.keyVaultPacing, 'per vault and subscription');
    assert.equal(worker.armWritePacing, "the workers' rate only (7/s)");
    const pollersOf = async (name: string, taskQueueType: number) => {
      for (let i = 0; i < 100; i++) {
        const description = await env.client.workflowService.describeTaskQueue({
          namespace: env.namespace ?? 'default',
          taskQueue: { name },
          taskQueueType,
        });
        if (description.pollers?.length) return description.pollers;
        await new Promise((r) => setTimeout(r, 100));
      }
      return [];
    };
    assert.ok((await pollersOf(taskQueue, 1)).length > 0, "the runbooks' queue has a workflow poller");
    const writePollers = await pollersOf(writes, 2);
    assert.ok(writePollers.length > 0, 'the write queue has an activity poller');
    assert.deepEqual(
      writePollers.map((p) => p.ratePerSecond),
      writePollers.map(() => 7),
    );
    assert.ok((await pollersOf(creates, 2)).length > 0, 'the creates queue has an activity poller');
    const { config } = await env.client.workflowService.describeTaskQueue({
      namespace: env.namespace ?? 'default',
      taskQueue: { name: creates },
      taskQueueType: 2,
      reportConfig: true,
    });
    assert.equal(config?.fairnessKeysRateLimitDefault?.rateLimit?.requestsPerSecond, 1.5);
    // And all creates to a subscription's limit, five times a vault's (Key Vault overview-throttling).
    assert.equal(config?.queueRateLimit?.rateLimit?.requestsPerSecond, 7.5);
    worker.shutdown();
    await running;
    assert.equal(worker.getState(), 'STOPPED');
  });

  test('when the worker steers the write queue and reads a full ARM write bucket, then the server holds the queue above the configured rate; when ARM answers 429, back at it', async () => {
    const taskQueue = uniqueId('tq-steered');
    const rate = new WriteQueueRate(7);
    const worker = await startWorker(taskQueue, { subscriptionIds: [SUBSCRIPTION], perSecond: 7, rate });
    const running = worker.run();
    after(() => worker.getState() === 'RUNNING' && worker.shutdown());
    assert.match(worker.armWritePacing, /^steered/);
    const queueRate = async (want: number): Promise<number | undefined> => {
      let seen: number | undefined;
      for (let i = 0; i < 100; i++) {
        const { config } = await env.client.workflowService.describeTaskQueue({
          namespace: env.namespace ?? 'default',
          taskQueue: { name: armWriteQueue(taskQueue, SUBSCRIPTION) },
          taskQueueType: 2,
          reportConfig: true,
        });
        const held = config?.queueRateLimit?.rateLimit?.requestsPerSecond;
        // The server holds the rate as a 32-bit float (73.7 comes back as 73.69999695).
        seen = held === undefined || held === null ? undefined : Math.round(held * 10) / 10;
        if (seen === want) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      return seen;
    };
    assert.equal(await queueRate(7), 7, 'set to the configured rate when the worker starts');
    rate.observe(SUBSCRIPTION, 'writes', 200);
    assert.equal(await queueRate(73.7), 73.7, '7 + 200 / 3');
    rate.observe(SUBSCRIPTION.toUpperCase(), 'writes', 0);
    assert.equal(await queueRate(7), 7);
    worker.shutdown();
    await running;
  });

  test("when the write queues' steering would fall back to another rate than the configured one, then the worker refuses to start", async () => {
    await assert.rejects(
      startWorker(uniqueId('tq-floor'), {
        subscriptionIds: [SUBSCRIPTION],
        perSecond: 7,
        rate: new WriteQueueRate(9),
      }),
      /falls back to 9\/s, not the configured 7\/s/,
    );
  });

  test('when TEMPORAL_ADDRESS points at nothing, then connecting fails within seconds and names the key', async () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: '127.0.0.1:1' }, ['temporal']);
    const started = Date.now();
    await assert.rejects(connectToTemporal(config.temporal, 5_000), /TEMPORAL_ADDRESS/);
    assert.ok(Date.now() - started < 8_000);
  });
});

describe("the project's dev server", () => {
  test('when a run schedules an activity on its own task queue, then the server hands it to the worker with the workflow task that scheduled it (eager dispatch: activity_eager_execution counts it)', async () => {
    const metricsPort = await freePort();
    const server = await startDevServer({ cli: ensureTemporalCli().path, metricsPort });
    after(() => server.stop());
    const eagerDispatches = async (): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return text
        .split('\n')
        .filter((line) => line.startsWith('activity_eager_execution'))
        .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
    };
    const connection = await NativeConnection.connect({ address: server.address });
    const clientConnection = await Connection.connect({ address: server.address });
    after(() => Promise.all([connection.close(), clientConnection.close()]));
    const taskQueue = uniqueId('tq-eager');
    const worker = await stubbedCmkWorker(connection, taskQueue, {
      subscriptionIds: [SUBSCRIPTION],
      perSecond: 7,
    });
    const running = worker.run();
    const before = await eagerDispatches();
    const client = new Client({ connection: clientConnection, dataConverter: testDataConverter });
    const handle = await startSigned(
      client,
      'disable',
      {
        account: { subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-eager', name: 'steager' },
        requester: { aadObjectId: '00000000-0000-4000-8000-0000000000e1', name: 'Eager Requester' },
      },
      taskQueue,
    );
    let seen = before;
    for (let i = 0; i < 100 && seen === before; i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await eagerDispatches();
    }
    await handle.terminate('test done');
    worker.shutdown();
    await running;
    assert.ok(seen > before, `activity_eager_execution went from ${before} to ${seen}`);
  });
});
