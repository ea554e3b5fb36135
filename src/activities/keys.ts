/**
 * Keys: `ensureKey` creates an RSA/RSA-HSM key tagged with the run, so a retried activity
 * finds its own version instead of making a second; `setRotationPolicy` validates Azure's
 * minimums before writing the Key Vault rotation policy.
 */
import type { KeyVaultKey, KeyRotationLifetimeAction } from '@azure/keyvault-keys';
import { validateAccountRef, type AccountRef } from '../shared/accounts';
import type { KeyState, RotationPolicyState, VaultState } from '../shared/activities';
import { CMK_ERROR_TYPES } from '../shared/errors';
import {
  KEY_SIZES,
  ValidationError,
  validateKeyName,
  validateKeySize,
  validateKeyType,
  validateKeyVersion,
  validateVaultName,
  type KeySize,
} from '../shared/names';
import type { KeyChoice } from '../shared/runbooks';
import { validateRotationPolicy } from '../shared/rotation-policy';
import { encryptionOf, findVault, getAccount } from './azure-state';
import { RUN_TAG, type ActivityDeps } from './deps';
import { classifyError, domainFailure, isNotFound } from './errors';
import { abortSignal, call } from './runtime';

/** The latest (or the named) version of a key, or undefined when the key or that version does not exist. */
export async function findKey(
  deps: ActivityDeps,
  vaultUri: string,
  name: string,
  version?: string,
): Promise<KeyVaultKey | undefined> {
  try {
    return await deps.azure
      .keys(vaultUri)
      .getKey(name, { abortSignal: abortSignal(), ...(version ? { version } : {}) });
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw classifyError(error, { what: `key ${name}` });
  }
}

/** Key size in bits from the RSA modulus. */
export function keySizeOf(key: KeyVaultKey): number | undefined {
  const n = key.key?.n;
  return n ? n.length * 8 : undefined;
}

/** Throws `UnsupportedKey` / `KeyDisabled` when storage cannot use this key version. */
export function assertUsableKey(key: KeyVaultKey, vaultName: string): void {
  const kty = key.keyType;
  const size = keySizeOf(key);
  if ((kty !== 'RSA' && kty !== 'RSA-HSM') || !KEY_SIZES.includes(size as KeySize)) {
    throw domainFailure(
      CMK_ERROR_TYPES.UnsupportedKey,
      `Key ${vaultName}/${key.name} is ${kty ?? 'unknown'} ${size ?? '?'} bits; Azure Storage needs RSA or RSA-HSM of 2048, 3072 or 4096 bits. Fix: choose or create such a key`,
      { key: key.name, keyType: kty, size },
    );
  }
  if (key.properties.enabled === false) {
    throw domainFailure(
      CMK_ERROR_TYPES.KeyDisabled,
      `Key ${vaultName}/${key.name} version ${key.properties.version ?? ''} is disabled. Fix: enable it (\`az keyvault key set-attributes --vault-name ${vaultName} --name ${key.name} --enabled true\`) or choose another key`,
      { key: key.name, version: key.properties.version },
    );
  }
}

/** A key version in {@link KeyState} terms. */
export function keyStateOf(
  vault: { name: string; vaultUri: string },
  key: KeyVaultKey,
  created: boolean,
): KeyState {
  return {
    vaultName: vault.name,
    vaultUri: vault.vaultUri,
    name: key.name,
    version: key.properties.version ?? '',
    kid: key.id ?? '',
    created,
  };
}

/**
 * Creates the key if missing; an existing key is validated and used as is. A named version (the
 * one the plan was approved with) is used exactly, never the latest, and is never created.
 */
