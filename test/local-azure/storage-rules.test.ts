import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { clientsFor, RG_KEYS, RG_STORAGE, SUB } from './clients';
import { createCmkVault, grantAccountKeyAccess, startForTest } from './fixtures';
import { beforeAll, lazy } from '../kit/suite';

const DAY = 86_400_000;

describe('storage account updates as the Storage resource provider answers them', () => {
  const local = beforeAll(() => startForTest());
  const c = lazy(() => clientsFor(local));

  const accountJson = (name: string) => JSON.stringify(local.state.getStorageAccount(SUB, RG_STORAGE, name));

  test('when encryption.identity names a user-assigned identity the account does not have, then Storage answers InvalidValuesForRequestParameters for properties.encryption.identity (Storage RP error)', async () => {
    const { vaultUri } = await createCmkVault(local, 'kv-uai-missing');
    const uai = `/subscriptions/${SUB}/resourceGroups/${RG_KEYS}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-cmk`;
    await assert.rejects(
      c.storage.storageAccounts.update(RG_STORAGE, 'starchive', {
        encryption: {
          keySource: 'Microsoft.Keyvault',
          keyVaultProperties: { keyName: 'cmk', keyVaultUri: vaultUri },
          encryptionIdentity: { encryptionUserAssignedIdentity: uai },
        },
      }),
      (e: { statusCode?: number; code?: string; message: string }) =>
        e.statusCode === 400 &&
        e.code === 'InvalidValuesForRequestParameters' &&
        e.message === 'Values for request parameters are invalid: properties.encryption.identity.',
    );
  });

  test('when a setting only account creation makes is changed, then Storage answers AccountPropertyCannotBeUpdated (jenkins-infra/azure#125; customer-managed-keys for queues and tables)', async () => {
    const before = accountJson('stanalytics');
    for (const encryption of [
      { requireInfrastructureEncryption: false },
      { services: { queue: { keyType: 'Service' as const } } },
    ]) {
      await assert.rejects(
        c.storage.storageAccounts.update(RG_STORAGE, 'stanalytics', { encryption }),
        (e: { statusCode?: number; code?: string }) =>
          e.statusCode === 400 && e.code === 'AccountPropertyCannotBeUpdated',
      );
    }
    assert.equal(accountJson('stanalytics'), before);
  });

  test('when an update sets a property the local Azure does not model, then it is refused and nothing changes, instead of a 200 that dropped it', async () => {
    const before = accountJson('stfinance');
    await assert.rejects(
      c.storage.storageAccounts.update(RG_STORAGE, 'stfinance', {
        tags: { changed: 'no' },
        sasPolicy: { sasExpirationPeriod: '1.00:00:00', expirationAction: 'Log' },
      }),
      (e: { statusCode?: number; code?: string; message: string }) =>
        e.statusCode === 400 && e.code === 'PropertyNotEmulated' && /properties\.sasPolicy/.test(e.message),
    );
    assert.equal(accountJson('stfinance'), before);
  });

  test('when the firewall and simple settings are updated, then Storage stores and returns them (storage-network-security)', async () => {
    const updated = await c.storage.storageAccounts.update(RG_STORAGE, 'stfinance', {
      networkRuleSet: {
        defaultAction: 'Deny',
        bypass: 'AzureServices,Logging',
        ipRules: [{ iPAddressOrRange: '198.51.100.0/24', action: 'Allow' }],
      },
      minimumTlsVersion: 'TLS1_2',
      allowBlobPublicAccess: false,
    });
    assert.equal(updated.networkRuleSet?.defaultAction, 'Deny');
    assert.equal(updated.networkRuleSet?.bypass, 'AzureServices,Logging');
    assert.deepEqual(
      updated.networkRuleSet?.ipRules?.map((r) => r.iPAddressOrRange),
      ['198.51.100.0/24'],
    );
    const read = await c.storage.storageAccounts.getProperties(RG_STORAGE, 'stfinance');
    assert.equal(read.networkRuleSet?.defaultAction, 'Deny');
  });

  test('when the SKU changes tier or redundancy family, then Storage answers InvalidValuesForRequestParameters for sku; LRS to GRS is allowed (MicrosoftDocs/azure-docs#47207)', async () => {
    await assert.rejects(
      c.storage.storageAccounts.update(RG_STORAGE, 'starchive', { sku: { name: 'Premium_LRS' } }),
      (e: { code?: string; message: string }) =>
        e.code === 'InvalidValuesForRequestParameters' && /: sku\.$/.test(e.message),
    );
    await assert.rejects(
      c.storage.storageAccounts.update(RG_STORAGE, 'starchive', { sku: { name: 'Standard_ZRS' } }),
      (e: { code?: string }) => e.code === 'InvalidValuesForRequestParameters',
    );
    const grs = await c.storage.storageAccounts.update(RG_STORAGE, 'starchive', {
      sku: { name: 'Standard_GRS' },
    });
    assert.equal(grs.sku?.name, 'Standard_GRS');
  });

  test('when blob encryption is turned off, then Storage refuses it: data at rest is always encrypted (storage-service-encryption)', async () => {
    await assert.rejects(
      c.storage.storageAccounts.update(RG_STORAGE, 'starchive', {
        encryption: { services: { blob: { enabled: false } }, keySource: 'Microsoft.Storage' },
      }),
      (e: { code?: string }) => e.code === 'InvalidValuesForRequestParameters',
    );
  });

  test('when the same versionless key is sent again after a rotation, then the account keeps its version until the daily check (customer-managed-keys-overview: checks daily)', async () => {
    const { vaultUri, key } = await createCmkVault(local, 'kv-resend');
    await grantAccountKeyAccess(local, 'stcontoso', 'kv-resend');
    const versionless = {
      encryption: {
        keySource: 'Microsoft.Keyvault',
        keyVaultProperties: { keyName: 'cmk', keyVaultUri: vaultUri, keyVersion: '' },
      },
    };
    local.clock.advance(60_000);
    await c.storage.storageAccounts.update(RG_STORAGE, 'stcontoso', versionless);
    const rotated = await c.keys('kv-resend').rotateKey('cmk');
    const resent = await c.storage.storageAccounts.update(RG_STORAGE, 'stcontoso', versionless);
    assert.equal(resent.encryption?.keyVaultProperties?.currentVersionedKeyIdentifier, key.id);
    local.clock.advance(DAY);
    const checked = await c.storage.storageAccounts.getProperties(RG_STORAGE, 'stcontoso');
    assert.equal(checked.encryption?.keyVaultProperties?.currentVersionedKeyIdentifier, rotated.id);
  });
});
