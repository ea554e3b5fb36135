import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { KeyState, VaultState } from '../../src/shared/activities';
import { startHarness } from './harness';
import { beforeAll } from '../kit/suite';

const DAY_MS = 86_400_000;

interface ArmAccount {
  identity?: { type?: string; principalId?: string };
  properties: {
    encryption: {
      keySource: string;
      keyvaultproperties?: {
        keyname?: string;
        keyversion?: string;
        keyvaulturi?: string;
        currentVersionedKeyIdentifier?: string;
      };
    };
  };
}

describe('the seed procedure through the activities alone', () => {
  const h = beforeAll(() => startHarness());

  test('when each lifecycle step runs in order, then the local Azure is in the expected state after every step', async () => {
    const account = h.newAccount('stlife');
    const armAccount = (): ArmAccount =>
      h.local.state.getStorageAccount(
        account.subscriptionId,
        account.resourceGroup,
        account.name,
      ) as unknown as ArmAccount;
    const encryption = () => armAccount().properties.encryption;

    const vaultName = h.vaultName('kv-life');
    const vault: VaultState = await h.run((a) =>
      a.ensureVault({ account, vault: { name: vaultName }, location: 'eastus' }),
    );
    const armVault = h.local.state.getVault(account.subscriptionId, account.resourceGroup, vaultName) as {
      properties: {
        enableSoftDelete: boolean;
        enablePurgeProtection: boolean;
        enableRbacAuthorization: boolean;
      };
    };
    assert.deepEqual(
      [
        armVault.properties.enableSoftDelete,
        armVault.properties.enablePurgeProtection,
        armVault.properties.enableRbacAuthorization,
      ],
      [true, true, true],
    );
    assert.equal(vault.created, true);

    const identity = await h.run((a) => a.assignIdentity({ account, identity: { type: 'SystemAssigned' } }));
    assert.equal(armAccount().identity?.type, 'SystemAssigned');
    assert.equal(armAccount().identity?.principalId, identity.principalId);

    const grant = await h.run((a) =>
      a.grantKeyAccess({ vault, principalId: identity.principalId, keyName: 'cmk' }),
    );
    assert.equal(grant.mode, 'rbac');
    const assignments = h.local.state.listRoleAssignments(
      `/subscriptions/${account.subscriptionId}/resourceGroups/${account.resourceGroup}/providers/Microsoft.KeyVault/vaults/${vaultName}/keys/cmk`,
    );
    assert.ok(
      assignments.some((r) => JSON.stringify(r).includes(identity.principalId)),
      'the identity holds a role on the key',
    );

    const key: KeyState = await h.run((a) =>
      a.ensureKey({ vault, key: { name: 'cmk', type: 'RSA', size: 2048 }, runId: 'run-life' }),
    );
    assert.equal(h.local.state.listKeyVersions(vaultName, 'cmk').length, 1);

    await h.run((a) => a.enableCmk({ account, key, identity: 'SystemAssigned', pinVersion: false }));
    assert.equal(encryption().keySource, 'Microsoft.Keyvault');
    assert.equal(encryption().keyvaultproperties?.keyname, 'cmk');
    assert.equal(encryption().keyvaultproperties?.keyversion ?? '', '');
    const allowed = await h.run((a) => a.probeDataAccess({ account, expect: 'allowed', withinMs: 2_000 }));
    assert.equal(allowed.state, 'allowed');

    const pending = await h.run((a) => a.rotateKey({ account, runId: 'run-rotate', confirmWithinMs: 0 }));
    assert.equal(pending.accountState, 'pending');
    h.local.clock.advance(DAY_MS + 1_000);
    const rotation = await h.run((a) =>
      a.rotateKey({ account, runId: 'run-rotate', confirmWithinMs: 2_000 }),
    );
    assert.equal(rotation.newVersion, pending.newVersion, 'the retried rotation reuses its own version');
    assert.equal(rotation.accountState, 'confirmed');
    assert.equal(rotation.previousVersion, key.version);
    assert.equal(h.local.state.listKeyVersions(vaultName, 'cmk').length, 2);
    assert.ok(encryption().keyvaultproperties?.currentVersionedKeyIdentifier?.endsWith(rotation.newVersion));

    await h.run((a) =>
      a.enableCmk({
        account,
        key: { ...key, version: rotation.newVersion },
        identity: 'SystemAssigned',
        pinVersion: true,
      }),
    );
    assert.equal(encryption().keyvaultproperties?.keyversion, rotation.newVersion);

    const otherVaultName = h.vaultName('kv-next');
    const otherVault = await h.run((a) =>
      a.ensureVault({ account, vault: { name: otherVaultName, rbac: false }, location: 'eastus' }),
    );
    assert.equal(otherVault.rbac, false);
    const policyGrant = await h.run((a) =>
      a.grantKeyAccess({ vault: otherVault, principalId: identity.principalId, keyName: 'cmk2' }),
    );
    assert.equal(policyGrant.mode, 'accessPolicy');
    const otherKey = await h.run((a) =>
      a.ensureKey({ vault: otherVault, key: { name: 'cmk2', type: 'RSA', size: 2048 }, runId: 'run-change' }),
    );
    await h.run((a) =>
      a.enableCmk({ account, key: otherKey, identity: 'SystemAssigned', pinVersion: false }),
    );
    assert.equal(
      encryption().keyvaultproperties?.keyvaulturi?.replace(/\/$/, ''),
      `https://${otherVaultName}.vault.azure.net`,
    );
    assert.equal(encryption().keyvaultproperties?.keyname, 'cmk2');

    const revoked = await h.revoke(account, true);
    assert.deepEqual([revoked.removed, revoked.keyDisabled], ['accessPolicy', true]);
    assert.ok(
      !h.local.state.getAccessPolicies(otherVaultName).some((p) => p.objectId === identity.principalId),
    );
    const versions = h.local.state.listKeyVersions(otherVaultName, 'cmk2') as Array<{
      attributes: { enabled: boolean };
    }>;
    assert.equal(versions.at(-1)?.attributes.enabled, false);
    const denied = await h.run((a) => a.probeDataAccess({ account, expect: 'denied', withinMs: 5_000 }));
    assert.equal(denied.state, 'denied');
    assert.equal(denied.errorCode, 'KeyVaultEncryptionKeyNotFound');

    await h.run((a) => a.disableCmk({ account }));
    assert.equal(encryption().keySource, 'Microsoft.Storage');
    const back = await h.run((a) => a.probeDataAccess({ account, expect: 'allowed', withinMs: 5_000 }));
    assert.equal(back.state, 'allowed');
  });
});
