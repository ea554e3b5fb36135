/**
 * Azure naming rules and key parameters, checked before any call to Azure.
 * Pure: imported by workflows, activities, the bot and tests.
 */

/** A value broke one of Azure's rules; `field` names the input, `rule` says what is allowed. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    readonly field: string,
    readonly rule: string,
    readonly value?: unknown,
  ) {
    super(`${field}: ${rule}${value === undefined ? '' : ` (got ${JSON.stringify(value)})`}`);
  }
}

/** Key types Azure Storage accepts for customer-managed keys. */
export const KEY_TYPES = ['RSA', 'RSA-HSM'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

/** Key sizes Azure Storage accepts for customer-managed keys. */
export const KEY_SIZES = [2048, 3072, 4096] as const;
export type KeySize = (typeof KEY_SIZES)[number];

/** A naming rule: what a value must match, what else must hold, and the sentence that says so. */
interface NameRule {
  pattern: RegExp;
  rule: string;
  also?: (value: string) => boolean;
}

/** Azure's naming rules for what runbooks take by name. */
const NAME_RULES = {
  storageAccount: {
    pattern: /^[a-z0-9]{3,24}$/,
    rule: 'a storage account name is 3–24 lowercase letters and digits',
  },
  vault: {
    pattern: /^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/,
    rule: 'a vault name is 3–24 letters, digits and hyphens, starts with a letter, ends with a letter or digit and has no "--"',
    also: (name) => !name.includes('--'),
  },
  key: { pattern: /^[a-zA-Z0-9-]{1,127}$/, rule: 'a key name is 1–127 letters, digits and hyphens' },
  keyVersion: { pattern: /^[a-f0-9]{32}$/, rule: 'a key version is 32 lowercase hexadecimal characters' },
  resourceGroup: {
    pattern: /^[-\w._()]{1,90}$/,
    rule: 'a resource group name is 1–90 letters, digits, "_", "-", ".", "(" or ")" and does not end with "."',
    also: (name) => !name.endsWith('.'),
  },
  guid: {
    pattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
    rule: 'must be a GUID like 00000000-0000-0000-0000-000000000000',
  },
} satisfies Record<string, NameRule>;

/** Storage account names: 3–24 lowercase letters and digits, globally unique. */
export function validateStorageAccountName(name: unknown, field = 'account'): string {
  return followingRule(name, field, NAME_RULES.storageAccount);
}

/** Key Vault names: 3–24 letters, digits and hyphens; starts with a letter, ends with a letter or digit, no "--". */
export function validateVaultName(name: unknown, field = 'vault'): string {
  return followingRule(name, field, NAME_RULES.vault);
}

/** Key names: 1–127 letters, digits and hyphens. */
export function validateKeyName(name: unknown, field = 'key'): string {
  return followingRule(name, field, NAME_RULES.key);
}

/** Key versions are 32 lowercase hex characters. */
export function validateKeyVersion(version: unknown, field = 'keyVersion'): string {
  return followingRule(version, field, NAME_RULES.keyVersion);
}

/** Resource group names: 1–90 letters, digits, underscores, hyphens, periods and parentheses. */
export function validateResourceGroupName(name: unknown, field = 'resourceGroup'): string {
  return followingRule(name, field, NAME_RULES.resourceGroup);
}

/** Subscription, tenant and object ids are GUIDs; returned lower-case. */
export function validateGuid(value: unknown, field: string): string {
  return followingRule(value, field, NAME_RULES.guid).toLowerCase();
}

/** `value` when it is a string that follows `rule`; else a {@link ValidationError} that states the rule. */
function followingRule(value: unknown, field: string, { pattern, rule, also }: NameRule): string {
  if (typeof value !== 'string' || !pattern.test(value) || (also && !also(value))) {
    throw new ValidationError(field, rule, value);
  }
  return value;
}

/** RSA or RSA-HSM. */
export function validateKeyType(value: unknown, field = 'keyType'): KeyType {
  if (!KEY_TYPES.includes(value as KeyType)) {
    throw new ValidationError(field, `must be one of ${KEY_TYPES.join(', ')}`, value);
  }
  return value as KeyType;
}

/** 2048, 3072 or 4096 bits. */
export function validateKeySize(value: unknown, field = 'keySize'): KeySize {
  if (!KEY_SIZES.includes(value as KeySize)) {
    throw new ValidationError(field, `must be one of ${KEY_SIZES.join(', ')} bits`, value);
  }
  return value as KeySize;
}

/** A key as runbooks take it: a valid name, RSA or RSA-HSM, and a size Azure Storage accepts. */
export function validateKeyChoice(key: unknown, field = 'key'): void {
  const value = (key ?? {}) as { name?: unknown; type?: unknown; size?: unknown };
  validateKeyName(value.name, `${field}.name`);
  validateKeyType(value.type, `${field}.type`);
  validateKeySize(value.size, `${field}.size`);
}
