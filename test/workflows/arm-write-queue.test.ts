/**
 * Every ARM write of every runbook spends its subscription's one budget: it is dispatched on
 * that subscription's write queue (whose rate Temporal's server holds across every worker), while
 * reads and Key Vault data-plane calls stay on the runbooks' queue. Real Temporal, the local Azure
 * and the real activities; the queue each activity ran on is read from the run's history.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { AccountRef } from '../../src/shared/accounts';
import type { RunResult } from '../../src/shared/runbooks';
import { armWriteQueue, DEFAULT_ARM_WRITES_PER_SECOND } from '../../src/shared/task-queues';
import type { InputByOperation } from '../../src/shared/start';
import type { Operation } from '../../src/shared/runbooks';
import { ChatRecorder, localAzure, quickAzure, SEEDED, startWorker, type KitWorker } from '../kit';
import type { KitAzure } from '../kit';
import { beforeAll } from '../kit/suite';
import { chatActivities, PEOPLE, resultOf, startStack, testPolicy } from '../helpers/stack';
import { testEnv, uniqueId } from '../helpers/temporal';
import { startSigned, workerTrust } from '../helpers/trust';
import { decide, waitForApproval, waitForStatus } from './support';

/** Two workers over the same real activities: one polls the seeded subscription's write queue, one polls none. */
interface QueueStack {
  azure: KitAzure;
  chat: ChatRecorder;
  /** The worker configured with the seeded subscription (CMK_SUBSCRIPTION_IDS). */
  paced: KitWorker;
  /** A worker whose configuration names no subscription: it polls the runbooks' queue only. */
  unpaced: KitWorker;
  close(): Promise<void>;
}

async function startQueueStack(): Promise<QueueStack> {
  const env = await testEnv();
  const azure = await localAzure(quickAzure('arm-write-queue'));
  const chat = new ChatRecorder();
  const activities = azure.activities({ chat });
  const worker = (subscriptionIds: string[]) =>
    startWorker({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue: uniqueId('tq-writes'),
      activities,
      trust: workerTrust(testPolicy({ alwaysApprove: ['configure'] })),
      armWrites: { subscriptionIds, perSecond: DEFAULT_ARM_WRITES_PER_SECOND },
    });
  const paced = await worker([SEEDED.subscriptionId]);
  const unpaced = await worker([]);
  return {
    azure,
    chat,
    paced,
    unpaced,
    async close() {
      await paced.close();
      await unpaced.close();
      await azure.close();
    },
  };
}

/** The task queue each activity of the run was scheduled on, by activity type (each type once). */
async function queuesOf(handle: WorkflowHandle): Promise<Record<string, string[]>> {
  const queues: Record<string, string[]> = {};
  for (const e of (await handle.fetchHistory()).events ?? []) {
    const a = e.activityTaskScheduledEventAttributes;
    if (!a) continue;
    const list = (queues[a.activityType!.name!] ??= []);
    if (!list.includes(a.taskQueue!.name!)) list.push(a.taskQueue!.name!);
  }
  return queues;
}

interface ArmAccount {
  identity?: { principalId?: string };
  properties: { encryption: { keySource: string; keyvaultproperties?: { keyname?: string } } };
}

