/**
 * Resources rendered exactly as ARM and Key Vault return them on the wire; the services answer
 * with these and tests read the same shapes through the state snapshots.
 */
import {
  identityResourceId,
  storageAccountId,
  vaultResourceId,
  type DeletedKey,
  type DeletedVault,
  type KeyRecord,
  type KeyVersion,
  type NetworkRules,
  type RoleAssignment,
  type StateData,
  type StorageAccount,
  type UserAssignedIdentity,
  type Vault,
} from './model';

/** ARM JSON of a vault. */
export function vaultView(v: Vault): Record<string, unknown> {
  const p = v.properties;
  return {
    id: vaultResourceId(v),
    name: v.name,
    type: 'Microsoft.KeyVault/vaults',
    location: v.location,
    tags: v.tags,
    systemData: { createdBy: v.createdBy, createdAt: v.createdAt },
    properties: {
      ...p,
      sku: { family: 'A', name: p.sku.name },
      accessPolicies: p.accessPolicies.map((a) => ({
        ...a,
        permissions: { keys: [], secrets: [], certificates: [], ...a.permissions },
      })),
      vaultUri: `https://${v.name}.vault.azure.net/`,
    },
  };
}

/** ARM JSON of a soft-deleted vault. */
export function deletedVaultView(d: DeletedVault): Record<string, unknown> {
  const v = d.vault;
  return {
    id: `/subscriptions/${v.subscriptionId}/providers/Microsoft.KeyVault/locations/${v.location}/deletedVaults/${v.name}`,
    name: v.name,
    type: 'Microsoft.KeyVault/deletedVaults',
    properties: {
      vaultId: vaultResourceId(v),
      location: v.location,
      deletionDate: d.deletionDate,
      scheduledPurgeDate: d.scheduledPurgeDate,
      tags: v.tags,
      purgeProtectionEnabled: v.properties.enablePurgeProtection === true,
    },
  };
}

function accountIdentityView(data: StateData, a: StorageAccount): Record<string, unknown> {
  const identity: Record<string, unknown> = { type: a.identity.type };
  if (a.identity.principalId)
    Object.assign(identity, { principalId: a.identity.principalId, tenantId: data.tenantId });
  if (a.identity.userAssignedIdentities.length) {
    identity.userAssignedIdentities = Object.fromEntries(
      a.identity.userAssignedIdentities.map((id) => {
        const uai = data.identities[id.toLowerCase()];
        return [id, { principalId: uai?.principalId, clientId: uai?.clientId }];
      }),
    );
  }
  return identity;
}

function accountEncryptionView(a: StorageAccount): Record<string, unknown> {
  const e = a.encryption;
  const service = (keyType: string): Record<string, unknown> => ({
    enabled: true,
    keyType,
    lastEnabledTime: a.createdAt,
  });
  const encryption: Record<string, unknown> = {
    services: {
      blob: service('Account'),
      file: service('Account'),
      queue: { keyType: a.queueKeyType },
      table: { keyType: a.tableKeyType },
    },
    keySource: e.keySource,
    requireInfrastructureEncryption: a.requireInfrastructureEncryption,
  };
  if (e.keySource === 'Microsoft.Keyvault') {
    encryption.keyvaultproperties = {
      keyname: e.keyName,
      keyversion: e.keyVersion ?? '',
      keyvaulturi: e.keyVaultUri,
      currentVersionedKeyIdentifier: e.currentVersionedKeyIdentifier,
      lastKeyRotationTimestamp: e.lastKeyRotationTimestamp,
      currentVersionedKeyExpirationTimestamp: e.currentVersionedKeyExpirationTimestamp,
    };
  }
  if (e.userAssignedIdentity || e.federatedIdentityClientId) {
    encryption.identity = {
      userAssignedIdentity: e.userAssignedIdentity,
      federatedIdentityClientId: e.federatedIdentityClientId,
    };
  }
  return encryption;
}

/** ARM JSON of network rules (`networkAcls`); Azure's default when none were set. */
export function networkAclsView(rules: NetworkRules | undefined): Record<string, unknown> {
  const r = rules ?? {
    defaultAction: 'Allow',
    bypass: 'AzureServices',
    ipRules: [],
    virtualNetworkRules: [],
  };
  return {
    bypass: r.bypass,
    virtualNetworkRules: r.virtualNetworkRules.map((id) => ({ id, action: 'Allow', state: 'Succeeded' })),
    ipRules: r.ipRules.map((value) => ({ value, action: 'Allow' })),
    defaultAction: r.defaultAction,
  };
}

