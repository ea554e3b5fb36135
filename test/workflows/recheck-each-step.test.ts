import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { AccountRef } from '../../src/shared/accounts';
import type { RunStatus } from '../../src/shared/approval';
import type { RunResult } from '../../src/shared/runbooks';
import { LOCAL, PEOPLE, startLocalStack, testPolicy } from '../helpers/stack';
import { uniqueId } from '../helpers/temporal';
import {
  approveAs,
  armAccount,
  configuredOnLocal,
  decide,
  localConfigure,
  waitForApproval,
  waitForStatus,
} from './support';
import { beforeAll } from '../kit/suite';

describe('an approval is re-checked before every destructive step', () => {
  const s = beforeAll(() => startLocalStack());

  const policy = testPolicy({ quorum: { revoke: 2, changeKey: 2 } });
  const context = (conv: string) => ({
    requester: PEOPLE.requester,
    conversation: { conversation: { id: conv } },
    policy,
  });
  const keyOf = (a: AccountRef) => armAccount(s, a).properties.encryption.keyvaultproperties!;
  const both = (handle: WorkflowHandle) => approveAs(handle, PEOPLE.alice, PEOPLE.bob);
  /** Waits until the run asks again after its approval lapsed. */
  const askedAgain = (handle: WorkflowHandle): Promise<RunStatus> =>
    waitForStatus(handle, (st) => st.approval.state === 'pending' && !!st.approval.lapsedReason);

  /** Another administrator pins the account to the key version it uses now. */
  async function pin(account: AccountRef): Promise<void> {
    const current = keyOf(account);
    await s.azure.storage(LOCAL.subscriptionId).storageAccounts.update(account.resourceGroup, account.name, {
      encryption: {
        keySource: 'Microsoft.Keyvault',
        keyVaultProperties: {
          keyName: current.keyname,
          keyVaultUri: current.keyvaulturi,
          keyVersion: current.currentVersionedKeyIdentifier!.split('/').pop()!,
        },
      },
    });
  }

  const configured = () => configuredOnLocal(s, context(uniqueId('conv')));

  test("when Azure changes during a key change's grant wait, then the approval lapses before the switch and the account keeps its key until approved again", async () => {
    const { account, vault } = await configured();
    const handle = await s.start(
      'configure',
      localConfigure(account, vault, 'other-key', context(uniqueId('conv'))),
    );
    await waitForApproval(handle);
    const current = keyOf(account);
    const pinnedTo = current.currentVersionedKeyIdentifier!.split('/').pop()!;
    s.onNext('grantKeyAccess', {
      // Another administrator pins the account to its current key version meanwhile.
      after: async () => {
        await s.azure
          .storage(LOCAL.subscriptionId)
          .storageAccounts.update(account.resourceGroup, account.name, {
            encryption: {
              keySource: 'Microsoft.Keyvault',
              keyVaultProperties: {
                keyName: 'cmk-key',
                keyVaultUri: current.keyvaulturi,
                keyVersion: pinnedTo,
              },
            },
          });
      },
    });
    await both(handle);

    const again = await askedAgain(handle);
    assert.match(again.approval.lapsedReason ?? '', /the account's encryption/);
    assert.deepEqual(
      [keyOf(account).keyname, keyOf(account).keyversion],
      ['cmk-key', pinnedTo],
      'not switched',
    );
    assert.ok(
      again.steps.some((st) => st.id === 'grant' && st.status === 'done'),
      'the steps before the switch ran once',
    );
    await both(handle);
    const result = (await handle.result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.equal(keyOf(account).keyname, 'other-key');
  });

  test('when the key is rotated between removing access and disabling the key, then the approval lapses before the key is disabled', async () => {
    const { account, vault } = await configured();
    const handle = await s.start('revoke', { account, disableKey: true, ...context(uniqueId('conv')) });
    await waitForApproval(handle);
    const keyUpdates = () => s.local.requestLog.writes({ operation: 'keys.update' }).length;
    const before = keyUpdates();
    s.onNext('revokeAccess', {
      after: async () => {
        await s.azure.keys(`https://${vault}.vault.azure.net/`).rotateKey('cmk-key');
      },
    });
    await both(handle);

    const again = await askedAgain(handle);
    assert.match(again.approval.lapsedReason ?? '', /the key/);
    assert.equal(keyUpdates(), before, 'no key version was disabled');
    const enabled = () =>
      (s.local.state.listKeyVersions(vault, 'cmk-key') as Array<{ attributes: { enabled: boolean } }>).map(
        (v) => v.attributes.enabled,
      );
    assert.deepEqual(enabled(), [true, true]);
    await both(handle);
    const result = (await handle.result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.deepEqual(
      enabled(),
      [false, true],
      'the version the account uses was disabled once approved again',
    );
  });

  test('when a lapsed approval is rejected mid-run, then the run ends rejected before the step and says what stays', async () => {
    const { account, vault } = await configured();
    const handle = await s.start(
      'configure',
      localConfigure(account, vault, 'third-key', context(uniqueId('conv'))),
    );
    await waitForApproval(handle);
    s.onNext('ensureKey', { after: () => pin(account) });
    await both(handle);
    await askedAgain(handle);
    await decide(handle, PEOPLE.bob, 'reject', { comment: 'someone is rotating keys' });
    const result = (await handle.result()) as RunResult;
    assert.equal(result.outcome, 'rejected');
    assert.match(
      result.message,
      /Rejected by Bob Approver: someone is rotating keys\. The run stopped before "Switch to kv-cfg-\w+\/third-key \(versionless\) \(a key change\)"; what it did before stays in Azure \(Key Vault, Managed identity, Key, Key access\)/,
    );
    assert.equal(keyOf(account).keyname, 'cmk-key');
  });
});
