/**
 * Storage's rules for the rest of an account update: creation-only settings are refused with
 * AccountPropertyCannotBeUpdated, the SKU may only move within its tier and redundancy family,
 * the firewall and simple settings are stored, and any other property is refused rather than
 * dropped, since Azure would apply it and the local Azure cannot.
 */
import { armError, asRecord, type Ctx } from '../http';
import type { StorageAccount } from '../model';
import { networkRulesOf } from '../network';

/** Settings stored and returned as given; the local Azure does not act on them. */
const SIMPLE_SETTINGS = [
  'supportsHttpsTrafficOnly',
  'minimumTlsVersion',
  'allowBlobPublicAccess',
  'allowSharedKeyAccess',
  'accessTier',
  'defaultToOAuthAuthentication',
  'allowCrossTenantReplication',
] as const;
/** Update properties the local Azure models. */
const MODELLED = new Set<string>(['encryption', 'networkAcls', 'publicNetworkAccess', ...SIMPLE_SETTINGS]);
const PUBLIC_ACCESS = ['Enabled', 'Disabled', 'SecuredByPerimeter'];
const LOCAL_FAMILIES = [
  ['Standard_LRS', 'Standard_GRS', 'Standard_RAGRS'],
  ['Standard_ZRS', 'Standard_GZRS', 'Standard_RAGZRS'],
];

/** The `properties.encryption` block of a storage account update. */
export interface EncryptionBody {
  keySource?: string;
  requireInfrastructureEncryption?: boolean;
  services?: Partial<Record<'blob' | 'file' | 'queue' | 'table', { enabled?: boolean; keyType?: string }>>;
  keyvaultproperties?: { keyname?: string; keyversion?: string; keyvaulturi?: string };
  identity?: { userAssignedIdentity?: string; federatedIdentityClientId?: string };
}

/** The body of a storage account update, as the SDK serializes it. */
export interface AccountUpdateBody {
  identity?: { type?: string; userAssignedIdentities?: Record<string, unknown> };
  properties?: Record<string, unknown> & { encryption?: EncryptionBody };
  tags?: Record<string, string>;
  sku?: { name?: string };
  kind?: string;
  location?: string;
}

/** Azure's answer to a property that only account creation sets (`AccountPropertyCannotBeUpdated`). */
export function cannotBeUpdated(ctx: Ctx, property: string): false {
  armError(
    ctx,
    400,
    'AccountPropertyCannotBeUpdated',
    `The property '${property}' was specified in the input, but it cannot be updated. For more information, see - https://aka.ms/storageaccountupdate`,
  );
  return false;
}

/** Azure's answer to a value it will not accept (`InvalidValuesForRequestParameters`). */
export function invalidValues(ctx: Ctx, parameter: string): false {
  armError(
    ctx,
    400,
    'InvalidValuesForRequestParameters',
    `Values for request parameters are invalid: ${parameter}.`,
  );
  return false;
}

/** Checks the parts of an update other than identity and encryption; false after answering. */
export function validateAccountUpdate(ctx: Ctx, a: StorageAccount, body: AccountUpdateBody): boolean {
  if (body.location && body.location.toLowerCase() !== a.location.toLowerCase())
    return cannotBeUpdated(ctx, 'location');
  if (body.kind && body.kind !== a.kind) return notEmulated(ctx, 'kind', 'an account kind upgrade');
  if (body.sku?.name && !skuChangeAllowed(a.sku, body.sku.name)) return invalidValues(ctx, 'sku');
  const props = body.properties ?? {};
  const other = Object.keys(props).find((k) => !MODELLED.has(k) && props[k] !== null);
  if (other) return notEmulated(ctx, `properties.${other}`, 'this setting');
  if (props.publicNetworkAccess !== undefined && !PUBLIC_ACCESS.includes(props.publicNetworkAccess as string))
    return invalidValues(ctx, 'publicNetworkAccess');
  const acls = asRecord(props.networkAcls);
  if (props.networkAcls !== undefined && (!acls || !['Allow', 'Deny'].includes(acls.defaultAction as string)))
    return invalidValues(ctx, 'networkAcls.defaultAction');
  return encryptionServicesStayOn(ctx, props.encryption);
}

/** Applies a validated update's firewall and simple settings. */
export function applyAccountSettings(a: StorageAccount, body: AccountUpdateBody): void {
  const props = body.properties ?? {};
  if (body.tags) a.tags = body.tags;
  if (body.sku?.name) a.sku = body.sku.name;
  if (props.networkAcls !== undefined) a.networkAcls = networkRulesOf(props.networkAcls);
  if (typeof props.publicNetworkAccess === 'string') a.publicNetworkAccess = props.publicNetworkAccess;
  for (const k of SIMPLE_SETTINGS) {
    const v = props[k];
    if (typeof v === 'string' || typeof v === 'boolean') a.settings = { ...a.settings, [k]: v };
  }
}

/** Encryption of blobs and files cannot be turned off (Storage encrypts all data at rest). */
function encryptionServicesStayOn(ctx: Ctx, enc: EncryptionBody | undefined): boolean {
  const services = enc?.services ?? {};
  for (const s of ['blob', 'file', 'queue', 'table'] as const)
    if (services[s]?.enabled === false) return invalidValues(ctx, `encryption.services.${s}.enabled`);
  return true;
}

/** Standard ↔ Premium never; LRS/GRS/RA-GRS ↔ ZRS/GZRS/RA-GZRS only by a migration, not an update. */
function skuChangeAllowed(from: string, to: string): boolean {
  if (from.toLowerCase() === to.toLowerCase()) return true;
  return LOCAL_FAMILIES.some(
    (family) =>
      family.some((s) => s.toLowerCase() === from.toLowerCase()) &&
      family.some((s) => s.toLowerCase() === to.toLowerCase()),
  );
}

/** Refuses what Azure would apply but the local Azure does not model, instead of dropping it. */
function notEmulated(ctx: Ctx, property: string, what: string): false {
  armError(
    ctx,
    400,
    'PropertyNotEmulated',
    `The local Azure does not emulate ${property} on a storage account update; Azure would apply ${what}. Nothing was changed.`,
  );
  return false;
}
