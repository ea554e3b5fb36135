/**
 * The account's encryption: point it at a Key Vault key (versionless or pinned), put earlier
 * settings back, or return to Microsoft-managed keys. Writes are skipped when Azure already
 * matches, and the grant-propagation race is absorbed by bounded retries.
 */
import type { Encryption, StorageAccount } from '@azure/arm-storage';
import type { KeyVaultKey } from '@azure/keyvault-keys';
import {
  parseKeyId,
  validateAccountRef,
  validateUserAssignedIdentityId,
  type AccountRef,
} from '../shared/accounts';
import type { KeyState } from '../shared/activities';
import { CMK_ERROR_TYPES } from '../shared/errors';
import { ValidationError, validateKeyName, validateKeyVersion } from '../shared/names';
import type { EncryptionSettings } from '../shared/plan';
import { encryptionOf, getAccount, normaliseVaultUri, principalOf } from './azure-state';
import type { ActivityDeps } from './deps';
import { classifyError, domainFailure, isKeyAccessPropagation } from './errors';
import { assertUsableKey } from './keys';
import { abortSignal, call, retryWhile, withHeartbeat } from './runtime';

/** Where the account should point: a key in a vault, versionless (`''`) or pinned, via an identity. */
export interface KeyTarget {
  vaultUri: string;
  keyName: string;
  keyVersion: string;
  identity: string;
}

/** Points the account at the key; the identity must already be on the account. */
export async function enableCmk(
  deps: ActivityDeps,
  input: { account: AccountRef; key: KeyState; identity: string; pinVersion: boolean },
): Promise<EncryptionSettings> {
  const account = validateAccountRef(input.account);
  const version = validateKeyVersion(input.key?.version, 'key.version');
  const target: KeyTarget = {
    vaultUri: validateVaultUri(input.key.vaultUri, 'key.vaultUri'),
    keyName: validateKeyName(input.key.name, 'key.name'),
    keyVersion: input.pinVersion ? version : '',
    identity: validateIdentity(input.identity),
  };
  return applyKeyTarget(deps, account, target);
}

/** Puts the account's encryption back to earlier settings (compensation). */
export async function restoreEncryption(
  deps: ActivityDeps,
  input: { account: AccountRef; settings: EncryptionSettings },
): Promise<EncryptionSettings> {
  const account = validateAccountRef(input.account);
  const s = input.settings;
  if (s?.keySource === 'Microsoft.Storage') return disableCmk(deps, { account });
  if (s?.keySource !== 'Microsoft.Keyvault')
    throw new ValidationError('settings.keySource', 'Microsoft.Storage or Microsoft.Keyvault', s?.keySource);
  const keyVersion = s.keyVersion ? validateKeyVersion(s.keyVersion, 'settings.keyVersion') : '';
  return applyKeyTarget(deps, account, {
    vaultUri: validateVaultUri(s.vaultUri, 'settings.vaultUri'),
    keyName: validateKeyName(s.keyName, 'settings.keyName'),
    keyVersion,
    identity: validateIdentity(s.identity ?? 'SystemAssigned', 'settings.identity'),
  });
}

/** Read-only: the account's encryption as Azure holds it now. */
export async function getEncryption(
  deps: ActivityDeps,
  input: { account: AccountRef },
): Promise<EncryptionSettings> {
  return encryptionOf(await getAccount(deps, validateAccountRef(input.account)));
}

/** Back to Microsoft-managed keys; a no-op when the account already uses them. */
export async function disableCmk(
  deps: ActivityDeps,
  input: { account: AccountRef },
): Promise<EncryptionSettings> {
  const ref = validateAccountRef(input.account);
  const current = await getAccount(deps, ref);
  if (encryptionOf(current).keySource === 'Microsoft.Storage') return encryptionOf(current);
  return encryptionOf(await updateEncryption(deps, ref, { keySource: 'Microsoft.Storage' }));
}

/** What a caller of {@link applyKeyTarget} read or made moments ago in the same activity. */
export interface KnownNow {
  /** The account as just read: spares an ARM read. */
  account?: StorageAccount;
  /** The target version was just created (enabled, usable): spares a Key Vault read. */
  keyJustCreated?: boolean;
  /** The target version as just read from Key Vault: checked as it is, sparing a read. */
  keyJustRead?: KeyVaultKey;
}

