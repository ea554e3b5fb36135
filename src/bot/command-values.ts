/**
 * The values chat options take, each checked with Azure's rule and a sentence naming the option:
 * names, versions, key URIs, tags, durations. Pure; every function throws `ValidationError`.
 */
import { parseAccountId, parseKeyId, validateUserAssignedIdentityId } from '../shared/accounts';
import { parseDurationMs, revokeConfirmWithinMs } from '../shared/duration';
import {
  KEY_SIZES,
  KEY_TYPES,
  ValidationError,
  validateGuid,
  validateKeyName,
  validateKeySize,
  validateKeyVersion,
  validateResourceGroupName,
  validateStorageAccountName,
  validateVaultName,
  type KeySize,
  type KeyType,
} from '../shared/names';
import type { AccountArg, FleetSelector } from './command-types';

/** Parses the value of one option; `flag` is how the user wrote it, e.g. `--key-size`. */
export type ValueParser<T> = (raw: string, flag: string) => T;

/** An account name or resource id. */
export function accountArg(raw: string, field = '<account>'): AccountArg {
  if (raw.startsWith('/')) return { ref: parseAccountId(raw, field) };
  return { name: validateStorageAccountName(raw, field) };
}

export const vaultName: ValueParser<string> = (raw, flag) => validateVaultName(raw, flag);
export const keyName: ValueParser<string> = (raw, flag) => validateKeyName(raw, flag);
export const resourceGroup: ValueParser<string> = (raw, flag) => validateResourceGroupName(raw, flag);
export const subscriptionId: ValueParser<string> = (raw, flag) => validateGuid(raw, flag);
export const identityId: ValueParser<string> = (raw, flag) => validateUserAssignedIdentityId(raw, flag);

/** A key version: the 32 hex characters at the end of a versioned key URI. */
export const keyVersion: ValueParser<string> = (raw, flag) => validateKeyVersion(raw.toLowerCase(), flag);

/** 2048, 3072 or 4096. */
export const keySize: ValueParser<KeySize> = (raw, flag) => {
  if (!/^\d+$/.test(raw)) {
    throw new ValidationError(flag, `must be one of ${KEY_SIZES.join(', ')} bits`, raw);
  }
  return validateKeySize(Number(raw), flag);
};

/** RSA or RSA-HSM, in any case. */
export const keyType: ValueParser<KeyType> = (raw, flag) => {
  const found = KEY_TYPES.find((t) => t.toLowerCase() === raw.toLowerCase());
  if (!found) throw new ValidationError(flag, `must be one of ${KEY_TYPES.join(', ')}`, raw);
  return found;
};

/** A Key Vault key URI, versioned or versionless, split into vault, key and version. */
export const keyUri: ValueParser<{ vault: string; key: string; version?: string }> = (raw, flag) => {
  if (/^https:\/\/[^/]+\.managedhsm\.azure\.net\//i.test(raw)) {
    throw new ValidationError(
      flag,
      'Managed HSM keys are not supported yet; use a key in a Key Vault (https://<vault>.vault.azure.net/keys/<name>)',
      raw,
    );
  }
  let parsed;
  try {
    parsed = parseKeyId(raw, flag);
  } catch {
    throw new ValidationError(
      flag,
      'a key URI looks like https://<vault>.vault.azure.net/keys/<name> or https://<vault>.vault.azure.net/keys/<name>/<version>',
      raw,
    );
  }
  return {
    vault: parsed.vaultName,
    key: parsed.name,
    ...(parsed.version ? { version: parsed.version } : {}),
  };
};

/** A duration like 90d, 12w or ISO 8601 P90D. */
export const duration: ValueParser<string> = (raw, flag) => {
  parseDurationMs(raw, flag);
  return raw;
};

/** A revocation's confirmation window, e.g. 30m: between 1m and 24h (REVOKE_CONFIRM_WITHIN). */
export const confirmWithin: ValueParser<string> = (raw, flag) => {
  revokeConfirmWithinMs(raw, flag);
  return raw;
};

/** Characters Azure does not allow in tag names (azure-resource-manager/management/tag-resources). */
const TAG_NAME_FORBIDDEN = /[<>%&\\?/]/;

/** `name=value` or `name`: a tag name and, optionally, the value it must have. */
export const tag: ValueParser<NonNullable<FleetSelector['tag']>> = (raw, flag) => {
  const at = raw.indexOf('=');
  const name = (at < 0 ? raw : raw.slice(0, at)).trim();
  const value = at < 0 ? undefined : raw.slice(at + 1);
  if (!name || name.length > 512 || TAG_NAME_FORBIDDEN.test(name)) {
    throw new ValidationError(
      flag,
      'a tag is name=value (or a name alone); names are 1–512 characters without < > % & \\ ? /',
      raw,
    );
  }
  if (value !== undefined && value.length > 256) {
    throw new ValidationError(flag, 'a tag value has at most 256 characters', raw);
  }
  return value === undefined ? { name } : { name, value };
};

/** `<vault>/<key>`: a key by its vault and name. */
export function vaultKeyPath(raw: string, field = '<vault>/<key>'): { vault: string; key: string } {
  const parts = raw.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new ValidationError(field, 'a key is named by its vault and name, like kv-contoso/cmk-key', raw);
  }
  return { vault: validateVaultName(parts[0], '<vault>'), key: validateKeyName(parts[1], '<key>') };
}

/** A duration already checked by {@link duration}, in milliseconds. */
export function durationMs(raw: string, flag: string): number {
  return parseDurationMs(raw, flag);
}
