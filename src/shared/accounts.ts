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

/** The resource ids runbooks take, and the sentence that says what each looks like. */
const RESOURCE_IDS = {
  account: {
    pattern:
      /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Storage\/storageAccounts\/([^/]+)\/?$/i,
    shape:
      'a storage account resource id looks like /subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>',
  },
  vault: {
    pattern:
      /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.KeyVault\/vaults\/([^/]+)\/?$/i,
    shape:
      'a vault resource id looks like /subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.KeyVault/vaults/<name>',
  },
  identity: {
    pattern:
      /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.ManagedIdentity\/userAssignedIdentities\/([-\w]{3,128})\/?$/i,
    shape:
      'a user-assigned identity resource id looks like /subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.ManagedIdentity/userAssignedIdentities/<name>',
  },
} as const;

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
  const [subscriptionId, resourceGroup, name] = matchResourceId('account', id, field);
  return validateAccountRef({ subscriptionId, resourceGroup, name }, field);
}

/** Parses a Key Vault resource id. */
export function parseVaultId(id: unknown, field = 'vault'): VaultRef {
  const [subscriptionId, resourceGroup, name] = matchResourceId('vault', id, field);
  return {
    subscriptionId: validateGuid(subscriptionId, `${field}.subscriptionId`),
    resourceGroup: validateResourceGroupName(resourceGroup, `${field}.resourceGroup`),
    name: validateVaultName(name, `${field}.name`),
  };
}

/** Validates a user-assigned identity resource id and returns it unchanged. */
export function validateUserAssignedIdentityId(id: unknown, field = 'userIdentity'): string {
  const [subscriptionId] = matchResourceId('identity', id, field);
  validateGuid(subscriptionId, `${field}.subscriptionId`);
  return (id as string).trim();
}

/** The subscription, resource group and name of a resource id of `kind`; else an error showing its shape. */
function matchResourceId(
  kind: keyof typeof RESOURCE_IDS,
  id: unknown,
  field: string,
): [subscriptionId: string, resourceGroup: string, name: string] {
  const { pattern, shape } = RESOURCE_IDS[kind];
  const match = typeof id === 'string' ? pattern.exec(id.trim()) : null;
  if (!match) throw new ValidationError(field, shape, id);
  return [match[1]!, match[2]!, match[3]!];
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
