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

/** Tag naming the rotation (a run, or a fleet) that made a version. */
export const ROTATION_TAG = 'cmk-runbook-rotation';
/** Tag keeping the version the account used before, so a retry still reports it. */
export const PREVIOUS_TAG = 'cmk-runbook-previous';
/** Key Vault's limit of tags on a key (about-keys-details: "Tags ... maximum of 15"). */
export const MAX_KEY_TAGS = 15;

/** The tags a key carries apart from the ones rotation writes. */
export function withoutOwnTags(tags: Record<string, string> | undefined): Record<string, string> {
  const { [ROTATION_TAG]: _rotation, [PREVIOUS_TAG]: _previous, ...rest } = tags ?? {};
  return rest;
}

/** Throws `TooManyKeyTags` when the two rotation tags would pass Key Vault's limit of 15. */
export function assertTagRoom(key: KeyVaultKey, vaultName: string): void {
  const own = Object.keys(withoutOwnTags(key.properties.tags)).length;
  if (own + 2 > MAX_KEY_TAGS)
    throw domainFailure(
      CMK_ERROR_TYPES.TooManyKeyTags,
      `Key ${vaultName}/${key.name} has ${own} tags; rotation adds 2 and Key Vault allows ${MAX_KEY_TAGS}. Fix: remove ${own + 2 - MAX_KEY_TAGS} of its tags (\`az keyvault key set-attributes --tags ...\`)`,
      { key: key.name, tags: own },
    );
}

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

/**
 * Key size in bits from the RSA modulus. The modulus is a big-endian unsigned integer; some
 * services send it with a leading zero byte (a 2048-bit key as 257 bytes), which is not part
 * of the size (RFC 7518 §6.3.1.1 says "MUST NOT" prepend it, but not every service obeys).
 */
export function keySizeOf(key: KeyVaultKey): number | undefined {
  const n = key.key?.n;
  if (!n?.length) return undefined;
  let first = 0;
  while (first < n.length - 1 && n[first] === 0) first++;
  return (n.length - first) * 8;
}

/**
 * Why storage cannot wrap with this version now (Key Vault refuses wrapKey outside the
 * version's nbf/exp window, about-keys-details "Date-time controlled operations"), or undefined.
 */
export function keyDateProblem(
  key: Pick<KeyVaultKey['properties'], 'expiresOn' | 'notBefore'>,
  nowMs = Date.now(),
): { type: 'KeyExpired' | 'KeyNotYetValid'; at: Date } | undefined {
  if (key.expiresOn && key.expiresOn.getTime() <= nowMs) return { type: 'KeyExpired', at: key.expiresOn };
  if (key.notBefore && key.notBefore.getTime() > nowMs) return { type: 'KeyNotYetValid', at: key.notBefore };
  return undefined;
}

/** The fix for a version outside its validity window. */
export function keyDateFix(vaultName: string, keyName: string, problem: { type: string }): string {
  return problem.type === 'KeyExpired'
    ? `rotate the key (a new version) or extend the expiry (\`az keyvault key set-attributes --vault-name ${vaultName} --name ${keyName} --expires <date>\`)`
    : `wait for its activation date, or move it (\`az keyvault key set-attributes --vault-name ${vaultName} --name ${keyName} --not-before <date>\`)`;
}

/**
 * Throws `UnsupportedKey` / `KeyDisabled` when storage cannot use this key version, and
 * `KeyExpired` / `KeyNotYetValid` outside its validity window unless `dates` is false (a
 * rotation may start from an expired version: the new one is the fix).
 */
export function assertUsableKey(key: KeyVaultKey, vaultName: string, { dates = true } = {}): void {
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
  const dated = dates ? keyDateProblem(key.properties) : undefined;
  if (dated) {
    throw domainFailure(
      dated.type,
      `Key ${vaultName}/${key.name} version ${key.properties.version ?? ''} ${dated.type === 'KeyExpired' ? 'expired' : 'is not valid until'} ${dated.at.toISOString()}. Fix: ${keyDateFix(vaultName, key.name ?? '', dated)}`,
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
    const existingSize = keySizeOf(existing);
    // Only a type and size the requester named must match (without them the key is used as it is).
    if (input.key.mustMatch && (existing.keyType !== type || existingSize !== size))
      throw domainFailure(
        CMK_ERROR_TYPES.KeyMismatch,
        `Key ${vaultName}/${name} exists as ${existing.keyType ?? '?'} ${existingSize ?? '?'} bits, not the ${type} ${size} asked for. Fix: ask for ${existing.keyType ?? '?'} ${existingSize ?? '?'} to use it, or choose another key name`,
        { key: name, keyType: existing.keyType, size: existingSize },
      );
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
