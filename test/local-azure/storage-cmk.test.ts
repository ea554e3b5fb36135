import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { clientsFor, RG_KEYS, RG_STORAGE, SUB } from './clients';
import { createCmkVault, startForTest } from './fixtures';
import { beforeAll, lazy } from '../kit/suite';

const DAY = 86_400_000;
const CRYPTO_SERVICE_ENCRYPTION_USER = `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/e147488a-f6f5-4113-8e2d-b22465e65bf6`;

describe('storage accounts and customer-managed keys', () => {
  const local = beforeAll(() =>
    startForTest({ roleAssignmentPropagationMs: 60_000, revocationPropagationMs: 30_000 }),
  );
  const c = lazy(() => clientsFor(local));

  const grantAccessPolicy = (vault: string, objectId: string) =>
    c.keyVault.vaults.updateAccessPolicy(RG_KEYS, vault, 'add', {
      properties: {
        accessPolicies: [
          { tenantId: local.tenantId, objectId, permissions: { keys: ['get', 'wrapKey', 'unwrapKey'] } },
        ],
      },
    });

  test('when the account is read, then ARM returns the seeded settings including creation-only ones', async () => {
    const a = await c.storage.storageAccounts.getProperties(RG_STORAGE, 'stanalytics');
    assert.equal(a.location, 'westeurope');
    assert.equal(a.encryption?.requireInfrastructureEncryption, true);
    assert.equal(a.encryption?.services?.queue?.keyType, 'Account');
    assert.equal(a.encryption?.keySource, 'Microsoft.Storage');
  });

  test('when a creation-only setting is changed on update, then Storage refuses it', async () => {
    await assert.rejects(
      c.storage.storageAccounts.update(RG_STORAGE, 'stanalytics', {
        encryption: { requireInfrastructureEncryption: false },
      }),
      (e: { statusCode?: number; code?: string }) =>
        e.statusCode === 400 && e.code === 'AccountPropertyCannotBeUpdated',
    );
  });

  test('when the vault lacks purge protection, then enabling CMK fails with KeyVaultPolicyError and nothing changes', async () => {
    const { vaultUri } = await createCmkVault(local, 'kv-cmk-nopp', 'cmk', false);
    const a = await c.storage.storageAccounts.update(RG_STORAGE, 'starchive', {
      identity: { type: 'SystemAssigned' },
    });
    await grantAccessPolicy('kv-cmk-nopp', a.identity!.principalId!);
    await assert.rejects(
      c.storage.storageAccounts.update(RG_STORAGE, 'starchive', {
        encryption: {
          keySource: 'Microsoft.Keyvault',
          keyVaultProperties: { keyName: 'cmk', keyVaultUri: vaultUri },
        },
      }),
      (e: { code?: string; message: string }) =>
        e.code === 'KeyVaultPolicyError' && /recoverable is not set/.test(e.message),
    );
    const after = local.state.getStorageAccount(SUB, RG_STORAGE, 'starchive') as {
      properties: { encryption: { keySource: string } };
    };
    assert.equal(after.properties.encryption.keySource, 'Microsoft.Storage');
  });

  test('when the RBAC grant has not propagated yet, then CMK fails with KeyVaultAuthenticationFailure, and succeeds once it has', async () => {
    const { vaultUri, key } = await createCmkVault(local, 'kv-cmk-rbac');
    await c.keyVault.vaults.update(RG_KEYS, 'kv-cmk-rbac', { properties: { enableRbacAuthorization: true } });
    const a = await c.storage.storageAccounts.update(RG_STORAGE, 'stfinance', {
      identity: { type: 'SystemAssigned' },
    });
    const principalId = a.identity!.principalId!;
    assert.ok(local.state.getPrincipal(principalId), 'a system-assigned identity creates a principal');
    const scope = `/subscriptions/${SUB}/resourceGroups/${RG_KEYS}/providers/Microsoft.KeyVault/vaults/kv-cmk-rbac`;
    await c.authorization.roleAssignments.create(scope, 'b1a7f1f0-1111-4a1a-8a1a-000000000001', {
      roleDefinitionId: CRYPTO_SERVICE_ENCRYPTION_USER,
      principalId,
      principalType: 'ServicePrincipal',
    });
    const enable = () =>
      c.storage.storageAccounts.update(RG_STORAGE, 'stfinance', {
        encryption: {
          keySource: 'Microsoft.Keyvault',
          keyVaultProperties: { keyName: 'cmk', keyVaultUri: vaultUri },
        },
      });
    await assert.rejects(enable(), (e: { code?: string }) => e.code === 'KeyVaultAuthenticationFailure');
    local.clock.advance(60_000);
    const enabled = await enable();
    assert.equal(enabled.encryption?.keySource, 'Microsoft.Keyvault');
    assert.equal(enabled.encryption?.keyVaultProperties?.currentVersionedKeyIdentifier, key.id);
    assert.ok(enabled.encryption?.keyVaultProperties?.lastKeyRotationTimestamp instanceof Date);
  });

  test('when a user-assigned identity that does not exist is assigned, then Storage refuses it', async () => {
    const missing = `/subscriptions/${SUB}/resourceGroups/${RG_KEYS}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-missing`;
    await assert.rejects(
      c.storage.storageAccounts.update(RG_STORAGE, 'stcontoso', {
        identity: { type: 'UserAssigned', userAssignedIdentities: { [missing]: {} } },
      }),
      (e: { code?: string }) => e.code === 'FailedIdentityOperation',
    );
  });

  test('when CMK is versionless, then the daily check moves it to the new key version; a pinned account stays', async () => {
    const { vaultUri, key } = await createCmkVault(local, 'kv-cmk-rot');
    const uaiId = `/subscriptions/${SUB}/resourceGroups/${RG_KEYS}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-cmk`;
    const uai = await c.msi.userAssignedIdentities.get(RG_KEYS, 'id-cmk');
    await grantAccessPolicy('kv-cmk-rot', uai.principalId!);
    const a = await c.storage.storageAccounts.update(RG_STORAGE, 'stcontoso', {
      identity: { type: 'UserAssigned', userAssignedIdentities: { [uaiId]: {} } },
    });
    assert.equal(a.identity?.userAssignedIdentities?.[uaiId]?.principalId, uai.principalId);
    const versionless = await c.storage.storageAccounts.update(RG_STORAGE, 'stcontoso', {
      encryption: {
        keySource: 'Microsoft.Keyvault',
        keyVaultProperties: { keyName: 'cmk', keyVaultUri: vaultUri, keyVersion: '' },
        encryptionIdentity: { encryptionUserAssignedIdentity: uaiId },
      },
    });
    assert.equal(versionless.encryption?.keyVaultProperties?.currentVersionedKeyIdentifier, key.id);
    const pinnedKey = await createCmkVault(local, 'kv-cmk-pin');
    const fin = await c.storage.storageAccounts.getProperties(RG_STORAGE, 'stanalytics');
    assert.equal(fin.encryption?.keySource, 'Microsoft.Storage');
    const sys = await c.storage.storageAccounts.update(RG_STORAGE, 'stanalytics', {
      identity: { type: 'SystemAssigned' },
    });
    await grantAccessPolicy('kv-cmk-pin', sys.identity!.principalId!);
    const version = pinnedKey.key.properties.version!;
    await c.storage.storageAccounts.update(RG_STORAGE, 'stanalytics', {
      encryption: {
        keySource: 'Microsoft.Keyvault',
        keyVaultProperties: { keyName: 'cmk', keyVaultUri: pinnedKey.vaultUri, keyVersion: version },
      },
    });
    const rotated = await c.keys('kv-cmk-rot').rotateKey('cmk');
    await c.keys('kv-cmk-pin').rotateKey('cmk');
    local.clock.advance(DAY / 2);
    const beforeCheck = await c.storage.storageAccounts.getProperties(RG_STORAGE, 'stcontoso');
    assert.equal(beforeCheck.encryption?.keyVaultProperties?.currentVersionedKeyIdentifier, key.id);
    local.clock.advance(DAY);
    const moved = await c.storage.storageAccounts.getProperties(RG_STORAGE, 'stcontoso');
    assert.equal(moved.encryption?.keyVaultProperties?.currentVersionedKeyIdentifier, rotated.id);
    const pinned = await c.storage.storageAccounts.getProperties(RG_STORAGE, 'stanalytics');
    assert.equal(pinned.encryption?.keyVaultProperties?.currentVersionedKeyIdentifier, pinnedKey.key.id);
    assert.equal(pinned.encryption?.keyVaultProperties?.keyVersion, version);
  });

  test('when the encryption identity and the key change in one request, then Storage refuses it', async () => {
    const other = await createCmkVault(local, 'kv-cmk-other');
    await assert.rejects(
      c.storage.storageAccounts.update(RG_STORAGE, 'stcontoso', {
        identity: { type: 'SystemAssigned,UserAssigned' },
        encryption: {
          keySource: 'Microsoft.Keyvault',
          keyVaultProperties: { keyName: 'cmk', keyVaultUri: other.vaultUri },
          encryptionIdentity: { encryptionUserAssignedIdentity: '' },
        },
      }),
      (e: { code?: string }) => e.code === 'InvalidRequestPropertyValue',
    );
  });

  test('when the key is disabled, then blob content operations keep working during propagation and then fail with 403 KeyVaultEncryptionKeyNotFound, while account information and listings keep answering (customer-managed-keys-overview: revoke access)', async () => {
    const blob = c.blob('stcontoso');
    const canary = blob.getContainerClient('probe').getBlockBlobClient('canary');
    await blob.getContainerClient('probe').create();
    await canary.upload('canary', 6);
    const current = (await c.storage.storageAccounts.getProperties(RG_STORAGE, 'stcontoso')).encryption!
      .keyVaultProperties!.currentVersionedKeyIdentifier!;
    const version = current.split('/').pop()!;
    await c.keys('kv-cmk-rot').updateKeyProperties('cmk', version, { enabled: false });
    local.clock.advance(10_000);
    assert.equal((await canary.getProperties()).contentLength, 6, 'Storage still holds the unwrapped key');
    local.clock.advance(30_000);
    // A HEAD answer has no body: the SDK leaves `code` empty and keeps x-ms-error-code in details.
    const keyGone = (e: { statusCode?: number; code?: string; details?: { errorCode?: string } }) =>
      e.statusCode === 403 && (e.code ?? e.details?.errorCode) === 'KeyVaultEncryptionKeyNotFound';
    await assert.rejects(canary.getProperties(), keyGone);
    await assert.rejects(canary.download(0, 3), keyGone);
    await assert.rejects(canary.upload('again', 5), keyGone);
    await assert.rejects(canary.setMetadata({ a: 'b' }), keyGone);
    await assert.rejects(
      blob.getContainerClient('probe').listBlobsFlat({ includeMetadata: true }).byPage().next(),
      keyGone,
    );
    assert.equal((await blob.getAccountInfo()).accountKind, 'StorageV2');
    const containers: string[] = [];
    for await (const x of blob.listContainers()) containers.push(x.name);
    assert.deepEqual(containers, ['probe']);
    const names: string[] = [];
    for await (const x of blob.getContainerClient('probe').listBlobsFlat()) names.push(x.name);
    assert.deepEqual(names, ['canary']);
    await c.keys('kv-cmk-rot').updateKeyProperties('cmk', version, { enabled: true });
    assert.equal((await canary.getProperties()).contentLength, 6);
  });

  test('when access is revoked by removing the access policy, then Get Blob Properties fails after propagation', async () => {
    const blob = c.blob('stanalytics');
    const canary = blob.getContainerClient('probe').getBlockBlobClient('canary');
    await blob.getContainerClient('probe').create();
    await canary.upload('canary', 6);
    const principalId = (await c.storage.storageAccounts.getProperties(RG_STORAGE, 'stanalytics')).identity!
      .principalId!;
    await c.keyVault.vaults.updateAccessPolicy(RG_KEYS, 'kv-cmk-pin', 'remove', {
      properties: {
        accessPolicies: [
          {
            tenantId: local.tenantId,
            objectId: principalId,
            permissions: { keys: ['get', 'wrapKey', 'unwrapKey'] },
          },
        ],
      },
    });
    assert.equal(
      local.state.getAccessPolicies('kv-cmk-pin').some((p) => p.objectId === principalId),
      false,
    );
    await canary.getProperties();
    local.clock.advance(30_000);
    await assert.rejects(
      canary.getProperties(),
      (e: { details?: { errorCode?: string } }) => e.details?.errorCode === 'KeyVaultEncryptionKeyNotFound',
    );
    assert.equal((await blob.getAccountInfo()).accountKind, 'StorageV2');
  });

  test('when accounts are listed, then ARM pages them with nextLink', async () => {
    for (let i = 0; i < 120; i++)
      local.state.addStorageAccount({ subscriptionId: SUB, resourceGroup: 'rg-bulk', name: `stbulk${i}` });
    const pages: number[] = [];
    for await (const page of c.storage.storageAccounts.listByResourceGroup('rg-bulk').byPage())
      pages.push(page.length);
    assert.deepEqual(pages, [100, 20]);
    const names = [];
    for await (const a of c.storage.storageAccounts.list()) names.push(a.name);
    assert.ok(names.includes('stcontoso') && names.includes('stbulk119'));
  });
});
