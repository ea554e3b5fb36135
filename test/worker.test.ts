import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createCmkWorker, connectToTemporal } from '../worker';
import { testDataConverter, testEnv, uniqueId, workflowBundle } from './helpers/temporal';
import { loadConfig } from '../src/config';
import { testPolicy } from './helpers/stack';
import { workerTrust } from './helpers/trust';

describe('worker', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await testEnv();
  });
  after(async () => {
    await env.teardown();
  });

  test('when the worker factory starts against the dev server, then its task queue lists a poller and it shuts down cleanly', async () => {
    const taskQueue = uniqueId('tq-worker');
    const worker = await createCmkWorker({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      activities: {},
      trust: workerTrust(testPolicy()),
      workflowBundle: await workflowBundle(),
      dataConverter: testDataConverter,
    });
    const running = worker.run();
    let pollers = 0;
    for (let i = 0; i < 100 && pollers === 0; i++) {
      const description = await env.client.workflowService.describeTaskQueue({
        namespace: env.namespace ?? 'default',
        taskQueue: { name: taskQueue },
      });
      pollers = description.pollers?.length ?? 0;
      if (pollers === 0) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(pollers > 0, 'the task queue has a poller');
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
