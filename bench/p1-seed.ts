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

/** Adds `count` pinned CMK accounts to `local`'s state and returns them. */
export async function seedFleet(local: LocalAzure, count: number): Promise<FleetAccount[]> {
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
  const vaultNames = Array.from({ length: Math.ceil(count / KEYS_PER_VAULT) }, (_, i) => `kv-p1-${tag}-${i}`);
  for (const name of vaultNames) addBenchVault(local, name);
  const data = local.state.data;
  const fleet: FleetAccount[] = [];
  for (let i = 0; i < count; i++) {
    const account = addBenchAccount(local, `stp1${tag}${String(i).padStart(5, '0')}`);
    const vaultName = vaultNames[Math.floor(i / KEYS_PER_VAULT)]!;
    const keyName = `cmk-${account.name}`;
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
    const version = randomBytes(16).toString('hex');
    data.vaults[vaultName.toLowerCase()]!.keys[keyName.toLowerCase()] = {
      name: keyName,
      versions: [{ ...template, version }],
    };
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
