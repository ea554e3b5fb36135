/**
 * Seeds P1's fleet straight into the local Azure's state (no HTTP, no ARM bucket): RBAC vaults
 * with purge protection, accounts with a system-assigned identity holding Key Vault Crypto
 * Service Encryption User on their vault, one key each, pinned to its only version. One RSA
 * key pair is generated and reused, because seeding is not what is measured.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { LocalAzure } from '../src/local-azure';
import type { AccountRef } from '../src/shared/accounts';
import { createKeyVersion } from '../src/local-azure/rsa';
import { addBenchAccount, addBenchVault, BENCH_SUBSCRIPTION } from './stack';

/** One account of the seeded fleet and the version it is pinned to. */
export interface FleetAccount {
  account: AccountRef;
  vaultName: string;
  keyName: string;
  seedVersion: string;
}

/** Keys per vault: Key Vault allows 20 creates per vault per 10 s, so 20 keys per vault never wait on it. */
export const KEYS_PER_VAULT = 20;
const CRYPTO_SERVICE_ENCRYPTION_USER = 'e147488a-f6f5-4113-8e2d-b22465e65bf6';

/** How P1's fleet lays out its keys. */
export interface FleetLayout {
  /** Keys per vault ({@link KEYS_PER_VAULT} by default; the fleet's size: every key in one vault). */
  keysPerVault?: number;
  /** Accounts per key (1 by default; the fleet's size: one key shared by every account). */
  accountsPerKey?: number;
}

/** Adds `count` pinned CMK accounts to `local`'s state and returns them. */
export async function seedFleet(
  local: LocalAzure,
  count: number,
  layout: FleetLayout = {},
): Promise<FleetAccount[]> {
  const keysPerVault = Math.max(1, layout.keysPerVault ?? KEYS_PER_VAULT);
  const accountsPerKey = Math.max(1, layout.accountsPerKey ?? 1);
  const keyCount = Math.ceil(count / accountsPerKey);
  const tag = randomUUID().slice(0, 6);
  const nowSeconds = Math.floor(local.clock.now().getTime() / 1000);
  const template = await createKeyVersion(
    {
      kty: 'RSA',
      keySize: 2048,
      keyOps: ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'],
      enabled: true,
      tags: {},
    },
    nowSeconds,
  );
  const vaultNames = Array.from(
    { length: Math.ceil(keyCount / keysPerVault) },
    (_, i) => `kv-p1-${tag}-${i}`,
  );
  for (const name of vaultNames) addBenchVault(local, name);
  const data = local.state.data;
  const fleet: FleetAccount[] = [];
  for (let i = 0; i < count; i++) {
    const account = addBenchAccount(local, `stp1${tag}${String(i).padStart(5, '0')}`);
    // Account i uses key i mod keyCount: the accounts of one key are spread over the fleet.
    const keyIndex = i % keyCount;
    const vaultName = vaultNames[Math.floor(keyIndex / keysPerVault)]!;
    const keyName = `cmk-${tag}-${String(keyIndex).padStart(5, '0')}`;
    const record = Object.values(data.storageAccounts).find(
      (a) => a.name === account.name && a.resourceGroup === account.resourceGroup,
    )!;
    const principalId = randomUUID();
    data.principals[principalId] = {
      objectId: principalId,
      kind: 'ManagedIdentity',
      displayName: account.name,
    };
    record.identity = { type: 'SystemAssigned', principalId, userAssignedIdentities: [] };
    const vaultScope = `/subscriptions/${BENCH_SUBSCRIPTION}/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/${vaultName}`;
    local.state.addRoleAssignment({
      scope: vaultScope,
      roleDefinitionId: CRYPTO_SERVICE_ENCRYPTION_USER,
      principalId,
      effectiveImmediately: true,
    });
    const keys = data.vaults[vaultName.toLowerCase()]!.keys;
    const version = keys[keyName.toLowerCase()]?.versions[0]?.version ?? randomBytes(16).toString('hex');
    keys[keyName.toLowerCase()] ??= { name: keyName, versions: [{ ...template, version }] };
    const keyVaultUri = `https://${vaultName}.vault.azure.net/`;
    record.encryption = {
      keySource: 'Microsoft.Keyvault',
      keyName,
      keyVersion: version,
      keyVaultUri,
      currentVersionedKeyIdentifier: `${keyVaultUri}keys/${keyName}/${version}`,
      lastKeyRotationTimestamp: new Date(local.clock.now().getTime()).toISOString(),
    };
    fleet.push({ account, vaultName, keyName, seedVersion: version });
  }
  local.state.changed();
  return fleet;
}
