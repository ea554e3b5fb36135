import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { workflowIdFor, type AccountRef } from '../../src/shared/accounts';
import type { ConfigureCmkInput, RunResult } from '../../src/shared/runbooks';
import type { RouteFault } from '../../src/local-azure';
import { LOCAL, PEOPLE, resultOf, startLocalStack, testPolicy, type LocalStack } from '../helpers/stack';
import { uniqueId } from '../helpers/temporal';
import { decide, waitForApproval, waitForStatus } from './support';
import { beforeAll } from '../kit/suite';

interface ArmAccount {
  identity?: { principalId?: string };
  properties: {
    encryption: {
      keySource: string;
      keyvaultproperties?: { keyname?: string; keyversion?: string; keyvaulturi?: string };
    };
  };
}

describe('the runbooks on the local Azure with the real activities', () => {
  const s = beforeAll(() => startLocalStack());

  const policy = testPolicy({ alwaysApprove: ['configure'] });
  const arm = (a: AccountRef) =>
    s.local.state.getStorageAccount(a.subscriptionId, a.resourceGroup, a.name) as unknown as ArmAccount;
  const context = (conv = uniqueId('conv')) => ({
    requester: PEOPLE.requester,
    conversation: { conversation: { id: conv } },
    policy,
  });
  const configureInput = (account: AccountRef, vault: string, conv?: string): ConfigureCmkInput => ({
    account,
    vault: { name: vault, resourceGroup: LOCAL.keysGroup },
    key: { name: 'cmk-key', type: 'RSA', size: 3072 },
    identity: { type: 'SystemAssigned' },
    pinVersion: false,
    ...context(conv),
  });
  const approved = async (handle: Awaited<ReturnType<LocalStack['start']>>): Promise<RunResult> => {
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');
    return resultOf(handle);
  };
  const configured = async (): Promise<{ account: AccountRef; vault: string }> => {
    const account = s.newAccount('stwf');
    const vault = s.vaultName('kv-wf');
    const result = await approved(await s.start('configure', configureInput(account, vault)));
    assert.equal(result.outcome, 'succeeded', result.message);
    return { account, vault };
  };

  test('when configure is approved, then the account uses a versionless key in a new purge-protected vault and the card shows it', async () => {
    const account = s.newAccount('stwf');
    const vault = s.vaultName('kv-wf');
    const conv = uniqueId('conv');
    const result = await approved(await s.start('configure', configureInput(account, vault, conv)));

    assert.equal(result.outcome, 'succeeded', result.message);
    const encryption = arm(account).properties.encryption;
    assert.equal(encryption.keySource, 'Microsoft.Keyvault');
    assert.equal(encryption.keyvaultproperties?.keyname, 'cmk-key');
    assert.equal(encryption.keyvaultproperties?.keyversion ?? '', '');
    const armVault = s.local.state.getVault(LOCAL.subscriptionId, LOCAL.keysGroup, vault) as {
      properties: { enablePurgeProtection: boolean; enableSoftDelete: boolean };
    };
    assert.equal(armVault.properties.enablePurgeProtection, true);
    assert.equal(armVault.properties.enableSoftDelete, true);
    assert.equal(s.local.state.listKeyVersions(vault, 'cmk-key').length, 1);
    const principal = arm(account).identity?.principalId;
    assert.ok(principal);
    const grants = s.local.state
      .listRoleAssignments()
      .filter(
        (r) => JSON.stringify(r).includes(principal) && JSON.stringify(r).toLowerCase().includes(vault),
      );
    assert.equal(grants.length, 1, 'the identity was granted key access once');
    const card = s.chat.seen({ conversation: { id: conv } }).cards;
    assert.equal(card.length, 1, 'one card, updated in place');
    assert.equal(card[0]!.status.result?.outcome, 'succeeded');
    assert.ok(
      card[0]!.history.some((v) => v.approval.state === 'pending'),
      'the card asked for approval first',
    );
  });

  test('when configure grants by RBAC, then the role assignment scoped to the key is written only after the key exists (a key-scope assignment needs its key)', async () => {
    const { account, vault } = await configured();
    void account;
    const writes = s.local.requestLog
      .writes()
      .filter((w) => `${w.host}${w.path}`.toLowerCase().includes(vault));
    const keyCreated = writes.findIndex((w) => /\/keys\/cmk-key\/create$/i.test(w.path));
    const assigned = writes.findIndex((w) =>
      /\/keys\/cmk-key\/providers\/Microsoft\.Authorization\/roleAssignments\//i.test(w.path),
    );
    assert.ok(keyCreated >= 0 && assigned >= 0, writes.map((w) => `${w.method} ${w.path}`).join('\n'));
    assert.ok(keyCreated < assigned, 'the key first, then its role assignment');
  });

  test('when a versionless account is rotated, then its key has a second version, data access still works and the pickup by Azure is reported pending', async () => {
    const { account, vault } = await configured();
    const result = (await (
      await s.start('rotate', { account, confirmWithin: '1s', ...context() })
    ).result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.equal(s.local.state.listKeyVersions(vault, 'cmk-key').length, 2);
    assert.match(result.message, /within 24 hours/);
  });

  test('when the key is changed with approval, then the account points at the new key', async () => {
    const { account, vault } = await configured();
    const handle = await s.start('changeKey', {
      account,
      key: { name: 'cmk-key-2', type: 'RSA', size: 2048 },
      pinVersion: true,
      ...context(),
    });
    const result = await approved(handle);
    assert.equal(result.outcome, 'succeeded', result.message);
    const kv = arm(account).properties.encryption.keyvaultproperties;
    assert.equal(kv?.keyname, 'cmk-key-2');
    const versions = s.local.state.listKeyVersions(vault, 'cmk-key-2') as Array<{ key: { kid: string } }>;
    assert.equal(versions.length, 1);
    assert.equal(kv?.keyversion, versions[0]!.key.kid.split('/').pop(), 'pinned to the version created');
    assert.match(kv?.keyversion ?? '', /^[0-9a-f]{32}$/);
  });

  test('when access is revoked with approval and the key disabled, then the identity loses its grant and blob access is denied', async () => {
    const { account, vault } = await configured();
    const principal = arm(account).identity!.principalId!;
    const result = await approved(await s.start('revoke', { account, disableKey: true, ...context() }));
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.match(result.message, /denied/);
    const grants = s.local.state
      .listRoleAssignments()
      .filter(
        (r) => JSON.stringify(r).includes(principal) && JSON.stringify(r).toLowerCase().includes(vault),
      );
    assert.deepEqual(grants, []);
    const versions = s.local.state.listKeyVersions(vault, 'cmk-key') as Array<{
      attributes: { enabled: boolean };
    }>;
    assert.equal(versions[0]!.attributes.enabled, false);
  });

  test('when access is revoked with approval and the key left enabled, then blob access is denied because the grant is gone', async () => {
    const { account } = await configured();
    const result = await approved(await s.start('revoke', { account, disableKey: false, ...context() }));
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.match(result.message, /denied/);
  });

  test('when the blob data plane refuses the runbook after access was removed (storage firewall), then the revoke says the revocation is removed but not confirmed (pending), not failed', async () => {
    const { account } = await configured();
    s.onNext('probeDataAccess', {
      before: async () => {
        await s.azure
          .storage(account.subscriptionId)
          .storageAccounts.update(account.resourceGroup, account.name, {
            networkRuleSet: { defaultAction: 'Deny', ipRules: [{ iPAddressOrRange: '198.51.100.7' }] },
            // arm-storage sends `properties` only with a property on its list: this one travels along.
            minimumTlsVersion: 'TLS1_2',
          });
      },
    });
    const result = await approved(
      await s.start('revoke', { account, disableKey: false, confirmWithin: '2m', ...context() }),
    );
    assert.equal(result.outcome, 'pending', result.message);
    assert.match(result.message, /Access was removed .*could not check .* not confirmed/);
    assert.match(result.steps.find((st) => st.id === 'probe')?.detail ?? '', /^could not run: /);
  });

  test('when a revoke asks for a confirmation window under a minute, then it is refused as invalid before anything changes', async () => {
    const { account } = await configured();
    const result = (await (
      await s.start('revoke', { account, disableKey: false, confirmWithin: '10s', ...context() })
    ).result()) as RunResult;
    assert.equal(result.outcome, 'invalid');
    assert.match(result.message, /confirmWithin: a confirmation window between 1m and 24h/);
  });

  test('when CMK is disabled with approval, then the account is back on Microsoft-managed keys', async () => {
    const { account } = await configured();
    const result = await approved(await s.start('disable', { account, ...context() }));
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.equal(arm(account).properties.encryption.keySource, 'Microsoft.Storage');
  });

  test('when a rotation policy is set, then the run succeeds without approval and reports the policy', async () => {
    const { account } = await configured();
    const result = (await (
      await s.start('setRotationPolicy', { account, rotateAfter: '90d', ...context() })
    ).result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.match(result.message, /rotateAfter/);
    assert.equal(
      result.steps.some((st) => st.id === 'approval'),
      false,
    );
  });

  test('when a second run starts on a busy account, then it is refused with the id of the run holding it', async () => {
    const account = s.newAccount('stwf');
    const first = await s.start('configure', configureInput(account, s.vaultName('kv-wf')));
    await waitForApproval(first);
    await assert.rejects(
      s.start('disable', { account, ...context() }),
      (e: unknown) =>
        e instanceof WorkflowExecutionAlreadyStartedError && e.workflowId === workflowIdFor(account),
    );
    await decide(first, PEOPLE.bob, 'reject');
    assert.equal(((await first.result()) as RunResult).outcome, 'rejected');
    assert.equal(arm(account).properties.encryption.keySource, 'Microsoft.Storage');
  });

  test('when enabling CMK fails after the vault, grant and key were made, then the account keeps its old encryption and the result lists what remains', async () => {
    const account = s.newAccount('stwf');
    const vault = s.vaultName('kv-wf');
    const handle = await s.start('configure', configureInput(account, vault));
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');
    await waitForStatus(handle, (st) => st.steps.some((x) => x.id === 'identity' && x.status === 'done'));
    s.local.faults.set({
      routes: [
        {
          method: 'PATCH',
          pathPattern: `/storageAccounts/${account.name}$`,
          status: 403,
          code: 'AuthorizationFailed',
          times: 1,
        },
      ],
    });
    const result = await resultOf(handle);
    s.local.faults.reset();
    assert.equal(result.outcome, 'failed');
    assert.equal(result.errorType, 'AuthorizationFailed');
    assert.equal(arm(account).properties.encryption.keySource, 'Microsoft.Storage');
    assert.ok(
      result.remaining.some((r) => r.startsWith(`Key Vault ${vault}`)),
      result.remaining.join('; '),
    );
  });

  test('when the worker is restarted while waiting and right after approval, then the run finishes with one vault, one key version and one grant', async () => {
    const account = s.newAccount('stwf');
    const vault = s.vaultName('kv-wf');
    s.local.faults.set({ latencyMs: 30 });
    const handle = await s.start('configure', configureInput(account, vault));
    await waitForApproval(handle);
    await s.restartWorker();
    await decide(handle, PEOPLE.alice, 'approve');
    await waitForStatus(handle, (st) => st.steps.some((x) => x.id === 'vault'));
    await s.restartWorker();
    const result = await resultOf(handle);
    s.local.faults.reset();
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.equal(s.local.state.listKeyVersions(vault, 'cmk-key').length, 1);
    const principal = arm(account).identity!.principalId!;
    const grants = s.local.state.listRoleAssignments().filter((r) => JSON.stringify(r).includes(principal));
    assert.equal(grants.length, 1);
  });
});

describe('compensation on the local Azure when the undo itself meets faults', () => {
  const s = beforeAll(() => startLocalStack());

  const context = (conv: string) => ({
    requester: PEOPLE.requester,
    conversation: { conversation: { id: conv } },
    policy: testPolicy({ alwaysApprove: ['configure'] }),
  });
  const encryptionOf = (a: AccountRef) =>
    (s.local.state.getStorageAccount(a.subscriptionId, a.resourceGroup, a.name) as unknown as ArmAccount)
      .properties.encryption;
  /** An account on `cmk-key` in its own vault, configured by an approved run. */
  const configured = async (): Promise<AccountRef> => {
    const account = s.newAccount('stundo');
    const handle = await s.start('configure', {
      account,
      vault: { name: s.vaultName('kv-undo'), resourceGroup: LOCAL.keysGroup },
      key: { name: 'cmk-key', type: 'RSA', size: 2048 },
      identity: { type: 'SystemAssigned' },
      pinVersion: false,
      ...context(uniqueId('conv')),
    });
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');
    assert.equal((await resultOf(handle)).outcome, 'succeeded');
    return account;
  };
  /** Once the switch to the new key is applied, Azure starts answering with `routes`. */
  const changeKeyThen = async (account: AccountRef, conv: string, routes: RouteFault[]) => {
    s.onNext('enableCmk', { after: () => s.local.faults.set({ routes }) });
    const handle = await s.start('changeKey', {
      account,
      key: { name: 'cmk-key-2', type: 'RSA', size: 2048 },
      pinVersion: false,
      ...context(conv),
    });
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');
    const result = await resultOf(handle);
    s.local.faults.reset();
    return result;
  };
  // Storage's firewall answers 403 AuthorizationFailure to a caller it does not let in
  // (storage/common/storage-network-security): the probe after the switch fails for good.
  const probeRefused = (account: AccountRef): RouteFault => ({
    method: 'HEAD',
    pathPattern: `^/cmk-runbook/canary$`,
    status: 403,
    code: 'AuthorizationFailure',
    message: `This request is not authorized to perform this operation (${account.name}).`,
  });
  const accountPatch = (account: AccountRef) => `/storageAccounts/${account.name}$`;

  test('when the switch-back of a key change fails for good, then the result and the card say the undo failed and name the key the account really uses', async () => {
    const account = await configured();
    const conv = uniqueId('conv');
    const result = await changeKeyThen(account, conv, [
      probeRefused(account),
      // The runbook's identity lost its role between the switch and the switch-back (ARM answers
      // 403 AuthorizationFailed: azure-resource-manager/troubleshooting/error-codes).
      { method: 'PATCH', pathPattern: accountPatch(account), status: 403, code: 'AuthorizationFailed' },
    ]);

    assert.equal(result.outcome, 'failed');
    assert.equal(encryptionOf(account).keyvaultproperties?.keyname, 'cmk-key-2', 'Azure kept the new key');
    assert.match(result.message, /Switch back to .*cmk-key .*failed/);
    assert.match(result.message, /it now uses .*cmk-key-2/);
    assert.doesNotMatch(result.message, /switched back/);
    assert.equal(result.encryption?.keyName, 'cmk-key-2');
    const undo = result.steps.find((st) => st.title === 'Switch back');
    assert.equal(undo?.status, 'failed');
    assert.match(undo?.detail ?? '', /it now uses .*cmk-key-2/);
    assert.ok(!result.steps.some((st) => st.status === 'compensated'), 'nothing is reported undone');
    assert.ok(
      result.remaining.some((r) => /Switch back of .* failed/.test(r)),
      result.remaining.join('; '),
    );
    const card = s.chat.seen({ conversation: { id: conv } }).cards.at(-1)!.status;
    assert.equal(card.result?.message, result.message);
    assert.equal(card.steps.find((st) => st.title === 'Switch back')?.status, 'failed');
  });

  test('when the switch-back of a key change meets transient faults, then it is retried and the account is back on its key', async () => {
    const account = await configured();
    const result = await changeKeyThen(account, uniqueId('conv'), [
      probeRefused(account),
      // More 503s than the SDK's own retries absorb: the activity's retry policy takes over.
      {
        method: 'PATCH',
        pathPattern: accountPatch(account),
        status: 503,
        code: 'ServiceUnavailable',
        times: 4,
      },
    ]);

    assert.equal(result.outcome, 'failed');
    assert.equal(encryptionOf(account).keyvaultproperties?.keyname, 'cmk-key');
    assert.equal(result.steps.find((st) => st.title === 'Switch back')?.status, 'compensated');
    assert.equal(result.encryption?.keyName, 'cmk-key');
  });
});
