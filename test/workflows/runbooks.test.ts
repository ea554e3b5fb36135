import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { workflowIdFor } from '../../src/shared/accounts';
import { vaultUri } from '../../src/shared/accounts';
import { DEFAULT_TIMING } from '../../src/activities/runtime';
import { PEOPLE, resultOf, startStack, testPolicy, type Stack } from '../helpers/stack';
import { uniqueId } from '../helpers/temporal';
import { configureInput, decide, waitForApproval } from './support';
import { beforeAll } from '../kit/suite';
import { armWriteQueue, keyVaultCreateQueue } from '../../src/shared/task-queues';

const context = (conv: string) => ({
  requester: PEOPLE.requester,
  conversation: { id: conv },
  policy: testPolicy(),
});

describe('the runbooks', () => {
  const stack = beforeAll(() => startStack());
  const name = () => uniqueId('st').replace(/-/g, '').slice(0, 20);

  test('when a pinned account is rotated, then it moves to a new key version without approval', async () => {
    const account = stack.azure.addCmkAccount(name(), { pinned: true });
    const before = stack.azure.account(account.name).encryption.keyVersion;
    const result = await resultOf(await stack.start('rotate', { account, ...context(uniqueId('conv')) }));
    assert.equal(result.outcome, 'succeeded', result.message);
    const versions = stack.azure.vaults.get(`kv-${account.name}`)!.keys.get('cmk-key')!.versions;
    assert.equal(versions.length, 2);
    assert.equal(stack.azure.account(account.name).encryption.keyVersion, versions[1]!.version);
    assert.notEqual(versions[1]!.version, before);
    assert.equal(stack.azure.dataAccess(account.name), 'allowed');
  });

  test("when an account is rotated, then its key create (makeKeyVersion) is dispatched on the queue of Key Vault creates under its vault as fairness key, its ARM write (rotateKey) on its subscription's write queue, its other steps on the runbooks' queue, and Key Vault made exactly one version", async () => {
    const account = stack.azure.addCmkAccount(name(), { pinned: true });
    const handle = await stack.start('rotate', { account, ...context(uniqueId('conv')) });
    assert.equal((await resultOf(handle)).outcome, 'succeeded');
    const events = (await handle.fetchHistory()).events ?? [];
    const base = events[0]!.workflowExecutionStartedEventAttributes!.taskQueue!.name!;
    const scheduled = Object.fromEntries(
      events.flatMap((e) => {
        const a = e.activityTaskScheduledEventAttributes;
        return a ? [[a.activityType!.name!, a]] : [];
      }),
    );
    assert.equal(scheduled.makeKeyVersion?.taskQueue?.name, keyVaultCreateQueue(base));
    assert.equal(scheduled.makeKeyVersion?.priority?.fairnessKey, `kv-${account.name}`);
    assert.equal(scheduled.rotateKey?.taskQueue?.name, armWriteQueue(base, account.subscriptionId));
    assert.equal(scheduled.probeDataAccess?.taskQueue?.name, base);
    const versions = stack.azure.vaults.get(`kv-${account.name}`)!.keys.get('cmk-key')!.versions;
    assert.equal(versions.length, 2);
    assert.equal(stack.azure.account(account.name).encryption.keyVersion, versions[1]!.version);
  });

  test('when a versionless account is rotated, then the new version exists and the result says Azure picks it up', async () => {
    const account = stack.azure.addCmkAccount(name());
    const result = await resultOf(await stack.start('rotate', { account, ...context(uniqueId('conv')) }));
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.match(result.message, /within 24 hours/);
    assert.equal(stack.azure.account(account.name).encryption.keyVersion, '');
  });

  test('when access is revoked with approval, then blob access is denied and the key is disabled', async () => {
    const account = stack.azure.addCmkAccount(name());
    const handle = await stack.start('revoke', { account, disableKey: true, ...context(uniqueId('conv')) });
    await waitForApproval(handle);
    assert.equal(stack.azure.dataAccess(account.name), 'allowed', 'nothing changes before approval');
    await decide(handle, PEOPLE.alice, 'approve');
    const result = await resultOf(handle);
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.equal(stack.azure.dataAccess(account.name), 'denied');
    assert.equal(
      stack.azure.vaults.get(`kv-${account.name}`)!.keys.get('cmk-key')!.versions[0]!.enabled,
      false,
    );
  });

  test('when revoking needs two approvers, then one approval leaves access in place and the second one revokes', async () => {
    const account = stack.azure.addCmkAccount(name());
    const policy = testPolicy({ quorum: { revoke: 2 } });
    const handle = await stack.start('revoke', {
      account,
      disableKey: false,
      ...context(uniqueId('conv')),
      policy,
    });
    await waitForApproval(handle);
    const afterOne = await decide(handle, PEOPLE.alice, 'approve');
    assert.equal(afterOne.approval.state, 'pending');
    assert.equal(stack.azure.dataAccess(account.name), 'allowed');
    await decide(handle, PEOPLE.bob, 'approve');
    assert.equal((await resultOf(handle)).outcome, 'succeeded');
    assert.equal(stack.azure.dataAccess(account.name), 'denied');
  });

  test('when CMK is disabled with approval, then the account is back on Microsoft-managed keys', async () => {
    const account = stack.azure.addCmkAccount(name());
    const handle = await stack.start('disable', { account, ...context(uniqueId('conv')) });
    await waitForApproval(handle);
    await decide(handle, PEOPLE.bob, 'approve');
    const result = await resultOf(handle);
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.equal(stack.azure.account(account.name).encryption.keySource, 'Microsoft.Storage');
    assert.equal(result.encryption?.keySource, 'Microsoft.Storage');
  });

  test('when the key is changed to a new key in another vault, then the account uses it and can still read data', async () => {
    const account = stack.azure.addCmkAccount(name());
    const newVault = `kv2-${account.name}`.slice(0, 24);
    const handle = await stack.start('changeKey', {
      account,
      vault: { name: newVault },
      key: { name: 'cmk-key-2', type: 'RSA-HSM', size: 4096 },
      pinVersion: true,
      ...context(uniqueId('conv')),
    });
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');
    const result = await resultOf(handle);
    assert.equal(result.outcome, 'succeeded', result.message);
    const encryption = stack.azure.account(account.name).encryption;
    assert.equal(encryption.vaultUri, vaultUri(newVault));
    assert.equal(encryption.keyName, 'cmk-key-2');
    assert.match(encryption.keyVersion ?? '', /^[0-9a-f]{32}$/);
    assert.equal(stack.azure.dataAccess(account.name), 'allowed');
  });

  test('when a rotation policy is set, then the vault has it and no approval was asked', async () => {
    const account = stack.azure.addCmkAccount(name());
    const conv = uniqueId('conv');
    const result = await resultOf(
      await stack.start('setRotationPolicy', {
        account,
        rotateAfter: '90d',
        expiresAfter: 'P1Y',
        ...context(conv),
      }),
    );
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.deepEqual(
      JSON.parse(JSON.stringify(stack.azure.vaults.get(`kv-${account.name}`)!.rotationPolicy)),
      {
        rotateAfter: '90d',
        expiresAfter: 'P1Y',
      },
    );
    assert.equal(stack.chat.latestCard(conv)?.approval.state, 'not-required');
  });

  test('when a rotation policy has no durations, then the run ends invalid before touching Azure', async () => {
    const account = stack.azure.addCmkAccount(name());
    const result = await resultOf(
      await stack.start('setRotationPolicy', { account, ...context(uniqueId('conv')) }),
    );
    assert.equal(result.outcome, 'invalid');
    assert.match(result.message, /rotateAfter/);
    assert.equal(stack.azure.vaults.get(`kv-${account.name}`)!.rotationPolicy, undefined);
  });

  test('when an account without CMK is rotated, then the run is blocked with the fix', async () => {
    const account = stack.azure.addAccount(name());
    const result = await resultOf(await stack.start('rotate', { account, ...context(uniqueId('conv')) }));
    assert.equal(result.outcome, 'blocked');
    assert.match(result.message, /does not use a customer-managed key\. Run configure first\./);
  });

  test('when a second run starts on an account that is busy, then it is refused with the id of the run that holds it', async () => {
    const account = stack.azure.addCmkAccount(name());
    const first = await stack.start('revoke', { account, disableKey: false, ...context(uniqueId('conv')) });
    await waitForApproval(first);
    await assert.rejects(
      stack.start('rotate', {
        account: { ...account, resourceGroup: account.resourceGroup.toUpperCase() },
        ...context(uniqueId('conv')),
      }),
      (error: unknown) =>
        error instanceof WorkflowExecutionAlreadyStartedError && error.workflowId === workflowIdFor(account),
    );
    await decide(first, PEOPLE.alice, 'reject');
    assert.equal((await resultOf(first)).outcome, 'rejected');
  });

  test('when enabling CMK fails mid-onboarding, then encryption is restored and the result lists what remains', async () => {
    const account = stack.azure.addAccount(name());
    stack.azure.failNext(
      'enableCmk',
      'KeyAccessNotGranted',
      'The account identity cannot use the key yet; grant it and retry.',
    );
    const handle = await stack.start('configure', configureInput(account, testPolicy(), uniqueId('conv')));
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');
    const result = await resultOf(handle);
    assert.equal(result.outcome, 'failed');
    assert.equal(result.errorType, 'KeyAccessNotGranted');
    assert.match(result.message, /grant it and retry/);
    assert.equal(stack.azure.account(account.name).encryption.keySource, 'Microsoft.Storage');
    assert.ok(result.steps.some((s) => s.status === 'compensated'));
    assert.ok(
      result.remaining.some((r) => r.startsWith(`Key Vault kv-${account.name}`)),
      result.remaining.join('; '),
    );
    assert.ok(result.remaining.some((r) => r.startsWith('Key kv-')));
    // The grant left behind is named for a reader, with the principal id a clean-up needs.
    assert.ok(
      result.remaining.some((r) =>
        new RegExp(
          `^Key access for ${account.name}'s system-assigned identity \\(principal [0-9a-f-]+\\) on kv-`,
        ).test(r),
      ),
      result.remaining.join('; '),
    );
  });

  test('when enable and the switch of a key change fail and are put back, then enable, the switch and both restores ran on heartbeating activities whose timeout exceeds the default grant-propagation wait (RBAC takes minutes to apply)', async () => {
    const scheduled = async (handle: Awaited<ReturnType<Stack['start']>>) =>
      (await handle.fetchHistory()).events
        ?.map((e) => e.activityTaskScheduledEventAttributes)
        .filter((a) => ['enableCmk', 'restoreEncryption'].includes(a?.activityType?.name ?? '')) ?? [];
    const account = stack.azure.addAccount(name());
    stack.azure.failNext('enableCmk', 'KeyAccessNotGranted', 'not yet');
    const configure = await stack.start('configure', configureInput(account, testPolicy(), uniqueId('conv')));
    await waitForApproval(configure);
    await decide(configure, PEOPLE.alice, 'approve');
    const configured = await resultOf(configure);
    assert.equal(configured.outcome, 'failed');
    // ARM records a grant at once; Key Vault applies it later, so the step says no more than that.
    assert.match(
      configured.steps.find((st) => st.id === 'grant')?.detail ?? '',
      /recorded in Azure, Key Vault applies it within minutes/,
    );
    const cmk = stack.azure.addCmkAccount(name());
    stack.azure.failNext('enableCmk', 'KeyAccessNotGranted', 'not yet');
    const change = await stack.start('changeKey', {
      account: cmk,
      key: { name: 'cmk-key-2', type: 'RSA', size: 2048 },
      pinVersion: false,
      ...context(uniqueId('conv')),
    });
    await waitForApproval(change);
    await decide(change, PEOPLE.alice, 'approve');
    assert.equal((await resultOf(change)).outcome, 'failed');

    const calls = [...(await scheduled(configure)), ...(await scheduled(change))];
    assert.deepEqual(
      calls.map((a) => a?.activityType?.name),
      ['enableCmk', 'restoreEncryption', 'enableCmk', 'restoreEncryption'],
    );
    for (const a of calls) {
      const timeoutMs = Number(a?.startToCloseTimeout?.seconds ?? 0) * 1000;
      assert.ok(timeoutMs > DEFAULT_TIMING.grantTimeoutMs, `${a?.activityType?.name}: ${timeoutMs} ms`);
      assert.ok(Number(a?.heartbeatTimeout?.seconds ?? 0) > 0, `${a?.activityType?.name} heartbeats`);
    }
  });

  test('when granting key access fails mid-onboarding, then encryption was never touched and the result lists the created vault', async () => {
    const account = stack.azure.addAccount(name());
    stack.azure.failNext(
      'grantKeyAccess',
      'AuthorizationFailed',
      'The runbook may not assign roles on the vault; give it User Access Administrator.',
    );
    const handle = await stack.start('configure', configureInput(account, testPolicy(), uniqueId('conv')));
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');
    const result = await resultOf(handle);
    assert.equal(result.outcome, 'failed');
    assert.match(result.message, /User Access Administrator/);
    assert.equal(stack.azure.account(account.name).encryption.keySource, 'Microsoft.Storage');
    assert.ok(result.remaining.some((r) => r.startsWith(`Key Vault kv-${account.name}`)));
  });

  test('when the data plane cannot reach the new key, then the account is put back on its previous encryption', async () => {
    const account = stack.azure.addAccount(name());
    const held = stack.azure.hold('probeDataAccess');
    const handle = await stack.start('configure', configureInput(account, testPolicy(), uniqueId('conv')));
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');
    await held.reached;
    stack.azure.vaults.get(`kv-${account.name}`)!.grants.clear();
    held.release();
    const result = await resultOf(handle);
    assert.equal(result.outcome, 'failed');
    assert.match(result.message, /KeyVaultEncryptionKeyNotFound.*put back to Microsoft-managed keys/);
    assert.equal(stack.azure.account(account.name).encryption.keySource, 'Microsoft.Storage');
    assert.equal(stack.azure.dataAccess(account.name), 'allowed');
  });

  test('when the worker is stopped mid-run and a new one starts, then the run finishes with each change made once', async () => {
    const account = stack.azure.addAccount(name());
    const held = stack.azure.hold('ensureKey');
    const handle = await stack.start('configure', configureInput(account, testPolicy(), uniqueId('conv')));
    await waitForApproval(handle);
    await stack.restartWorker();
    await decide(handle, PEOPLE.alice, 'approve');
    await held.reached;
    await stack.restartWorker();
    const result = await resultOf(handle);
    assert.equal(result.outcome, 'succeeded', result.message);
    const mine = stack.azure.changes.filter((c) => c.includes(account.name));
    assert.deepEqual(
      mine.map((c) => c.split(':')[0]),
      ['vault', 'identity', 'key', 'grant', 'enable'],
    );
    assert.equal(stack.azure.vaults.get(`kv-${account.name}`)!.keys.get('cmk-key')!.versions.length, 1);
  });
});
