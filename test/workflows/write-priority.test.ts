/**
 * A run someone started goes before a fleet's backlog on the subscription's ARM write queue
 * (Temporal's task priority: lower `priorityKey` first): the real Temporal server, the local
 * Azure and the real activities, with the queue held to one write a second so a backlog forms.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { groupAccounts } from '../../src/shared/fleet-tally';
import type { RunResult } from '../../src/shared/runbooks';
import { seedFleet } from '../../bench/p1-seed';
import {
  ChatRecorder,
  localAzure,
  quickAzure,
  SEEDED,
  startWorker,
  type KitAzure,
  type KitWorker,
} from '../kit';
import { beforeAll } from '../kit/suite';
import { PEOPLE, resultOf, testPolicy } from '../helpers/stack';
import { testEnv, uniqueId } from '../helpers/temporal';
import { startSigned, workerTrust } from '../helpers/trust';
import { decide, waitForStatus } from './support';

/** Writes a second on the seeded subscription's queue: a fleet of 8 keeps a backlog for seconds. */
const WRITES_PER_SECOND = 1;

async function startSlowQueue(): Promise<{ azure: KitAzure; worker: KitWorker; close(): Promise<void> }> {
  const env = await testEnv();
  const azure = await localAzure(quickAzure('write-priority'));
  const worker = await startWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue: uniqueId('tq-priority'),
    activities: azure.activities({ chat: new ChatRecorder() }),
    trust: workerTrust(testPolicy()),
    armWrites: { subscriptionIds: [SEEDED.subscriptionId], perSecond: WRITES_PER_SECOND },
    // Key Vault creates unpaced here, so the fleet's writes reach their queue together.
    keyVaultCreates: { perSecond: 100 },
  });
  return {
    azure,
    worker,
    async close() {
      await worker.close();
      await azure.close();
    },
  };
}

describe("a chat run's write and a fleet's backlog on one write queue", () => {
  const s = beforeAll(startSlowQueue);

  test("when a fleet's rotations wait on the subscription's write queue and someone rotates another account from chat, then that account's write goes before the fleet's waiting ones, and every account is rotated", async () => {
    const { client } = await testEnv();
    const log = s.azure.local.requestLog;
    const fleet = await seedFleet(s.azure.local, 8);
    const [alone] = await seedFleet(s.azure.local, 1);
    const since = new Date();
    const context = { requester: PEOPLE.requester, conversation: { id: uniqueId('conv') } };
    const fleetRun = await startSigned(
      client,
      'fleetRotate',
      { accounts: [], groups: groupAccounts(fleet.map((f) => f.account)), concurrency: 8, ...context },
      s.worker.taskQueue,
    );
    await waitForStatus(fleetRun, (st) => st.stage === 'awaiting-approval');
    await decide(fleetRun, PEOPLE.alice, 'approve');
    // The fleet's first writes answered: the others wait on the queue's one a second.
    const patches = () => log.entries({ service: 'arm', method: 'PATCH', since });
    for (let i = 0; i < 300 && patches().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(patches().length >= 1, 'the fleet wrote before the chat run started');

    const chatRun: WorkflowHandle = await startSigned(
      client,
      'rotate',
      { account: alone!.account, ...context },
      s.worker.taskQueue,
    );
    const rotated = await resultOf(chatRun);
    assert.equal(rotated.outcome, 'succeeded', rotated.message);
    const fleetResult = (await fleetRun.result()) as RunResult;
    assert.deepEqual(fleetResult.fleetCounts, { succeeded: 8 }, fleetResult.message);

    const order = patches().map((e) => e.path.split('/').at(-1));
    assert.equal(order.length, 9, order.join(', '));
    const at = order.indexOf(alone!.account.name);
    // First come, first served, it would be the last: the fleet's 8 were queued before it.
    assert.ok(
      at >= 1 && order.length - 1 - at >= 3,
      `the chat run's write came ${at + 1}th of 9, before ${order.length - 1 - at} of the fleet's: ${order.join(', ')}`,
    );
  });
});
