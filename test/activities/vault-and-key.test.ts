import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RG_KEYS, RUNBOOK_OID, SUB, startHarness } from './harness';
import { beforeAll } from '../kit/suite';

type ArmVault = {
  tags?: Record<string, string>;
  properties: {
    enableSoftDelete: boolean;
    enablePurgeProtection?: boolean;
    enableRbacAuthorization: boolean;
    accessPolicies: Array<{ objectId: string; permissions: { keys?: string[] } }>;
  };
};

describe('ensureVault and ensureKey', () => {
  const h = beforeAll(() => startHarness());

  test('when an access-policy vault is ensured twice in one run, then one vault exists with soft delete, purge protection and the runbook entry', async () => {
    const account = h.newAccount();
    const name = h.vaultName();
    const ensure = () =>
      h.run(
        (a) => a.ensureVault({ account, vault: { name, rbac: false }, location: 'eastus' }),
        'run-vault-twice',
      );
    const first = await ensure();
    const snapshot = h.local.state.getVault(SUB, account.resourceGroup, name);
    const second = await ensure();
    assert.deepEqual(
      h.local.state.getVault(SUB, account.resourceGroup, name),
      snapshot,
      'the second call changed nothing',
    );
    assert.equal(first.created, true);
    assert.equal(second.created, true, 'the retry still reports that this run created it');
    const vault = snapshot as unknown as ArmVault;
    assert.equal(vault.properties.enableSoftDelete, true);
    assert.equal(vault.properties.enablePurgeProtection, true);
    assert.equal(vault.properties.enableRbacAuthorization, false);
    assert.ok(
      vault.properties.accessPolicies.some(
        (p) => p.objectId === RUNBOOK_OID && p.permissions.keys?.includes('create'),
      ),
    );
  });

  test('when a vault without purge protection is used and the run may not enable it, then it stops with PurgeProtectionMissing and the fix, changing nothing', async () => {
    const account = h.newAccount();
    await assert.rejects(
      h.run((a) =>
        a.ensureVault({ account, vault: { name: 'kv-nopurge', resourceGroup: RG_KEYS }, location: 'eastus' }),
      ),
      (error: Error & { type?: string; nonRetryable?: boolean }) =>
        error.type === 'PurgeProtectionMissing' &&
        error.nonRetryable === true &&
        /enable-purge-protection/.test(error.message),
    );
    const vault = h.local.state.getVault(SUB, RG_KEYS, 'kv-nopurge') as unknown as ArmVault;
    assert.notEqual(vault.properties.enablePurgeProtection, true);
  });

  test('when the run may enable purge protection, then it turns it on once and a second call reports it was already on', async () => {
    const account = h.newAccount();
    const name = h.vaultName('kv-pp');
    h.local.state.addVault({
      subscriptionId: SUB,
      resourceGroup: RG_KEYS,
      name,
      enableSoftDelete: true,
      enablePurgeProtection: false,
    });
    const ensure = () =>
      h.run((a) =>
        a.ensureVault({
          account,
          vault: { name, resourceGroup: RG_KEYS, allowPurgeProtection: true },
          location: 'eastus',
        }),
      );
    const first = await ensure();
    assert.equal(first.purgeProtectionEnabled, true);
    assert.equal(first.created, false);
    assert.equal(
      (h.local.state.getVault(SUB, RG_KEYS, name) as unknown as ArmVault).properties.enablePurgeProtection,
      true,
    );
    const second = await ensure();
    assert.equal(second.purgeProtectionEnabled, false);
  });

  test('when a vault has no soft delete, then ensureVault fails with SoftDeleteMissing', async () => {
    const account = h.newAccount();
    const name = h.vaultName('kv-nosd');
    h.local.state.addVault({ subscriptionId: SUB, resourceGroup: RG_KEYS, name, enableSoftDelete: false });
    await assert.rejects(
      h.run((a) =>
        a.ensureVault({
          account,
          vault: { name, resourceGroup: RG_KEYS, allowPurgeProtection: true },
          location: 'eastus',
        }),
      ),
      { type: 'SoftDeleteMissing', nonRetryable: true },
    );
  });

  test('when the vault name is taken in another resource group than the one asked for, then ensureVault fails with VaultNameTaken', async () => {
    const account = h.newAccount();
    await assert.rejects(
      h.run((a) =>
        a.ensureVault({
          account,
          vault: { name: 'kv-rbac', resourceGroup: account.resourceGroup },
          location: 'eastus',
        }),
      ),
      { type: 'VaultNameTaken', nonRetryable: true },
    );
  });

  test('when a soft-deleted vault holds the name, then ensureVault fails with VaultSoftDeleted and says to recover it', async () => {
    const account = h.newAccount();
    const name = h.vaultName('kv-gone');
    await h.run((a) => a.ensureVault({ account, vault: { name, rbac: false }, location: 'eastus' }));
    await h.azure.keyVault(SUB).vaults.delete(account.resourceGroup, name);
    assert.ok(h.local.state.listDeletedVaults().some((v) => JSON.stringify(v).includes(name)));
    await assert.rejects(
      h.run((a) => a.ensureVault({ account, vault: { name, rbac: false }, location: 'eastus' })),
      (error: Error & { type?: string }) =>
        error.type === 'VaultSoftDeleted' && /recover/.test(error.message),
    );
  });

  test('when a vault name is invalid, then the error names the field and the rule and nothing reaches Azure', async () => {
    const account = h.newAccount();
    h.local.requestLog.clear();
    await assert.rejects(
      h.run((a) => a.ensureVault({ account, vault: { name: '9-bad--name' }, location: 'eastus' })),
      (error: Error & { type?: string }) =>
        error.type === 'InvalidInput' && /^vault\.name: a vault name is 3–24/.test(error.message),
    );
    assert.equal(h.local.requestLog.entries({ service: 'arm' }).length, 0);
  });

  test('when ensureKey is retried with the same run id, then one version exists and both calls report it as created; another run reuses it', async () => {
    const account = h.newAccount();
    const vault = await h.run((a) =>
      a.ensureVault({ account, vault: { name: h.vaultName(), rbac: false }, location: 'eastus' }),
    );
    const key = { name: 'cmk', type: 'RSA', size: 2048 } as const;
    const first = await h.run((a) => a.ensureKey({ vault, key, runId: 'run-a' }));
    const retry = await h.run((a) => a.ensureKey({ vault, key, runId: 'run-a' }));
    const other = await h.run((a) => a.ensureKey({ vault, key, runId: 'run-b' }));
    assert.equal(h.local.state.listKeyVersions(vault.name, 'cmk').length, 1);
    assert.deepEqual([first.created, retry.created, other.created], [true, true, false]);
    assert.equal(retry.version, first.version);
    assert.equal(other.kid, first.kid);
  });

  test('when an RSA-HSM key is asked for on a standard vault, then it fails with HsmNotSupportedOnStandardVault and creates nothing', async () => {
    const account = h.newAccount();
    const vault = await h.run((a) =>
      a.ensureVault({
        account,
        vault: { name: h.vaultName(), rbac: false, sku: 'standard' },
        location: 'eastus',
      }),
    );
    await assert.rejects(
      h.run((a) => a.ensureKey({ vault, key: { name: 'hsm', type: 'RSA-HSM', size: 2048 }, runId: 'r' })),
      {
        type: 'HsmNotSupportedOnStandardVault',
      },
    );
    assert.equal(h.local.state.listKeyVersions(vault.name, 'hsm').length, 0);
  });

  test('when an RSA-HSM key is asked for on a premium vault, then it is created', async () => {
    const account = h.newAccount();
    const vault = await h.run((a) =>
      a.ensureVault({
        account,
        vault: { name: h.vaultName(), rbac: false, sku: 'premium' },
        location: 'eastus',
      }),
    );
    const key = await h.run((a) =>
      a.ensureKey({ vault, key: { name: 'hsm', type: 'RSA-HSM', size: 2048 }, runId: 'r' }),
    );
    const [bundle] = h.local.state.listKeyVersions(vault.name, 'hsm') as Array<{ key: { kty: string } }>;
    assert.equal(bundle?.key.kty, 'RSA-HSM');
    assert.equal(key.created, true);
  });

  test('when the key size is not one storage accepts, then the error names key.size and its allowed values', async () => {
    const account = h.newAccount();
    const vault = await h.run((a) =>
      a.ensureVault({ account, vault: { name: h.vaultName(), rbac: false }, location: 'eastus' }),
    );
    await assert.rejects(
      h.run((a) => a.ensureKey({ vault, key: { name: 'k', type: 'RSA', size: 1024 as 2048 }, runId: 'r' })),
      (error: Error & { type?: string }) =>
        error.type === 'InvalidInput' && /key\.size: must be one of 2048, 3072, 4096/.test(error.message),
    );
  });

  test('when the existing key is disabled, then ensureKey and enableCmk fail with KeyDisabled at once', async () => {
    const account = h.newAccount();
    const vault = await h.run((a) =>
      a.ensureVault({ account, vault: { name: h.vaultName(), rbac: false }, location: 'eastus' }),
    );
    await h.run((a) => a.ensureKey({ vault, key: { name: 'k', type: 'RSA', size: 2048 }, runId: 'r' }));
    const identity = await h.run((a) => a.assignIdentity({ account, identity: { type: 'SystemAssigned' } }));
    await h.run((a) => a.grantKeyAccess({ vault, principalId: identity.principalId, keyName: 'k' }));
    const key = await h.run((a) =>
      a.ensureKey({ vault, key: { name: 'k', type: 'RSA', size: 2048 }, runId: 'r' }),
    );
    await h.run((a) => a.enableCmk({ account, key, identity: 'SystemAssigned', pinVersion: true }));
    await h.revoke(account, true);
    await assert.rejects(
      h.run((a) => a.ensureKey({ vault, key: { name: 'k', type: 'RSA', size: 2048 }, runId: 'r2' })),
      {
        type: 'KeyDisabled',
        nonRetryable: true,
      },
    );
    await h.run((a) => a.grantKeyAccess({ vault, principalId: identity.principalId, keyName: 'k' }));
    await h.run((a) => a.disableCmk({ account }));
    await assert.rejects(
      h.run((a) => a.enableCmk({ account, key, identity: 'SystemAssigned', pinVersion: true })),
      {
        type: 'KeyDisabled',
      },
    );
    const arm = h.local.state.getStorageAccount(
      account.subscriptionId,
      account.resourceGroup,
      account.name,
    ) as {
      properties: { encryption: { keySource: string } };
    };
    assert.equal(arm.properties.encryption.keySource, 'Microsoft.Storage');
  });
});
