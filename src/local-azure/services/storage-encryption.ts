/**
 * Storage's rules for customer-managed keys on update: creation-only settings, the encryption
 * identity, the vault's recovery settings, the identity's key permissions and the key itself.
 * Each step answers Azure's error and returns false, or passes the request on.
 */
import { encryptionPrincipal, hasKeyPermission, storageReachesVault, vaultByUri } from '../access';
import { armError, type Ctx, type Env } from '../http';
import type { AccountEncryption, KeyRecord, KeyVersion, StorageAccount, Vault } from '../model';
import { kidOf } from '../views';
import { cannotBeUpdated, invalidValues, type EncryptionBody } from './storage-properties';

const DAY_MS = 86_400_000;
/** Storage's message when it cannot use a key. */
const AUTH_FAILURE =
  'The operation failed because of authentication issue on the keyvault. For more information, see - https://aka.ms/storagekeyvaultaccesspolicy';

/** The key a CMK request names, once found and checked. */
interface KeyTarget {
  vault: Vault;
  key: KeyRecord;
  version: KeyVersion;
  keyVersion: string;
  uai: string | undefined;
}

/** Applies `properties.encryption` of a PATCH with Storage's CMK rules; false after answering an error. */
export function updateEncryption(ctx: Ctx, env: Env, a: StorageAccount, enc: EncryptionBody): boolean {
  if (!creationOnlyUnchanged(ctx, a, enc) || !identityRulesHold(ctx, a, enc)) return false;
  const source = (enc.keySource ?? a.encryption.keySource).toLowerCase();
  if (source === 'microsoft.storage') {
    a.encryption = microsoftManaged(a.encryption, enc);
    return true;
  }
  if (source !== 'microsoft.keyvault') {
    armError(
      ctx,
      400,
      'InvalidRequestPropertyValue',
      `The value '${enc.keySource}' of keySource is not valid. Valid values are Microsoft.Storage and Microsoft.Keyvault.`,
    );
    return false;
  }
  const target = keyTarget(ctx, env, a, enc);
  if (!target) return false;
  a.encryption = customerManaged(env, a.encryption, enc, target);
  return true;
}

/** Infrastructure encryption and the queue/table key type are set at creation only (account-encryption-key-create). */
function creationOnlyUnchanged(ctx: Ctx, a: StorageAccount, enc: EncryptionBody): boolean {
  const refuse = (what: string): boolean => cannotBeUpdated(ctx, what);
  if (
    enc.requireInfrastructureEncryption !== undefined &&
    enc.requireInfrastructureEncryption !== a.requireInfrastructureEncryption
  )
    return refuse('requireInfrastructureEncryption');
  if (enc.services?.queue?.keyType && enc.services.queue.keyType !== a.queueKeyType)
    return refuse('encryption.services.queue.keyType');
  if (enc.services?.table?.keyType && enc.services.table.keyType !== a.tableKeyType)
    return refuse('encryption.services.table.keyType');
  return true;
}

/** `encryption.identity` and `keyvaultproperties` cannot change together; the identity must be assigned. */
function identityRulesHold(ctx: Ctx, a: StorageAccount, enc: EncryptionBody): boolean {
  const e = a.encryption;
  const kvp = enc.keyvaultproperties;
  const newUai = enc.identity?.userAssignedIdentity;
  const identityChanges =
    enc.identity !== undefined &&
    (newUai ?? '').toLowerCase() !== (e.userAssignedIdentity ?? '').toLowerCase();
  const keyChanges =
    kvp !== undefined &&
    (kvp.keyname !== e.keyName ||
      (kvp.keyversion ?? '') !== (e.keyVersion ?? '') ||
      (kvp.keyvaulturi ?? '').replace(/\/+$/, '').toLowerCase() !==
        (e.keyVaultUri ?? '').replace(/\/+$/, '').toLowerCase());
  if (e.keySource === 'Microsoft.Keyvault' && identityChanges && keyChanges) {
    armError(
      ctx,
      400,
      'InvalidRequestPropertyValue',
      'The encryption identity and the key vault properties cannot be changed in the same request. Update encryption.identity first, then encryption.keyvaultproperties.',
    );
    return false;
  }
  if (newUai && !a.identity.userAssignedIdentities.some((u) => u.toLowerCase() === newUai.toLowerCase()))
    return invalidValues(ctx, 'properties.encryption.identity');
  return true;
}

