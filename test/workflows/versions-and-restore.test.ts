import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AccountRef } from '../../src/shared/accounts';
import type { RunResult } from '../../src/shared/runbooks';
import { PEOPLE, startLocalStack, testPolicy, type LocalStack } from '../helpers/stack';
import { uniqueId } from '../helpers/temporal';
import { clientsFor } from '../local-azure/clients';
import { decide, localConfigure, waitForApproval } from './support';
import { beforeAll } from '../kit/suite';

interface ArmAccount {
  properties: {
    encryption: { keyvaultproperties?: { keyversion?: string; currentVersionedKeyIdentifier?: string } };
  };
}

describe('update-version and restore-access on the local Azure', () => {
  const s = beforeAll(() => startLocalStack({ throttling: false }));

  const context = () => ({
    requester: PEOPLE.requester,
    conversation: { conversation: { id: uniqueId('conv') } },
    policy: testPolicy(),
  });
  const arm = (a: AccountRef) =>
    s.local.state.getStorageAccount(a.subscriptionId, a.resourceGroup, a.name) as unknown as ArmAccount;
  const versionState = (vault: string, version: string): boolean | undefined =>
    (
      s.local.state
        .listKeyVersions(vault, 'cmk-key')
        .find((v) => String((v.key as { kid: string }).kid).endsWith(version)) as
        { attributes: { enabled: boolean } } | undefined
    )?.attributes.enabled;
  const versionOf = (a: AccountRef) => arm(a).properties.encryption.keyvaultproperties?.keyversion ?? '';
  const configured = async (pinVersion: boolean): Promise<{ account: AccountRef; vault: string }> => {
    const account = s.newAccount('stver');
    const vault = s.vaultName('kv-ver');
    const handle = await s.start('configure', {
      ...localConfigure(account, vault, 'cmk-key', context()),
      pinVersion,
    });
    const result = (await handle.result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
    return { account, vault };
  };
  const run = async (
    handle: Awaited<ReturnType<LocalStack['start']>>,
    approve = false,
  ): Promise<RunResult> => {
    if (approve) {
      await waitForApproval(handle);
      await decide(handle, PEOPLE.alice, 'approve');
    }
    return (await handle.result()) as RunResult;
  };

  test('when Key Vault rotated a pinned account key on its own, then update-version pins it to the latest version, --previous rolls it back and --versionless lets it follow', async () => {
    const { account, vault } = await configured(true);
    const first = versionOf(account);
    const rotated = await clientsFor(s.local).keys(vault).rotateKey('cmk-key');
    const latest = rotated.properties.version!;
    assert.notEqual(first, latest);

    const toLatest = await run(
      await s.start('updateVersion', { account, target: { kind: 'latest' }, ...context() }),
    );
    assert.equal(toLatest.outcome, 'succeeded', toLatest.message);
    assert.equal(versionOf(account), latest, 'pinned to the version Key Vault made');
    assert.equal(toLatest.plan?.versions?.pin, latest);

    const back = await run(
      await s.start('updateVersion', { account, target: { kind: 'previous' }, ...context() }),
    );
    assert.equal(back.outcome, 'succeeded', back.message);
    assert.equal(versionOf(account), first, 'rolled back to the version before');

    const free = await run(
      await s.start('updateVersion', { account, target: { kind: 'versionless' }, ...context() }),
    );
    assert.equal(free.outcome, 'succeeded', free.message);
    assert.equal(versionOf(account), '', 'versionless again');
  });

  test('when update-version names a version the key does not have, then the run is blocked with that sentence and nothing is written', async () => {
    const { account } = await configured(true);
    const before = s.local.requestLog.writes().length;
    const missing = 'ffffffffffffffffffffffffffffffff';
    const result = await run(
      await s.start('updateVersion', { account, target: { kind: 'named', version: missing }, ...context() }),
    );
    assert.equal(result.outcome, 'blocked');
    assert.match(result.message, new RegExp(`has no version ${missing}`));
    assert.equal(s.local.requestLog.writes().length, before, 'zero Azure writes');
  });

  test('when restore-access follows a revoke that also disabled the key, then after approval the grant is back, the version is enabled and blob access works', async () => {
    const { account, vault } = await configured(false);
    const revoked = await run(await s.start('revoke', { account, disableKey: true, ...context() }), true);
    assert.equal(revoked.outcome, 'succeeded', revoked.message);
    const inUse = arm(account)
      .properties.encryption.keyvaultproperties!.currentVersionedKeyIdentifier!.split('/')
      .pop()!;
    assert.equal(versionState(vault, inUse), false, 'the revoke disabled the version in use');

    const handle = await s.start('restoreAccess', { account, ...context() });
    const asked = await waitForApproval(handle);
    assert.deepEqual(
      asked.plan?.steps
        .filter((st) => !st.skip && st.id !== 'preflight' && st.id !== 'probe')
        .map((st) => st.id),
      ['grant', 'enableKey'],
      'the card shows both undo steps',
    );
    assert.equal(asked.plan?.versions?.enable, inUse);
    await decide(handle, PEOPLE.bob, 'approve');
    const result = (await handle.result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.equal(versionState(vault, inUse), true, 'the disabled version is enabled again');
    assert.match(result.message, /blob access works/);
    assert.equal(result.steps.find((st) => st.id === 'probe')?.detail, 'blob access allowed');
  });

  test('when restore-access finds nothing revoked, then it asks nobody, writes nothing and says so', async () => {
    const { account } = await configured(false);
    const before = s.local.requestLog.writes().length;
    const result = await run(await s.start('restoreAccess', { account, ...context() }));
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.match(result.message, /nothing needed restoring/);
    assert.equal(s.local.requestLog.writes().length, before);
    assert.equal(result.plan?.steps.filter((st) => st.skip).length, 2, 'grant and enable were already so');
  });
});
