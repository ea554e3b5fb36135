import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { VaultState } from '../../src/shared/activities';
import { RG_KEYS, RUNBOOK_OID, SUB, startHarness } from './harness';
import { beforeAll } from '../kit/suite';

const UAI = `/subscriptions/${SUB}/resourceGroups/${RG_KEYS}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-cmk`;

type ArmAccount = {
  identity?: { type?: string; userAssignedIdentities?: Record<string, { principalId?: string }> };
  properties: { encryption: { keySource: string; identity?: { userAssignedIdentity?: string } } };
};

describe('identities and key access', () => {
  const h = beforeAll(() =>
    startHarness({ roleAssignmentPropagationMs: 4_000, timing: { grantTimeoutMs: 30_000 } }),
  );

  const accountState = (name: string) =>
    h.local.state.getStorageAccount(SUB, 'rg-storage', name) as unknown as ArmAccount;

  test('when an access-policy grant runs twice, then the identity gets get/wrapKey/unwrapKey once and other entries stay as they were', async () => {
    const account = h.newAccount();
    const vault = await h.run((a) =>
      a.ensureVault({ account, vault: { name: h.vaultName(), rbac: false }, location: 'eastus' }),
    );
    const identity = await h.run((a) => a.assignIdentity({ account, identity: { type: 'SystemAssigned' } }));
    const runbookBefore = h.local.state.getAccessPolicies(vault.name).find((p) => p.objectId === RUNBOOK_OID);
    const first = await h.run((a) =>
      a.grantKeyAccess({ vault, principalId: identity.principalId, keyName: 'k' }),
    );
    const second = await h.run((a) =>
      a.grantKeyAccess({ vault, principalId: identity.principalId, keyName: 'k' }),
    );
    assert.deepEqual([first.changed, second.changed], [true, false]);
    const policies = h.local.state.getAccessPolicies(vault.name);
    const entries = policies.filter((p) => p.objectId === identity.principalId);
    assert.equal(entries.length, 1);
    assert.deepEqual([...(entries[0]?.permissions.keys ?? [])].sort(), ['get', 'unwrapKey', 'wrapKey']);
    assert.deepEqual(
      policies.find((p) => p.objectId === RUNBOOK_OID),
      runbookBefore,
    );
  });

  test('when a system-assigned identity is assigned twice, then the account has one and the second call reports no change', async () => {
    const account = h.newAccount();
    const first = await h.run((a) => a.assignIdentity({ account, identity: { type: 'SystemAssigned' } }));
    const second = await h.run((a) => a.assignIdentity({ account, identity: { type: 'SystemAssigned' } }));
    assert.deepEqual([first.changed, second.changed], [true, false]);
    assert.equal(second.principalId, first.principalId);
    assert.equal(accountState(account.name).identity?.type, 'SystemAssigned');
  });

  test('when a user-assigned identity is used on an RBAC vault, then CMK is enabled with encryption.identity and the grant race does not fail the run', async () => {
    const account = h.newAccount();
    const vault: VaultState = await h.run((a) =>
      a.ensureVault({ account, vault: { name: h.vaultName() }, location: 'eastus' }),
    );
    const identity = await h.run((a) =>
      a.assignIdentity({ account, identity: { type: 'UserAssigned', resourceId: UAI } }),
    );
    assert.equal(identity.identity, UAI);
    const again = await h.run((a) =>
      a.assignIdentity({ account, identity: { type: 'UserAssigned', resourceId: UAI } }),
    );
    assert.equal(again.changed, false);
    const key = await h.run((a) =>
      a.ensureKey({ vault, key: { name: 'cmk', type: 'RSA', size: 2048 }, runId: 'r' }),
    );
    const grant = await h.run((a) =>
      a.grantKeyAccess({ vault, principalId: identity.principalId, keyName: 'cmk' }),
    );
    const grantAgain = await h.run((a) =>
      a.grantKeyAccess({ vault, principalId: identity.principalId, keyName: 'cmk' }),
    );
    assert.deepEqual([grant.changed, grantAgain.changed], [true, false]);
    assert.equal(grantAgain.roleAssignmentId, grant.roleAssignmentId);
    h.local.requestLog.clear();
    const enabled = await h.run((a) => a.enableCmk({ account, key, identity: UAI, pinVersion: false }));
    assert.equal(enabled.keySource, 'Microsoft.Keyvault');
    assert.ok(
      h.local.requestLog.entries().some((e) => e.errorCode === 'KeyVaultAuthenticationFailure'),
      'the race happened: Azure refused once before the grant propagated',
    );
    assert.equal(enabled.identity?.toLowerCase(), UAI.toLowerCase());
    assert.equal(
      accountState(account.name).properties.encryption.identity?.userAssignedIdentity?.toLowerCase(),
      UAI.toLowerCase(),
    );
    const probe = await h.run((a) => a.probeDataAccess({ account, expect: 'allowed', withinMs: 2_000 }));
    assert.equal(probe.state, 'allowed');
    const revoked = await h.revoke(account, false);
    const revokedAgain = await h.revoke(account, false);
    assert.deepEqual([revoked.removed, revokedAgain.removed], ['roleAssignment', 'none']);
    const denied = await h.run((a) => a.probeDataAccess({ account, expect: 'denied', withinMs: 5_000 }));
    assert.equal(denied.state, 'denied', 'blob access fails once the role assignment is gone');
    assert.equal(denied.errorCode, 'KeyVaultEncryptionKeyNotFound');
    assert.equal(
      h.local.state.listRoleAssignments(
        `/subscriptions/${SUB}/resourceGroups/rg-storage/providers/Microsoft.KeyVault/vaults/${vault.name}/keys`,
      ).length,
      0,
    );
  });

  test('when ensureKey is given a named version, then that version is used, not the latest, and a version the key does not have fails naming it', async () => {
    const vault = await h.run((a) =>
      a.ensureVault({
        account: h.newAccount(),
        vault: { name: h.vaultName(), rbac: false },
        location: 'eastus',
      }),
    );
    const choice = { name: 'named', type: 'RSA' as const, size: 2048 as const };
    const older = await h.run((a) => a.ensureKey({ vault, key: choice, runId: 'r' }));
    await h.azure.keys(vault.vaultUri).createRsaKey('named', { keySize: 2048 });
    const used = await h.run((a) =>
      a.ensureKey({ vault, key: { ...choice, version: older.version }, runId: 'r2' }),
    );
    assert.equal(used.version, older.version);
    assert.equal(used.created, false);
    await assert.rejects(
      h.run((a) => a.ensureKey({ vault, key: { ...choice, version: 'f'.repeat(32) }, runId: 'r3' })),
      /has no version f{32}/,
    );
  });

  test('when enableCmk runs twice, then the second call leaves the account as the first left it', async () => {
    const account = h.newAccount();
    const vault = await h.run((a) =>
      a.ensureVault({ account, vault: { name: h.vaultName(), rbac: false }, location: 'eastus' }),
    );
    const identity = await h.run((a) => a.assignIdentity({ account, identity: { type: 'SystemAssigned' } }));
    await h.run((a) => a.grantKeyAccess({ vault, principalId: identity.principalId, keyName: 'k' }));
    const key = await h.run((a) =>
      a.ensureKey({ vault, key: { name: 'k', type: 'RSA', size: 2048 }, runId: 'r' }),
    );
    const first = await h.run((a) =>
      a.enableCmk({ account, key, identity: 'SystemAssigned', pinVersion: true }),
    );
    const snapshot = h.local.state.getStorageAccount(SUB, 'rg-storage', account.name);
    const second = await h.run((a) =>
      a.enableCmk({ account, key, identity: 'SystemAssigned', pinVersion: true }),
    );
    assert.deepEqual(second, first);
    assert.deepEqual(h.local.state.getStorageAccount(SUB, 'rg-storage', account.name), snapshot);
    const disabled = await h.run((a) => a.disableCmk({ account }));
    const disabledAgain = await h.run((a) => a.disableCmk({ account }));
    assert.deepEqual(
      [disabled.keySource, disabledAgain.keySource],
      ['Microsoft.Storage', 'Microsoft.Storage'],
    );
    const restored = await h.run((a) => a.restoreEncryption({ account, settings: first }));
    assert.equal(restored.keyVersion, key.version);
  });

  test('when a user-assigned identity does not exist, then assignIdentity fails with IdentityNotFound', async () => {
    const account = h.newAccount();
    await assert.rejects(
      h.run((a) =>
        a.assignIdentity({
          account,
          identity: { type: 'UserAssigned', resourceId: UAI.replace('id-cmk', 'id-missing') },
        }),
      ),
      { type: 'IdentityNotFound', nonRetryable: true },
    );
  });
});

