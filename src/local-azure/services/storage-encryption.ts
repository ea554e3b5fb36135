/**
 * Storage's rules for customer-managed keys on update: creation-only settings, the encryption
 * identity, the vault's recovery settings, the identity's key permissions and the key itself.
 */
import { encryptionPrincipal, hasKeyPermission, vaultByUri } from '../access';
import { armError, type Ctx, type Env } from '../http';
import type { StorageAccount } from '../model';
import { kidOf } from '../views';

const DAY_MS = 86_400_000;
const AUTH_FAILURE =
  'The operation failed because of authentication issue on the keyvault. For more information, see - https://aka.ms/storagekeyvaultaccesspolicy';

/** The `properties.encryption` block of a storage account update. */
export interface EncryptionBody {
  keySource?: string;
  requireInfrastructureEncryption?: boolean;
  services?: { queue?: { keyType?: string }; table?: { keyType?: string } };
  keyvaultproperties?: { keyname?: string; keyversion?: string; keyvaulturi?: string };
  identity?: { userAssignedIdentity?: string; federatedIdentityClientId?: string };
}

/** Applies `properties.encryption` of a PATCH with Storage's CMK rules; false after answering an error. */
export function updateEncryption(ctx: Ctx, env: Env, a: StorageAccount, enc: EncryptionBody): boolean {
  const creationOnly = (what: string): boolean => {
    armError(
      ctx,
      400,
      'InvalidRequestPropertyValue',
      `The property '${what}' can only be set when the storage account is created.`,
    );
    return false;
  };
  if (
    enc.requireInfrastructureEncryption !== undefined &&
    enc.requireInfrastructureEncryption !== a.requireInfrastructureEncryption
  )
    return creationOnly('requireInfrastructureEncryption');
  if (enc.services?.queue?.keyType && enc.services.queue.keyType !== a.queueKeyType)
    return creationOnly('encryption.services.queue.keyType');
  if (enc.services?.table?.keyType && enc.services.table.keyType !== a.tableKeyType)
    return creationOnly('encryption.services.table.keyType');
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
  if (newUai && !a.identity.userAssignedIdentities.some((u) => u.toLowerCase() === newUai.toLowerCase())) {
    armError(
      ctx,
      400,
      'InvalidRequestPropertyValue',
      `The user-assigned identity '${newUai}' in encryption.identity is not assigned to the storage account.`,
    );
    return false;
  }
  const source = enc.keySource ?? e.keySource;
  if (source.toLowerCase() === 'microsoft.storage') {
    a.encryption = {
      keySource: 'Microsoft.Storage',
      ...(enc.identity
        ? newUai
          ? { userAssignedIdentity: newUai }
          : {}
        : e.userAssignedIdentity
          ? { userAssignedIdentity: e.userAssignedIdentity }
          : {}),
    };
    return true;
  }
  if (source.toLowerCase() !== 'microsoft.keyvault') {
    armError(
      ctx,
      400,
      'InvalidRequestPropertyValue',
      `The value '${source}' of keySource is not valid. Valid values are Microsoft.Storage and Microsoft.Keyvault.`,
    );
    return false;
  }
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
    return false;
  }
  const vault = vaultByUri(env.state.data, keyVaultUri);
  if (!vault) {
    armError(ctx, 400, 'KeyVaultVaultNotFound', `The key vault '${keyVaultUri}' was not found.`);
    return false;
  }
  if (!vault.properties.enableSoftDelete || !vault.properties.enablePurgeProtection) {
    armError(ctx, 400, 'KeyVaultPolicyError', 'Keyvault policy recoverable is not set');
    return false;
  }
  const uai = enc.identity ? newUai : e.userAssignedIdentity;
  const principal = encryptionPrincipal(env.state.data, {
    ...a,
    encryption: { ...e, ...(uai ? { userAssignedIdentity: uai } : { userAssignedIdentity: undefined }) },
  });
  if (!principal) {
    armError(
      ctx,
      400,
      'InvalidValuesForRequestParameters',
      'Missing pre-requisites to enable EncryptionAtRest/Customer Managed Key. Assign a managed identity to the storage account, and set encryption.identity when it is user-assigned.',
    );
    return false;
  }
  const key = vault.keys[keyName.toLowerCase()];
  const version =
    key &&
    (keyVersion ? key.versions.find((v) => v.version === keyVersion) : key.versions[key.versions.length - 1]);
  const now = env.clock.nowMs();
  const can = (p: 'get' | 'wrapkey' | 'unwrapkey'): boolean =>
    hasKeyPermission(
      env.state.data,
      vault,
      principal,
      p,
      keyName,
      now,
      env.state.timing.roleAssignmentPropagationMs,
      env.state.assignmentIndex(),
    );
  if (!can('get') || !can('wrapkey') || !can('unwrapkey')) {
    armError(ctx, 400, 'KeyVaultAuthenticationFailure', AUTH_FAILURE);
    return false;
  }
  if (!key || !version) {
    armError(
      ctx,
      400,
      'KeyVaultEncryptionKeyNotFound',
      'The key vault key is not found to unwrap the encryption key.',
    );
    return false;
  }
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
  const kid = kidOf(vault, key.name, version.version);
  const versionless = keyVersion === '';
  a.encryption = {
    keySource: 'Microsoft.Keyvault',
    keyName: key.name,
    keyVersion,
    keyVaultUri: `https://${vault.name}.vault.azure.net/`,
    currentVersionedKeyIdentifier: kid,
    lastKeyRotationTimestamp:
      kid === e.currentVersionedKeyIdentifier ? e.lastKeyRotationTimestamp : new Date(now).toISOString(),
    ...(version.exp !== undefined
      ? { currentVersionedKeyExpirationTimestamp: new Date(version.exp * 1000).toISOString() }
      : {}),
    ...(uai ? { userAssignedIdentity: uai } : {}),
    ...(enc.identity?.federatedIdentityClientId
      ? { federatedIdentityClientId: enc.identity.federatedIdentityClientId }
      : {}),
    ...(versionless
      ? { nextCheckAtMs: e.keyVersion === '' && e.nextCheckAtMs ? e.nextCheckAtMs : now + DAY_MS }
      : {}),
  };
  return true;
}