function microsoftManaged(e: AccountEncryption, enc: EncryptionBody): AccountEncryption {
  const uai = enc.identity ? enc.identity.userAssignedIdentity : e.userAssignedIdentity;
  return { keySource: 'Microsoft.Storage', ...(uai ? { userAssignedIdentity: uai } : {}) };
}

/** Finds and checks the key a CMK request names; undefined after answering Storage's error. */
function keyTarget(ctx: Ctx, env: Env, a: StorageAccount, enc: EncryptionBody): KeyTarget | undefined {
  const e = a.encryption;
  const kvp = enc.keyvaultproperties;
  const keyName = kvp?.keyname ?? e.keyName;
  const keyVaultUri = kvp?.keyvaulturi ?? e.keyVaultUri;
  const keyVersion = kvp ? (kvp.keyversion ?? '') : (e.keyVersion ?? '');
  if (!keyName || !keyVaultUri) {
    armError(
      ctx,
      400,
      'InvalidRequestPropertyValue',
      'keyvaultproperties.keyname and keyvaultproperties.keyvaulturi are required when keySource is Microsoft.Keyvault.',
    );
    return undefined;
  }
  const vault = recoverableVault(ctx, env, keyVaultUri);
  if (!vault) return undefined;
  const uai = enc.identity ? enc.identity.userAssignedIdentity : e.userAssignedIdentity;
  const principal = encryptionPrincipal(env.state.data, {
    ...a,
    encryption: { ...e, userAssignedIdentity: uai },
  });
  if (!principal) {
    armError(
      ctx,
      400,
      'InvalidValuesForRequestParameters',
      'Missing pre-requisites to enable EncryptionAtRest/Customer Managed Key. Assign a managed identity to the storage account, and set encryption.identity when it is user-assigned.',
    );
    return undefined;
  }
  const found = usableKey(ctx, env, { vault, principal, keyName }, (key) =>
    versionFor(e, vault, key, keyVersion),
  );
  return found && { vault, ...found, keyVersion, uai };
}

/**
 * The vault at `keyVaultUri` when it exists and is recoverable (soft delete and purge
 * protection, which Storage requires of a CMK vault); undefined after answering Storage's error.
 */
export function recoverableVault(ctx: Ctx, env: Env, keyVaultUri: string): Vault | undefined {
  const vault = vaultByUri(env.state.data, keyVaultUri);
  if (!vault) {
    armError(ctx, 400, 'KeyVaultVaultNotFound', `The key vault '${keyVaultUri}' was not found.`);
    return undefined;
  }
  if (!vault.properties.enableSoftDelete || !vault.properties.enablePurgeProtection) {
    armError(ctx, 400, 'KeyVaultPolicyError', 'Keyvault policy recoverable is not set');
    return undefined;
  }
  return vault;
}

/**
 * The key and version Storage would encrypt with, as `principal` (none: it cannot authenticate):
 * it must reach the vault and get, wrap and unwrap the key, `pick` must find the version, and
 * the version must be usable; undefined after answering Storage's error.
 */
export function usableKey(
  ctx: Ctx,
  env: Env,
  { vault, principal, keyName }: { vault: Vault; principal: string | undefined; keyName: string },
  pick: (key: KeyRecord) => KeyVersion | undefined,
): { key: KeyRecord; version: KeyVersion } | undefined {
  if (!principal || !canUseKey(env, vault, principal, keyName)) {
    armError(ctx, 400, 'KeyVaultAuthenticationFailure', AUTH_FAILURE);
    return undefined;
  }
  const key = vault.keys[keyName.toLowerCase()];
  const version = key && pick(key);
  if (!key || !version) {
    armError(
      ctx,
      400,
      'KeyVaultEncryptionKeyNotFound',
      'The key vault key is not found to unwrap the encryption key.',
    );
    return undefined;
  }
  return versionUsable(ctx, env, version) ? { key, version } : undefined;
}