/** Writes the key target unless the account already matches it; see {@link enableCmk}. */
export async function applyKeyTarget(
  deps: ActivityDeps,
  ref: AccountRef,
  target: KeyTarget,
  known: KnownNow = {},
): Promise<EncryptionSettings> {
  const account = known.account ?? (await getAccount(deps, ref));
  const current = encryptionOf(account);
  if (matches(current, target)) return current;
  if (!principalOf(account, target.identity) && !hasUserIdentity(account, target.identity)) {
    throw domainFailure(
      CMK_ERROR_TYPES.IdentityNotFound,
      `Account ${ref.name} does not have the identity ${target.identity}. Fix: assign it to the account first`,
      { identity: target.identity },
    );
  }
  if (known.keyJustRead) assertUsableKey(known.keyJustRead, vaultNameOf(target.vaultUri));
  else if (!known.keyJustCreated) await assertKeyVersionUsable(deps, target);
  const userAssigned = target.identity !== 'SystemAssigned';
  const currentIdentity =
    current.keySource === 'Microsoft.Keyvault'
      ? current.identity
      : account.encryption?.encryptionIdentity?.encryptionUserAssignedIdentity;
  if (userAssigned && currentIdentity?.toLowerCase() !== target.identity.toLowerCase()) {
    // Azure refuses to change encryption.identity and keyvaultproperties in one request.
    await updateEncryption(deps, ref, {
      keySource: account.encryption?.keySource ?? 'Microsoft.Storage',
      ...(account.encryption?.keyVaultProperties
        ? { keyVaultProperties: pickKeyVault(account.encryption) }
        : {}),
      encryptionIdentity: { encryptionUserAssignedIdentity: target.identity },
    });
  }
  const updated = await updateEncryption(deps, ref, {
    keySource: 'Microsoft.Keyvault',
    keyVaultProperties: {
      keyVaultUri: target.vaultUri,
      keyName: target.keyName,
      keyVersion: target.keyVersion,
    },
    ...(userAssigned ? { encryptionIdentity: { encryptionUserAssignedIdentity: target.identity } } : {}),
  });
  return encryptionOf(updated);
}

/**
 * Azure Storage answers a disabled key like a missing grant; checking the key first turns that
 * into `KeyDisabled`/`KeyNotFound` at once instead of waiting out the propagation window.
 */
async function assertKeyVersionUsable(deps: ActivityDeps, target: KeyTarget): Promise<void> {
  const vaultName = vaultNameOf(target.vaultUri);
  const key = await call(
    { what: `key ${vaultName}/${target.keyName}`, notFound: CMK_ERROR_TYPES.KeyNotFound },
    () =>
      deps.azure
        .keys(target.vaultUri)
        .getKey(target.keyName, { version: target.keyVersion || undefined, abortSignal: abortSignal() }),
  ).catch((error: unknown) => {
    if ((error as { type?: string }).type === CMK_ERROR_TYPES.AuthorizationFailed) return undefined;
    throw error;
  });
  if (key) assertUsableKey(key, vaultName);
}

function vaultNameOf(vaultUri: string): string {
  return new URL(vaultUri).hostname.split('.')[0] ?? vaultUri;
}

/** PATCHes `encryption`, retrying while a fresh key grant has not reached Azure Storage yet. */
async function updateEncryption(
  deps: ActivityDeps,
  ref: AccountRef,
  encryption: Encryption,
): Promise<StorageAccount> {
  const client = deps.azure.storage(ref.subscriptionId);
  const progress = { step: 'enable', account: ref.name, waitingFor: 'key access to propagate' };
  // Storage checks its access to the key inside the PATCH, which can be slow: keep heartbeating.
  const attempt = (): Promise<StorageAccount> =>
    withHeartbeat(
      client.storageAccounts.update(
        ref.resourceGroup,
        ref.name,
        { encryption },
        { abortSignal: abortSignal() },
      ),
      progress,
      deps.timing.heartbeatMs,
    );
  const subject = { what: `account ${ref.name}`, notFound: CMK_ERROR_TYPES.AccountNotFound };
  try {
    const { value } = await retryWhile(attempt, isKeyAccessPropagation, {
      firstDelayMs: deps.timing.grantPollMs,
      timeoutMs: deps.timing.grantTimeoutMs,
      progress,
    });
    return value;
  } catch (error) {
    throw classifyError(error, subject);
  }
}

function pickKeyVault(encryption: Encryption): Encryption['keyVaultProperties'] {
  const kv = encryption.keyVaultProperties;
  return { keyVaultUri: kv?.keyVaultUri, keyName: kv?.keyName, keyVersion: kv?.keyVersion ?? '' };
}

function matches(current: EncryptionSettings, target: KeyTarget): boolean {
  return (
    current.keySource === 'Microsoft.Keyvault' &&
    current.vaultUri === target.vaultUri &&
    current.keyName?.toLowerCase() === target.keyName.toLowerCase() &&
    (current.keyVersion ?? '') === target.keyVersion &&
    (current.identity ?? 'SystemAssigned').toLowerCase() === target.identity.toLowerCase()
  );
}

function hasUserIdentity(account: StorageAccount, identity: string): boolean {
  return Object.keys(account.identity?.userAssignedIdentities ?? {}).some(
    (id) => id.toLowerCase() === identity.toLowerCase(),
  );
}

function validateIdentity(identity: unknown, field = 'identity'): string {
  return identity === 'SystemAssigned' ? identity : validateUserAssignedIdentityId(identity, field);
}

function validateVaultUri(uri: unknown, field: string): string {
  if (typeof uri !== 'string')
    throw new ValidationError(field, 'a vault URI like https://<vault>.vault.azure.net/', uri);
  parseKeyId(`${uri.replace(/\/$/, '')}/keys/probe`, field);
  return normaliseVaultUri(uri);
}
