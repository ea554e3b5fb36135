/**
 * Storage accounts, vaults and keys as references, their ARM resource ids, and the one
 * workflow id per account that makes every runbook on an account share a lock.
 */
import {
  ValidationError,
  validateGuid,
  validateKeyName,
  validateKeyVersion,
  validateResourceGroupName,
  validateStorageAccountName,
  validateVaultName,
} from './names';

/** A storage account, by the three parts of its resource id. */
export interface AccountRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

/** A Key Vault, by the three parts of its resource id. */
export interface VaultRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

const ACCOUNT_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Storage\/storageAccounts\/([^/]+)\/?$/i;
const VAULT_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)\/?$/i;
const IDENTITY_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/([-\w]{3,128})\/?$/i;

/** Validates the parts of an account reference and returns it normalised (lowercase subscription). */
export function validateAccountRef(ref: unknown, field = 'account'): AccountRef {
  const value = ref as Partial<AccountRef> | undefined;
  if (!value || typeof value !== 'object')
    throw new ValidationError(field, 'an account reference is required');
  return {
    subscriptionId: validateGuid(value.subscriptionId, `${field}.subscriptionId`),
    resourceGroup: validateResourceGroupName(value.resourceGroup, `${field}.resourceGroup`),
    name: validateStorageAccountName(value.name, `${field}.name`),
  };
}

/** Parses `/subscriptions/…/resourceGroups/…/providers/Microsoft.Storage/storageAccounts/…`. */
export function parseAccountId(id: unknown, field = 'account'): AccountRef {
  const match = typeof id === 'string' ? ACCOUNT_ID.exec(id.trim()) : null;
  if (!match) {
    throw new ValidationError(
      field,
      'a storage account resource id looks like /subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>',
      id,
    );
  }
  return validateAccountRef({ subscriptionId: match[1], resourceGroup: match[2], name: match[3] }, field);
}

/** Parses a Key Vault resource id. */
export function parseVaultId(id: unknown, field = 'vault'): VaultRef {
  const match = typeof id === 'string' ? VAULT_ID.exec(id.trim()) : null;
  if (!match) {
    throw new ValidationError(
      field,
      'a vault resource id looks like /subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<name>',
      id,
    );
  }
  return {
    subscriptionId: validateGuid(match[1], `${field}.subscriptionId`),
    resourceGroup: validateResourceGroupName(match[2], `${field}.resourceGroup`),
    name: validateVaultName(match[3], `${field}.name`),
  };
}

/** Validates a user-assigned identity resource id and returns it unchanged. */
export function validateUserAssignedIdentityId(id: unknown, field = 'userIdentity'): string {
  const match = typeof id === 'string' ? IDENTITY_ID.exec(id.trim()) : null;
  if (!match) {
    throw new ValidationError(
      field,
      'a user-assigned identity resource id looks like /subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>',
      id,
    );
  }
  validateGuid(match[1], `${field}.subscriptionId`);
  return (id as string).trim();
}

/** The ARM resource id of a storage account. */
export function accountId(ref: AccountRef): string {
  return `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${ref.name}`;
}

/** The ARM resource id of a vault. */
export function vaultId(ref: VaultRef): string {
  return `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/Microsoft.KeyVault/vaults/${ref.name}`;
}

/** The data-plane URI of a vault in the public cloud. */
export function vaultUri(vaultName: string): string {
  return `https://${vaultName.toLowerCase()}.vault.azure.net/`;
}

/** A key identifier, `https://<vault>.vault.azure.net/keys/<name>[/<version>]`, split into parts. */
export interface KeyId {
  vaultUri: string;
  vaultName: string;
  name: string;
  version?: string;
}

const KEY_ID = /^https:\/\/([a-z0-9-]+)\.vault\.azure\.net(?::443)?\/keys\/([^/]+)(?:\/([^/]*))?\/?$/i;

/** Parses a Key Vault key identifier (versioned or versionless). */
export function parseKeyId(kid: unknown, field = 'keyId'): KeyId {
  const match = typeof kid === 'string' ? KEY_ID.exec(kid.trim()) : null;
  if (!match) {
    throw new ValidationError(
      field,
      'a key id looks like https://<vault>.vault.azure.net/keys/<name>/<version>',
      kid,
    );
  }
  const vaultName = validateVaultName(match[1], `${field}.vault`);
  const result: KeyId = {
    vaultUri: vaultUri(vaultName),
    vaultName: vaultName.toLowerCase(),
    name: validateKeyName(match[2], `${field}.name`),
  };
  if (match[3]) result.version = validateKeyVersion(match[3], `${field}.version`);
  return result;
}

/**
 * One workflow id per storage account, whatever the runbook: `cmk/<subscription>/<group>/<account>`,
 * lowercased, so two runbooks can never act on the same account at once.
 */
export function workflowIdFor(ref: AccountRef): string {
  return `cmk/${ref.subscriptionId}/${ref.resourceGroup}/${ref.name}`.toLowerCase();
}