describe('a grant that never takes effect', () => {
  const h = beforeAll(() =>
    startHarness({ roleAssignmentPropagationMs: 600_000, timing: { grantTimeoutMs: 300 } }),
  );

  test('when the role assignment does not propagate within the grant timeout, then enableCmk fails with KeyAccessNotGranted and says what to grant', async () => {
    const account = h.newAccount();
    const vault = await h.run((a) =>
      a.ensureVault({ account, vault: { name: 'kv-rbac', resourceGroup: RG_KEYS }, location: 'eastus' }),
    );
    const identity = await h.run((a) => a.assignIdentity({ account, identity: { type: 'SystemAssigned' } }));
    await h.run((a) => a.grantKeyAccess({ vault, principalId: identity.principalId, keyName: 'slow' }));
    const key = await h.run((a) =>
      a.ensureKey({ vault, key: { name: 'slow', type: 'RSA', size: 2048 }, runId: 'r' }),
    );
    await assert.rejects(
      h.run((a) => a.enableCmk({ account, key, identity: 'SystemAssigned', pinVersion: false })),
      (error: Error & { type?: string }) =>
        error.type === 'KeyAccessNotGranted' && /Crypto Service Encryption User/.test(error.message),
    );
    assert.equal(
      (h.local.state.getStorageAccount(SUB, 'rg-storage', account.name) as unknown as ArmAccount).properties
        .encryption.keySource,
      'Microsoft.Storage',
    );
  });
});
