/**
 * The versions of a key and the version-level writes: pinning an account to one version (or
 * making it versionless again) and re-enabling a version a revocation disabled.
 */
import { parseKeyId, validateAccountRef, type AccountRef } from '../shared/accounts';
import { CMK_ERROR_TYPES } from '../shared/errors';
import { validateKeyVersion } from '../shared/names';
import type { EncryptionSettings } from '../shared/plan';
import { encryptionOf, getAccount } from './azure-state';
import type { ActivityDeps } from './deps';
import { applyKeyTarget } from './encryption';
import { findKey } from './keys';
import { domainFailure, isNotFound } from './errors';
import { abortSignal, call } from './runtime';

/** One version of a key as a plan weighs it. */
export interface KeyVersionInfo {
  version: string;
  enabled: boolean;
  /** ms since the epoch. */
  createdMs: number;
  /** Past its expiry: Storage refuses to start using it (azure-docs#84096). */
  expired: boolean;
  /** Before its activation date. */
  notYetValid: boolean;
}

/**
 * Every version of a key, oldest first; empty when the key does not exist. Key Vault stamps
 * creation in whole seconds, so versions made in one second are ordered with the key's current
 * version (what a versionless read returns) last.
 */
export async function listKeyVersions(
  deps: ActivityDeps,
  vaultUri: string,
  name: string,
): Promise<KeyVersionInfo[]> {
  const now = Date.now();
  const found: KeyVersionInfo[] = [];
  const current = (await findKey(deps, vaultUri, name))?.properties.version;
  try {
    for await (const v of deps.azure
      .keys(vaultUri)
      .listPropertiesOfKeyVersions(name, { abortSignal: abortSignal() })) {
      if (!v.version) continue;
      found.push({
        version: v.version,
        enabled: v.enabled !== false,
        createdMs: v.createdOn?.getTime() ?? 0,
        expired: v.expiresOn !== undefined && v.expiresOn.getTime() <= now,
        notYetValid: v.notBefore !== undefined && v.notBefore.getTime() > now,
      });
    }
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
  const rank = (v: KeyVersionInfo): number => (v.version === current ? 1 : 0);
  return found.sort(
    (a, b) => a.createdMs - b.createdMs || rank(a) - rank(b) || (a.version < b.version ? -1 : 1),
  );
}

/** The version an account uses now: the one Azure reports, else the one it is pinned to. */
export function versionInUse(enc: EncryptionSettings): string | undefined {
  if (enc.currentVersionedKeyId) return parseKeyId(enc.currentVersionedKeyId).version;
  return enc.keyVersion || undefined;
}

/** Pins the account to `version` of the key it uses, or makes it versionless (`''`). */
export async function setKeyVersion(
  deps: ActivityDeps,
  input: { account: AccountRef; version: string },
): Promise<EncryptionSettings> {
  const ref = validateAccountRef(input.account);
  const version = input.version === '' ? '' : validateKeyVersion(input.version, 'version');
  const account = await getAccount(deps, ref);
  const enc = encryptionOf(account);
  if (enc.keySource !== 'Microsoft.Keyvault' || !enc.vaultUri || !enc.keyName) {
    throw domainFailure(
      CMK_ERROR_TYPES.CmkNotEnabled,
      `Account ${ref.name} does not use a customer-managed key, so it has no key version to move. Fix: configure CMK first`,
      { account: ref.name },
    );
  }
  return applyKeyTarget(
    deps,
    ref,
    {
      vaultUri: enc.vaultUri,
      keyName: enc.keyName,
      keyVersion: version,
      identity: enc.identity ?? 'SystemAssigned',
    },
    { account },
  );
}

/** Enables one version of the account's key (the one a revocation disabled); a no-op when it is enabled. */
export async function enableKeyVersion(
  deps: ActivityDeps,
  input: { account: AccountRef; version: string },
): Promise<{ keyId: string; changed: boolean }> {
  const ref = validateAccountRef(input.account);
  const version = validateKeyVersion(input.version, 'version');
  const enc = encryptionOf(await getAccount(deps, ref));
  if (enc.keySource !== 'Microsoft.Keyvault' || !enc.vaultUri || !enc.keyName) {
    throw domainFailure(
      CMK_ERROR_TYPES.CmkNotEnabled,
      `Account ${ref.name} does not use a customer-managed key; there is no key version to enable`,
      { account: ref.name },
    );
  }
  const keys = deps.azure.keys(enc.vaultUri);
  const keyName = enc.keyName;
  const subject = { what: `key ${keyName} version ${version}`, notFound: CMK_ERROR_TYPES.KeyNotFound };
  const current = await call(subject, () => keys.getKey(keyName, { version, abortSignal: abortSignal() }));
  const keyId = current.id ?? `${enc.vaultUri}keys/${keyName}/${version}`;
  if (current.properties.enabled !== false) return { keyId, changed: false };
  await call(subject, () =>
    keys.updateKeyProperties(keyName, version, { enabled: true, abortSignal: abortSignal() }),
  );
  return { keyId, changed: true };
}
