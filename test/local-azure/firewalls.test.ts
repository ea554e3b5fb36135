import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CLIENT_ADDRESS } from '../../src/local-azure';
import { clientsFor, RG_KEYS, RG_STORAGE, SUB } from './clients';
import { createCmkVault, grantAccountKeyAccess, startForTest } from './fixtures';
import { beforeAll, lazy } from '../kit/suite';

const SUBNET = `/subscriptions/${SUB}/resourceGroups/rg-net/providers/Microsoft.Network/virtualNetworks/vnet/subnets/apps`;

/** True when a Key Vault refusal carries this inner error code. */
const hasInner = (e: { details?: unknown }, code: string): boolean =>
  new RegExp(`"inner[eE]rror":\\{"code":"${code}"`).test(JSON.stringify(e.details));

describe('firewalls: Key Vault and Storage by source address, Storage through the trusted-services bypass', () => {
  const local = beforeAll(() => startForTest({ roleAssignmentPropagationMs: 0, revocationPropagationMs: 0 }));
  const c = lazy(() => clientsFor(local));

  const setVaultNetwork = (vault: string, properties: Record<string, unknown>) =>
    c.keyVault.vaults.update(RG_KEYS, vault, { properties });

  test('when a vault denies by default, then a caller outside its IP rules gets 403 ForbiddenByFirewall naming its address, and an IP rule for that address lets it in (key-vault network-security)', async () => {
    await createCmkVault(local, 'kv-fw', 'k');
    await setVaultNetwork('kv-fw', {
      networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices', ipRules: [{ value: '198.51.100.7' }] },
    });
    await assert.rejects(
      c.keys('kv-fw').getKey('k'),
      (e: { statusCode?: number; message: string; details?: unknown }) =>
        e.statusCode === 403 &&
        hasInner(e, 'ForbiddenByFirewall') &&
        e.message.startsWith('Client address is not authorized and caller is not a trusted service.') &&
        e.message.includes(`Client address: ${DEFAULT_CLIENT_ADDRESS}`),
    );
    await setVaultNetwork('kv-fw', {
      networkAcls: {
        defaultAction: 'Deny',
        virtualNetworkRules: [{ id: SUBNET }],
      },
    });
    await assert.rejects(c.keys('kv-fw').getKey('k'), (e: { details?: unknown }) => {
      return hasInner(e, 'ForbiddenByFirewall');
    });
    await setVaultNetwork('kv-fw', {
      networkAcls: { defaultAction: 'Deny', ipRules: [{ value: '203.0.113.0/24' }] },
    });
    assert.equal((await c.keys('kv-fw').getKey('k')).name, 'k');
  });

  test('when a vault denies public network access, then the data plane answers 403 ForbiddenByConnection while ARM still manages the vault (overview-vnet-service-endpoints: firewalls apply to the data plane only)', async () => {
    await setVaultNetwork('kv-fw', { publicNetworkAccess: 'Disabled' });
    await assert.rejects(
      c.keys('kv-fw').getKey('k'),
      (e: { statusCode?: number; message: string; details?: unknown }) =>
        e.statusCode === 403 &&
        hasInner(e, 'ForbiddenByConnection') &&
        e.message.startsWith('Public network access is disabled'),
    );
    const managed = await c.keyVault.vaults.get(RG_KEYS, 'kv-fw');
    assert.equal(managed.properties.publicNetworkAccess, 'Disabled');
    await setVaultNetwork('kv-fw', { publicNetworkAccess: 'Enabled' });
  });

  test('when a firewalled vault lets trusted services bypass, then Storage still uses its key; with bypass None it cannot, CMK is refused and blob data fails (trusted services: Azure Storage)', async () => {
    const { vaultUri } = await createCmkVault(local, 'kv-fw-cmk');
    await grantAccountKeyAccess(local, 'stcontoso', 'kv-fw-cmk');
    await setVaultNetwork('kv-fw-cmk', {
      networkAcls: { defaultAction: 'Deny', bypass: 'None', ipRules: [{ value: DEFAULT_CLIENT_ADDRESS }] },
    });
    const enable = () =>
      c.storage.storageAccounts.update(RG_STORAGE, 'stcontoso', {
        encryption: {
          keySource: 'Microsoft.Keyvault',
          keyVaultProperties: { keyName: 'cmk', keyVaultUri: vaultUri },
        },
      });
    await assert.rejects(enable(), (e: { code?: string }) => e.code === 'KeyVaultAuthenticationFailure');
    await setVaultNetwork('kv-fw-cmk', { networkAcls: { defaultAction: 'Deny', bypass: 'AzureServices' } });
    assert.equal((await enable()).encryption?.keySource, 'Microsoft.Keyvault');
    assert.equal(local.state.storageCanReachKey(SUB, RG_STORAGE, 'stcontoso'), true);
    await setVaultNetwork('kv-fw-cmk', { networkAcls: { defaultAction: 'Deny', bypass: 'None' } });
    assert.equal(local.state.storageCanReachKey(SUB, RG_STORAGE, 'stcontoso'), false);
  });

  test("when a storage account's firewall denies by default, then the caller's blob requests get 403 AuthorizationFailure until an IP rule names its address (storage-network-security)", async () => {
    const blob = c.blob('stfinance');
    // arm-storage 20 sends `properties` only when a property it lists in lower camel case is set
    // (its list spells NetworkRuleSet), so a firewall change travels with minimumTlsVersion.
    await c.storage.storageAccounts.update(RG_STORAGE, 'stfinance', {
      networkRuleSet: { defaultAction: 'Deny', ipRules: [{ iPAddressOrRange: '198.51.100.0/24' }] },
      minimumTlsVersion: 'TLS1_2',
    });
    await assert.rejects(
      blob.getAccountInfo(),
      (e: { statusCode?: number; code?: string }) =>
        e.statusCode === 403 && e.code === 'AuthorizationFailure',
    );
    await c.storage.storageAccounts.update(RG_STORAGE, 'stfinance', {
      networkRuleSet: { defaultAction: 'Deny', ipRules: [{ iPAddressOrRange: DEFAULT_CLIENT_ADDRESS }] },
      minimumTlsVersion: 'TLS1_2',
    });
    assert.equal((await blob.getAccountInfo()).accountKind, 'StorageV2');
    await c.storage.storageAccounts.update(RG_STORAGE, 'stfinance', { publicNetworkAccess: 'Disabled' });
    await assert.rejects(blob.getAccountInfo(), (e: { code?: string }) => e.code === 'AuthorizationFailure');
  });
});