/** ARM JSON of a storage account, including the read-only key fields Storage maintains. */
export function storageAccountView(data: StateData, a: StorageAccount): Record<string, unknown> {
  return {
    id: storageAccountId(a),
    name: a.name,
    type: 'Microsoft.Storage/storageAccounts',
    location: a.location,
    tags: a.tags,
    sku: { name: a.sku, tier: a.sku.startsWith('Premium') ? 'Premium' : 'Standard' },
    kind: a.kind,
    identity: accountIdentityView(data, a),
    properties: {
      provisioningState: 'Succeeded',
      creationTime: a.createdAt,
      primaryLocation: a.location,
      statusOfPrimary: 'available',
      primaryEndpoints: {
        blob: `https://${a.name}.blob.core.windows.net/`,
        queue: `https://${a.name}.queue.core.windows.net/`,
        table: `https://${a.name}.table.core.windows.net/`,
        file: `https://${a.name}.file.core.windows.net/`,
      },
      encryption: accountEncryptionView(a),
      networkAcls: networkAclsView(a.networkAcls),
      publicNetworkAccess: a.publicNetworkAccess ?? 'Enabled',
      supportsHttpsTrafficOnly: true,
      minimumTlsVersion: 'TLS1_2',
      allowBlobPublicAccess: false,
      accessTier: 'Hot',
      ...a.settings,
    },
  };
}

/** Recovery level and days the data plane reports for keys in this vault. */
export function recoveryOf(v: Vault): { recoveryLevel: string; recoverableDays: number } {
  const days = v.properties.softDeleteRetentionInDays;
  const custom = days < 90 ? 'CustomizedRecoverable' : 'Recoverable';
  return {
    recoveryLevel: v.properties.enablePurgeProtection ? custom : `${custom}+Purgeable`,
    recoverableDays: days,
  };
}

/** The kid of a key version. */
export function kidOf(v: Vault, keyName: string, version: string): string {
  return `https://${v.name}.vault.azure.net/keys/${keyName}/${version}`;
}

function attributes(v: Vault, kv: KeyVersion): Record<string, unknown> {
  const a: Record<string, unknown> = {
    enabled: kv.enabled,
    created: kv.created,
    updated: kv.updated,
    exportable: false,
  };
  if (kv.nbf !== undefined) a.nbf = kv.nbf;
  if (kv.exp !== undefined) a.exp = kv.exp;
  return { ...a, ...recoveryOf(v) };
}

/** Key Vault KeyBundle of one version (public key only). */
export function keyBundleView(v: Vault, key: KeyRecord, kv: KeyVersion): Record<string, unknown> {
  return {
    key: { kid: kidOf(v, key.name, kv.version), kty: kv.kty, key_ops: kv.keyOps, n: kv.n, e: kv.e },
    attributes: attributes(v, kv),
    tags: kv.tags,
  };
}

/** Key Vault KeyItem of one version (list results). */
export function keyItemView(
  v: Vault,
  key: KeyRecord,
  kv: KeyVersion,
  versioned: boolean,
): Record<string, unknown> {
  return {
    kid: versioned ? kidOf(v, key.name, kv.version) : `https://${v.name}.vault.azure.net/keys/${key.name}`,
    attributes: attributes(v, kv),
    tags: kv.tags,
  };
}

/** Key Vault DeletedKeyBundle. */
export function deletedKeyView(v: Vault, d: DeletedKey): Record<string, unknown> {
  const current = d.key.versions[d.key.versions.length - 1];
  return {
    ...(current ? keyBundleView(v, d.key, current) : {}),
    recoveryId: `https://${v.name}.vault.azure.net/deletedkeys/${d.key.name}`,
    deletedDate: d.deletedDate,
    scheduledPurgeDate: d.scheduledPurgeDate,
  };
}

/** Key Vault DeletedKeyItem (list results): the key item's `kid` plus the deletion fields. */
export function deletedKeyItemView(v: Vault, d: DeletedKey): Record<string, unknown> {
  const current = d.key.versions.at(-1);
  return {
    ...(current ? keyItemView(v, d.key, current, false) : {}),
    recoveryId: `https://${v.name}.vault.azure.net/deletedkeys/${d.key.name}`,
    deletedDate: d.deletedDate,
    scheduledPurgeDate: d.scheduledPurgeDate,
  };
}

/** ARM JSON of a role assignment. */
export function roleAssignmentView(a: RoleAssignment): Record<string, unknown> {
  return {
    id: `${a.scope}/providers/Microsoft.Authorization/roleAssignments/${a.name}`,
    name: a.name,
    type: 'Microsoft.Authorization/roleAssignments',
    properties: {
      roleDefinitionId: a.roleDefinitionId,
      principalId: a.principalId,
      principalType: a.principalType,
      scope: a.scope,
      condition: null,
      createdOn: a.createdOn,
      updatedOn: a.createdOn,
      createdBy: a.createdBy ?? null,
      updatedBy: a.createdBy ?? null,
    },
  };
}

/** ARM JSON of a user-assigned identity. */
export function identityView(data: StateData, i: UserAssignedIdentity): Record<string, unknown> {
  return {
    id: identityResourceId(i),
    name: i.name,
    type: 'Microsoft.ManagedIdentity/userAssignedIdentities',
    location: i.location,
    tags: i.tags,
    properties: { tenantId: data.tenantId, principalId: i.principalId, clientId: i.clientId },
  };
}