describe("every runbook's ARM writes on its subscription's write queue", () => {
  const s = beforeAll(startQueueStack);
  const context = () => ({ requester: PEOPLE.requester, conversation: { id: uniqueId('conv') } });
  const arm = (a: AccountRef) =>
    s.azure.local.state.getStorageAccount(a.subscriptionId, a.resourceGroup, a.name) as unknown as ArmAccount;
  const grantsOf = (principal: string, vault: string) =>
    s.azure.local.state
      .listRoleAssignments()
      .filter(
        (r) => JSON.stringify(r).includes(principal) && JSON.stringify(r).toLowerCase().includes(vault),
      );

  /** Starts a run as the bot does on `worker`'s queue, approves it when it asks, and returns its result. */
  async function run<O extends Operation>(
    worker: KitWorker,
    operation: O,
    input: InputByOperation[O],
  ): Promise<{ result: RunResult; handle: WorkflowHandle }> {
    const env = await testEnv();
    const handle = await startSigned(env.client, operation, input, worker.taskQueue);
    const status = await waitForStatus(handle, (st) => st.stage === 'awaiting-approval' || !!st.result);
    if (!status.result) await decide(handle, PEOPLE.alice, 'approve');
    return { result: await resultOf(handle), handle };
  }

  const configureInput = (account: AccountRef, vault: string): InputByOperation['configure'] => ({
    account,
    vault: { name: vault, resourceGroup: SEEDED.keysGroup },
    key: { name: 'cmk-key', type: 'RSA', size: 2048 },
    identity: { type: 'SystemAssigned' },
    pinVersion: false,
    ...context(),
  });

  test("when an account is configured, revoked, restored and disabled, then each runbook's ARM writes (vault, identity, grant, enable, revoke, disable) run on the subscription's write queue, reads and Key Vault calls on the runbooks' queue, and Azure ends each run in the state it reports", async () => {
    const base = s.paced.taskQueue;
    const writes = [armWriteQueue(base, SEEDED.subscriptionId)];
    const runbooks = [base];
    const account = s.azure.newAccount('stq');
    const vault = s.azure.vaultName('kv-q');

    const configured = await run(s.paced, 'configure', configureInput(account, vault));
    assert.equal(configured.result.outcome, 'succeeded', configured.result.message);
    assert.equal(arm(account).properties.encryption.keySource, 'Microsoft.Keyvault');
    assert.equal(arm(account).properties.encryption.keyvaultproperties?.keyname, 'cmk-key');
    const principal = arm(account).identity!.principalId!;
    assert.equal(grantsOf(principal, vault).length, 1, 'the identity holds one grant on the key');
    const configureQueues = await queuesOf(configured.handle);
    assert.deepEqual(
      {
        ensureVault: configureQueues.ensureVault,
        assignIdentity: configureQueues.assignIdentity,
        grantKeyAccess: configureQueues.grantKeyAccess,
        enableCmk: configureQueues.enableCmk,
        inspect: configureQueues.inspect,
        ensureKey: configureQueues.ensureKey,
        probeDataAccess: configureQueues.probeDataAccess,
      },
      {
        ensureVault: writes,
        assignIdentity: writes,
        grantKeyAccess: writes,
        enableCmk: writes,
        inspect: runbooks,
        ensureKey: runbooks,
        probeDataAccess: runbooks,
      },
    );

    const revoked = await run(s.paced, 'revoke', { account, disableKey: false, ...context() });
    assert.equal(revoked.result.outcome, 'succeeded', revoked.result.message);
    assert.deepEqual(grantsOf(principal, vault), [], 'the grant is gone');
    assert.deepEqual((await queuesOf(revoked.handle)).revokeAccess, writes);

    const restored = await run(s.paced, 'restoreAccess', { account, ...context() });
    assert.equal(restored.result.outcome, 'succeeded', restored.result.message);
    assert.equal(grantsOf(principal, vault).length, 1, 'the grant is back');
    const restoreQueues = await queuesOf(restored.handle);
    assert.deepEqual(
      { assignIdentity: restoreQueues.assignIdentity, grantKeyAccess: restoreQueues.grantKeyAccess },
      { assignIdentity: writes, grantKeyAccess: writes },
    );

    const disabled = await run(s.paced, 'disable', { account, ...context() });
    assert.equal(disabled.result.outcome, 'succeeded', disabled.result.message);
    assert.equal(arm(account).properties.encryption.keySource, 'Microsoft.Storage');
    assert.deepEqual((await queuesOf(disabled.handle)).disableCmk, writes);
  });

  test("when an account's key is changed to a new vault and then made versionless again, then change-key's vault, identity, grant and switch and update-version's write run on the subscription's write queue, and the account ends on the new key, versionless", async () => {
    const writes = [armWriteQueue(s.paced.taskQueue, SEEDED.subscriptionId)];
    const account = s.azure.newAccount('stq');
    const configured = await run(s.paced, 'configure', configureInput(account, s.azure.vaultName('kv-q')));
    assert.equal(configured.result.outcome, 'succeeded', configured.result.message);

    const vault = s.azure.vaultName('kv-q2');
    const changed = await run(s.paced, 'changeKey', {
      account,
      vault: { name: vault, resourceGroup: SEEDED.keysGroup },
      key: { name: 'cmk-key-2', type: 'RSA', size: 2048 },
      pinVersion: true,
      ...context(),
    });
    assert.equal(changed.result.outcome, 'succeeded', changed.result.message);
    const kv = () =>
      (
        arm(account).properties.encryption as {
          keyvaultproperties?: { keyname?: string; keyvaulturi?: string; keyversion?: string };
        }
      ).keyvaultproperties;
    assert.equal(kv()?.keyname, 'cmk-key-2');
    assert.match(kv()?.keyvaulturi ?? '', new RegExp(`^https://${vault}\\.`));
    assert.match(kv()?.keyversion ?? '', /^[0-9a-f]{32}$/, 'pinned');
    const changeQueues = await queuesOf(changed.handle);
    for (const activity of ['ensureVault', 'assignIdentity', 'grantKeyAccess', 'enableCmk'])
      assert.deepEqual(changeQueues[activity], writes, activity);

    const versionless = await run(s.paced, 'updateVersion', {
      account,
      target: { kind: 'versionless' },
      ...context(),
    });
    assert.equal(versionless.result.outcome, 'succeeded', versionless.result.message);
    assert.equal(kv()?.keyversion ?? '', '', 'versionless');
    assert.deepEqual((await queuesOf(versionless.handle)).setKeyVersion, writes);
  });

  test("when the worker's configuration names no subscription (it polls no write queue), then configure and rotate keep their ARM writes on the runbooks' queue instead of waiting on a queue nobody polls, and succeed", async () => {
    const base = s.unpaced.taskQueue;
    const account = s.azure.newAccount('stq');
    const vault = s.azure.vaultName('kv-q');
    const configured = await run(s.unpaced, 'configure', configureInput(account, vault));
    assert.equal(configured.result.outcome, 'succeeded', configured.result.message);
    assert.equal(arm(account).properties.encryption.keySource, 'Microsoft.Keyvault');
    const queues = await queuesOf(configured.handle);
    for (const activity of ['ensureVault', 'assignIdentity', 'grantKeyAccess', 'enableCmk'])
      assert.deepEqual(queues[activity], [base], activity);
    const rotated = await run(s.unpaced, 'rotate', { account, ...context() });
    assert.equal(rotated.result.outcome, 'succeeded', rotated.result.message);
    assert.deepEqual((await queuesOf(rotated.handle)).rotateKey, [base]);
    assert.equal(s.azure.local.state.listKeyVersions(vault, 'cmk-key').length, 2, 'one new version');
  });
});