export async function ensureKey(
  deps: ActivityDeps,
  input: { vault: VaultState; key: KeyChoice; runId: string },
): Promise<KeyState> {
  const vaultName = validateVaultName(input.vault?.name, 'vault.name');
  const name = validateKeyName(input.key?.name, 'key.name');
  const type = validateKeyType(input.key.type, 'key.type');
  const size = validateKeySize(input.key.size, 'key.size');
  if (typeof input.runId !== 'string' || !input.runId)
    throw new ValidationError('runId', 'the workflow run id is required');
  const vault = { ...input.vault, name: vaultName };

  const named =
    input.key.version === undefined ? undefined : validateKeyVersion(input.key.version, 'key.version');
  const existing = await findKey(deps, vault.vaultUri, name, named);
  if (existing) {
    assertUsableKey(existing, vaultName);
    return keyStateOf(vault, existing, !named && existing.properties.tags?.[RUN_TAG] === input.runId);
  }
  if (named) {
    throw domainFailure(
      CMK_ERROR_TYPES.KeyNotFound,
      `Key ${vaultName}/${name} has no version ${named}. Fix: check the version id (the last part of a versioned key URI)`,
      { key: name, version: named },
    );
  }
  if (type === 'RSA-HSM') {
    const found = await findVault(deps, vault);
    if (found?.properties?.sku?.name === 'standard') {
      throw domainFailure(
        CMK_ERROR_TYPES.HsmNotSupportedOnStandardVault,
        `Vault ${vaultName} is standard SKU; RSA-HSM keys need premium. Fix: choose RSA, or a premium vault`,
        { vault: vaultName },
      );
    }
  }
  const created = await call(
    { what: `key ${vaultName}/${name}`, notFound: CMK_ERROR_TYPES.VaultNotFound },
    () =>
      deps.azure.keys(vault.vaultUri).createRsaKey(name, {
        hsm: type === 'RSA-HSM',
        keySize: size,
        tags: { [RUN_TAG]: input.runId },
        abortSignal: abortSignal(),
      }),
  );
  return keyStateOf(vault, created, true);
}

/** Writes the rotation policy of the key the account uses (a desired-state PUT). */
export async function setRotationPolicy(
  deps: ActivityDeps,
  input: { account: AccountRef } & RotationPolicyState,
): Promise<RotationPolicyState> {
  const account = validateAccountRef(input.account);
  const policy = validateRotationPolicy(input);
  const enc = encryptionOf(await getAccount(deps, account));
  if (enc.keySource !== 'Microsoft.Keyvault' || !enc.vaultUri || !enc.keyName) {
    throw domainFailure(
      CMK_ERROR_TYPES.CmkNotEnabled,
      `Account ${account.name} does not use a customer-managed key, so it has no key to rotate. Fix: configure CMK first`,
      { account: account.name },
    );
  }
  await writePolicy(deps, enc.vaultUri, enc.keyName, policy);
  return policy;
}

/** PUTs a key's rotation policy (Rotate after creation or before expiry, Notify, expiry). */
export async function writePolicy(
  deps: ActivityDeps,
  vaultUri: string,
  keyName: string,
  policy: RotationPolicyState,
): Promise<void> {
  const lifetimeActions: KeyRotationLifetimeAction[] = [];
  if (policy.rotateAfter) lifetimeActions.push({ action: 'Rotate', timeAfterCreate: policy.rotateAfter });
  if (policy.rotateBeforeExpiry)
    lifetimeActions.push({ action: 'Rotate', timeBeforeExpiry: policy.rotateBeforeExpiry });
  if (policy.notifyBeforeExpiry)
    lifetimeActions.push({ action: 'Notify', timeBeforeExpiry: policy.notifyBeforeExpiry });
  await call({ what: `rotation policy of key ${keyName}`, notFound: CMK_ERROR_TYPES.KeyNotFound }, () =>
    deps.azure
      .keys(vaultUri)
      .updateKeyRotationPolicy(
        keyName,
        { lifetimeActions, ...(policy.expiresAfter ? { expiresIn: policy.expiresAfter } : {}) },
        { abortSignal: abortSignal() },
      ),
  );
}

/** Azure's rotation-policy minimums, checked before anything is written (shared with the bot). */
export { validateRotationPolicy };
