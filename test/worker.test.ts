import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createCmkWorker, connectToTemporal } from '../worker';
import { testDataConverter, testEnv, uniqueId, workflowBundle } from './helpers/temporal';
import { loadConfig } from '../src/config';
import { testPolicy } from './helpers/stack';
import { workerTrust } from './helpers/trust';
import { armWriteQueue } from '../src/shared/task-queues';

const SUBSCRIPTION = '3f1c9a2e-7b64-4d0e-a5c8-0000000000a1';

describe('worker', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await testEnv();
  });
  after(async () => {
    await env.teardown();
  });

  test("when the worker factory starts against the dev server, then the runbooks' queue and each subscription's ARM write queue list its poller, the write queue at the configured rate, and it shuts down cleanly", async () => {
    const taskQueue = uniqueId('tq-worker');
    const worker = await createCmkWorker({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      activities: { rotateKey: () => Promise.resolve() },
      trust: workerTrust(testPolicy()),
      workflowBundle: await workflowBundle(),
      dataConverter: testDataConverter,
      armWrites: { subscriptionIds: [SUBSCRIPTION, SUBSCRIPTION.toUpperCase()], perSecond: 7 },
    });
    const writes = armWriteQueue(taskQueue, SUBSCRIPTION);
    assert.deepEqual(worker.taskQueues, [taskQueue, writes]);
    const running = worker.run();
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
    worker.shutdown();
    await running;
    assert.equal(worker.getState(), 'STOPPED');
  });

  test('when TEMPORAL_ADDRESS points at nothing, then connecting fails within seconds and names the key', async () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: '127.0.0.1:1' }, ['temporal']);
    const started = Date.now();
    await assert.rejects(connectToTemporal(config.temporal, 5_000), /TEMPORAL_ADDRESS/);
    assert.ok(Date.now() - started < 8_000);
  });
});