describe('which write queue an undo and a cross-subscription write take (the in-memory Azure)', () => {
  const stack = beforeAll(() => startStack());

  test("when change-key's switch fails, then its switch-back (restoreEncryption, an ARM write) also runs on the account's write queue and the account keeps its key", async () => {
    const account = stack.azure.addCmkAccount(uniqueId('stq').replace(/-/g, '').slice(0, 20));
    const before = stack.azure.account(account.name).encryption;
    stack.azure.failNext('enableCmk', 'KeyAccessNotGranted', 'The account identity cannot use the key yet.');
    const handle = await stack.start('changeKey', {
      account,
      key: { name: 'cmk-key-2', type: 'RSA', size: 2048 },
      pinVersion: true,
      requester: PEOPLE.requester,
      conversation: { id: uniqueId('conv') },
    });
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');
    const result = await resultOf(handle);
    assert.equal(result.outcome, 'failed', result.message);
    assert.equal(stack.azure.account(account.name).encryption.keyName, before.keyName);
    const base = (await handle.describe()).taskQueue;
    const restores = (await queuesOf(handle)).restoreEncryption;
    assert.deepEqual(restores, [armWriteQueue(base, account.subscriptionId)]);
  });

  test("when the key moves to a vault in another subscription, then the vault and grant writes spend that subscription's budget when a worker polls its queue, and stay on the runbooks' queue when none does, while the account's writes spend the account's", async () => {
    const other = '0bd1e5a7-2c3f-4e6d-9a8b-00000000b0b2';
    const env = await testEnv();
    const both = await startWorker({
      connection: env.nativeConnection,
      taskQueue: uniqueId('tq-two-subs'),
      activities: stack.azure.activities(chatActivities(stack.chat)),
      trust: workerTrust(testPolicy()),
      armWrites: {
        subscriptionIds: [SEEDED.subscriptionId, other],
        perSecond: DEFAULT_ARM_WRITES_PER_SECOND,
      },
    });
    try {
      /** Changes a new account's key to a new key in a vault of `other`; the queue of each write. */
      const changeToOtherSubscription = async (taskQueue: string): Promise<Record<string, string[]>> => {
        const name = uniqueId('stq').replace(/-/g, '').slice(0, 20);
        const account = stack.azure.addCmkAccount(name);
        stack.azure.addVault(`kv2-${name}`.slice(0, 24)).subscriptionId = other;
        const handle = await startSigned(
          env.client,
          'changeKey',
          {
            account,
            vault: { name: `kv2-${name}`.slice(0, 24) },
            key: { name: 'cmk-key-2', type: 'RSA', size: 2048 },
            pinVersion: true,
            requester: PEOPLE.requester,
            conversation: { id: uniqueId('conv') },
          },
          taskQueue,
        );
        await waitForApproval(handle);
        await decide(handle, PEOPLE.alice, 'approve');
        const result = await resultOf(handle);
        assert.equal(result.outcome, 'succeeded', result.message);
        assert.equal(stack.azure.account(name).encryption.keyName, 'cmk-key-2');
        return queuesOf(handle);
      };
      const writesTo = (base: string) => ({
        ensureVault: [armWriteQueue(base, other)],
        grantKeyAccess: [armWriteQueue(base, other)],
        assignIdentity: [armWriteQueue(base, SEEDED.subscriptionId)],
        enableCmk: [armWriteQueue(base, SEEDED.subscriptionId)],
      });
      const pick = (q: Record<string, string[] | undefined>) => ({
        ensureVault: q.ensureVault,
        grantKeyAccess: q.grantKeyAccess,
        assignIdentity: q.assignIdentity,
        enableCmk: q.enableCmk,
      });
      assert.deepEqual(pick(await changeToOtherSubscription(both.taskQueue)), writesTo(both.taskQueue));
      const seededOnly = stack.taskQueue;
      assert.deepEqual(pick(await changeToOtherSubscription(seededOnly)), {
        ...writesTo(seededOnly),
        ensureVault: [seededOnly],
        grantKeyAccess: [seededOnly],
      });
    } finally {
      await both.close();
    }
  });
});
