import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  grantDone,
  identityDone,
  keyDone,
  revokeDone,
  rotationDone,
  vaultDone,
} from '../../src/workflows/step-texts';

const VAULT = {
  name: 'kv-x',
  resourceGroup: 'rg',
  subscriptionId: 's',
  vaultUri: 'https://kv-x/',
  rbac: false,
};
const ENCRYPTION = { keySource: 'Microsoft.Keyvault' as const };

describe('what each step says it did (issue 14, measurement 7)', () => {
  test('when the vault step created the vault, turned purge protection on, or found both on, then each says so in its own words', () => {
    assert.equal(
      vaultDone({ ...VAULT, created: true, purgeProtectionEnabled: false }),
      'created kv-x with soft delete and purge protection',
    );
    assert.equal(
      vaultDone({ ...VAULT, created: false, purgeProtectionEnabled: true }),
      'purge protection turned on for kv-x (soft delete was already on)',
    );
    assert.equal(
      vaultDone({ ...VAULT, created: false, purgeProtectionEnabled: false }),
      'kv-x already had soft delete and purge protection',
    );
  });

  test('when an identity is turned on or already on, then the text says which, naming a user-assigned identity by its name, not its resource id', () => {
    const uami =
      '/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-cmk';
    assert.equal(
      identityDone({ identity: 'SystemAssigned', principalId: 'p', changed: true }),
      'system-assigned identity turned on',
    );
    assert.equal(
      identityDone({ identity: uami, principalId: 'p', changed: false }),
      'user-assigned identity id-cmk already on',
    );
  });

  test('when access is granted or already was, then the text names the grant and says only that Azure recorded it (ARM shows a grant at once; Key Vault applies RBAC within minutes)', () => {
    const grant = { principalId: 'p', effectiveAfterMs: 0 };
    assert.equal(
      grantDone({ ...grant, mode: 'accessPolicy', changed: false }),
      'already granted (access policy get/wrap/unwrap)',
    );
    assert.equal(
      grantDone({ ...grant, mode: 'rbac', changed: true, effectiveAfterMs: 12_400 }),
      'granted (Key Vault Crypto Service Encryption User role); recorded in Azure, Key Vault applies it within minutes and the next step waits for it',
    );
  });

  test('when a key, a rotation or a revocation is reported, then versions are shortened and flags become words', () => {
    const key = { vaultName: 'kv-x', vaultUri: 'https://kv-x/', name: 'cmk', kid: 'k' };
    assert.equal(
      keyDone({ ...key, version: '0123456789abcdef', created: true }),
      'created cmk, version 01234567…',
    );
    assert.equal(keyDone({ ...key, version: 'abc', created: false }), 'cmk already exists (version abc)');
    assert.equal(
      rotationDone({
        newVersion: 'ffffffff00000000',
        previousVersion: 'eeeeeeee11111111',
        accountState: 'pending',
        encryption: ENCRYPTION,
      }),
      'new version ffffffff… (was eeeeeeee…); Azure picks it up at its daily check (versionless)',
    );
    assert.equal(
      revokeDone({ removed: 'roleAssignment', keyDisabled: true }),
      'role assignment removed; key version disabled',
    );
    assert.equal(revokeDone({ removed: 'none', keyDisabled: false }), 'no grant was left to remove');
  });
});