/**
 * The version a request names: a pinned one, else the newest, except that re-sending the same
 * versionless key keeps the version in use; Storage looks for a newer one only at its daily
 * check (customer-managed-keys-overview, "Automatically update the key version").
 */
function versionFor(
  e: AccountEncryption,
  vault: Vault,
  key: KeyRecord,
  keyVersion: string,
): KeyVersion | undefined {
  if (keyVersion) return key.versions.find((v) => v.version === keyVersion);
  const resent =
    e.keySource === 'Microsoft.Keyvault' &&
    e.keyVersion === '' &&
    e.keyName?.toLowerCase() === key.name.toLowerCase() &&
    (e.keyVaultUri ?? '').toLowerCase().startsWith(`https://${vault.name.toLowerCase()}.vault.azure.net`);
  const inUse = resent
    ? key.versions.find((v) => kidOf(vault, key.name, v.version) === e.currentVersionedKeyIdentifier)
    : undefined;
  return inUse ?? key.versions.at(-1);
}

/** Whether Azure Storage, as `principal`, can get, wrap and unwrap with the key now. */
function canUseKey(env: Env, vault: Vault, principal: string, keyName: string): boolean {
  if (!storageReachesVault(env.state.data, vault)) return false;
  const can = (p: 'get' | 'wrapkey' | 'unwrapkey'): boolean =>
    hasKeyPermission(
      env.state.data,
      vault,
      principal,
      p,
      keyName,
      env.clock.nowMs(),
      env.state.timing.roleAssignmentPropagationMs,
      env.state.assignmentIndex(),
    );
  return can('get') && can('wrapkey') && can('unwrapkey');
}

/** An enabled, valid RSA key of a size Storage supports. */
function versionUsable(ctx: Ctx, env: Env, version: KeyVersion): boolean {
  const now = env.clock.nowMs();
  if (
    !version.enabled ||
    (version.exp !== undefined && version.exp * 1000 <= now) ||
    (version.nbf !== undefined && version.nbf * 1000 > now)
  ) {
    armError(ctx, 400, 'KeyVaultAuthenticationFailure', AUTH_FAILURE);
    return false;
  }
  if (!['RSA', 'RSA-HSM'].includes(version.kty) || ![2048, 3072, 4096].includes(version.keySize)) {
    armError(
      ctx,
      400,
      'KeyVaultKeyTypeNotSupported',
      'Only RSA and RSA-HSM keys of size 2048, 3072 or 4096 are supported for storage encryption.',
    );
    return false;
  }
  return true;
}

function customerManaged(
  env: Env,
  e: AccountEncryption,
  enc: EncryptionBody,
  t: KeyTarget,
): AccountEncryption {
  const now = env.clock.nowMs();
  const kid = kidOf(t.vault, t.key.name, t.version.version);
  const versionless = t.keyVersion === '';
  return {
    keySource: 'Microsoft.Keyvault',
    keyName: t.key.name,
    keyVersion: t.keyVersion,
    keyVaultUri: `https://${t.vault.name}.vault.azure.net/`,
    currentVersionedKeyIdentifier: kid,
    lastKeyRotationTimestamp:
      kid === e.currentVersionedKeyIdentifier ? e.lastKeyRotationTimestamp : new Date(now).toISOString(),
    ...(t.version.exp !== undefined
      ? { currentVersionedKeyExpirationTimestamp: new Date(t.version.exp * 1000).toISOString() }
      : {}),
    ...(t.uai ? { userAssignedIdentity: t.uai } : {}),
    ...(enc.identity?.federatedIdentityClientId
      ? { federatedIdentityClientId: enc.identity.federatedIdentityClientId }
      : {}),
    ...(versionless
      ? { nextCheckAtMs: e.keyVersion === '' && e.nextCheckAtMs ? e.nextCheckAtMs : now + DAY_MS }
      : {}),
  };
}
