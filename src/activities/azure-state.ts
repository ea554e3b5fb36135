/**
 * Reads of live Azure state shared by the activities: the account, its encryption and
 * identity, and vaults by name or URI. Failures are classified with what was being read.
 */
import type { StorageAccount } from '@azure/arm-storage';
import type { Vault } from '@azure/arm-keyvault';
import { parseVaultId, vaultUri as uriOf, type AccountRef, type VaultRef } from '../shared/accounts';
import type { VaultState } from '../shared/activities';
import { CMK_ERROR_TYPES } from '../shared/errors';
import type { EncryptionSettings } from '../shared/plan';
import type { ActivityDeps } from './deps';
import { classifyError, domainFailure, isNotFound } from './errors';
import { abortSignal, call } from './runtime';

/** The account as ARM returns it; `AccountNotFound` when it does not exist. */
export function getAccount(deps: ActivityDeps, ref: AccountRef): Promise<StorageAccount> {
  return call({ what: `account ${ref.name}`, notFound: CMK_ERROR_TYPES.AccountNotFound }, () =>
    deps.azure.storage(ref.subscriptionId).storageAccounts.getProperties(ref.resourceGroup, ref.name, {
      abortSignal: abortSignal(),
    }),
  );
}

/**
 * The key `account` uses, as a fleet groups accounts by it (`<vault uri>keys/<name>`, lower
 * case), or null when it is not on a customer-managed key.
 */
export function keyInUseOf(account: StorageAccount): string | null {
  const enc = encryptionOf(account);
  return enc.keySource === 'Microsoft.Keyvault' && enc.vaultUri && enc.keyName
    ? `${enc.vaultUri.toLowerCase()}keys/${enc.keyName.toLowerCase()}`
    : null;
}

/** The account's encryption in the plan's terms. */
export function encryptionOf(account: StorageAccount): EncryptionSettings {
  const enc = account.encryption;
  const kv = enc?.keyVaultProperties;
  const keySource =
    (enc?.keySource ?? 'Microsoft.Storage').toLowerCase() === 'microsoft.keyvault'
      ? 'Microsoft.Keyvault'
      : 'Microsoft.Storage';
  if (keySource === 'Microsoft.Storage') return { keySource };
  const settings: EncryptionSettings = {
    keySource,
    vaultUri: kv?.keyVaultUri ? normaliseVaultUri(kv.keyVaultUri) : undefined,
    keyName: kv?.keyName,
    keyVersion: kv?.keyVersion ?? '',
    currentVersionedKeyId: kv?.currentVersionedKeyIdentifier,
    lastKeyRotation: toIso(kv?.lastKeyRotationTimestamp),
    identity: enc?.encryptionIdentity?.encryptionUserAssignedIdentity || 'SystemAssigned',
  };
  return JSON.parse(JSON.stringify(settings)) as EncryptionSettings;
}

/** The principal id of an identity the account has (`SystemAssigned` or a user-assigned id). */
export function principalOf(account: StorageAccount, identity: string): string | undefined {
  if (identity === 'SystemAssigned') return account.identity?.principalId;
  const entries = Object.entries(account.identity?.userAssignedIdentities ?? {});
  return entries.find(([id]) => id.toLowerCase() === identity.toLowerCase())?.[1].principalId;
}

/** A vault, or undefined when it does not exist. */
export async function findVault(deps: ActivityDeps, ref: VaultRef): Promise<Vault | undefined> {
  try {
    return await deps.azure
      .keyVault(ref.subscriptionId)
      .vaults.get(ref.resourceGroup, ref.name, { abortSignal: abortSignal() });
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw classifyError(error, { what: `vault ${ref.name}` });
  }
}

/** How fresh a vault listing must be; absent means read it now. */
export interface ListingAge {
  /** A listing of the subscription's vaults at most this old may serve (plans only). */
  maxAgeMs?: number;
}

/**
 * Recent vault listings per set of Azure clients (one per worker process) and subscription.
 * Plans of many accounts that share a few vaults — a fleet rotation — then cost ARM one
 * listing per subscription per {@link ListingAge.maxAgeMs} instead of one per account, which
 * keeps the fleet inside ARM's read bucket. Concurrent reads share one request.
 */
type Listings = Map<string, { at: number; vaults: Promise<Vault[]> }>;
const listings = new WeakMap<object, Listings>();

/** Drops this process's recent listings after it wrote to a vault. */
export function forgetVaultListings(deps: ActivityDeps): void {
  listings.delete(deps.azure);
}

function listVaults(deps: ActivityDeps, subscriptionId: string, age: ListingAge): Promise<Vault[]> {
  // A shared listing is not tied to one activity's cancellation.
  const read = (signal?: AbortSignal): Promise<Vault[]> =>
    call({ what: `vaults in subscription ${subscriptionId}` }, async () => {
      const vaults: Vault[] = [];
      for await (const vault of deps.azure
        .keyVault(subscriptionId)
        .vaults.listBySubscription(signal ? { abortSignal: signal } : {}))
        vaults.push(vault);
      return vaults;
    });
  if (!age.maxAgeMs || age.maxAgeMs <= 0) return read(abortSignal());
  let bySubscription = listings.get(deps.azure);
  if (!bySubscription) listings.set(deps.azure, (bySubscription = new Map() as Listings));
  const recent = bySubscription.get(subscriptionId);
  if (recent && Date.now() - recent.at <= age.maxAgeMs) return recent.vaults;
  const entry = { at: Date.now(), vaults: read() };
  bySubscription.set(subscriptionId, entry);
  // A failed listing is not remembered: the next plan reads again.
  entry.vaults.catch(() => {
    if (bySubscription.get(subscriptionId) === entry) bySubscription.delete(subscriptionId);
  });
  return entry.vaults;
}

/**
 * A vault by name, searched in the preferred subscription first, then the configured ones
 * (vault names are global, so the first match is the vault); undefined when none holds it.
 */
export async function findVaultByName(
  deps: ActivityDeps,
  vaultName: string,
  preferSubscription: string,
  age: ListingAge = {},
): Promise<{ ref: VaultRef; vault: Vault } | undefined> {
  const name = vaultName.toLowerCase();
  const subscriptions = [
    preferSubscription,
    ...deps.azure.subscriptionIds.filter((s) => s !== preferSubscription),
  ];
  for (const subscriptionId of subscriptions) {
    const found = (await listVaults(deps, subscriptionId, age)).find((v) => v.name?.toLowerCase() === name);
    if (found?.id) return { ref: parseVaultId(found.id), vault: found };
  }
  // A recent listing can predate a vault made since (by another tool): absence is read fresh.
  if (age.maxAgeMs && age.maxAgeMs > 0) return findVaultByName(deps, vaultName, preferSubscription);
  return undefined;
}

/**
 * The vault behind a key-vault URI, searched in the account's subscription first, then the
 * configured ones; `VaultNotFound` when none holds it.
 */
export async function getVaultByUri(
  deps: ActivityDeps,
  uri: string,
  preferSubscription: string,
  age: ListingAge = {},
): Promise<{ ref: VaultRef; vault: Vault }> {
  const name = new URL(uri).hostname.split('.')[0]!.toLowerCase();
  const found = await findVaultByName(deps, name, preferSubscription, age);
  if (found) return found;
  throw domainFailure(
    CMK_ERROR_TYPES.VaultNotFound,
    `The account uses vault ${name}, which no configured subscription holds. Fix: add its subscription to CMK_SUBSCRIPTION_IDS or restore the vault`,
    { vault: name },
  );
}

/** A vault in {@link VaultState} terms. */
export function vaultStateOf(
  ref: VaultRef,
  vault: Vault,
  flags: { created: boolean; purgeProtectionEnabled: boolean },
): VaultState {
  return {
    name: ref.name,
    resourceGroup: ref.resourceGroup,
    subscriptionId: ref.subscriptionId,
    vaultUri: normaliseVaultUri(vault.properties?.vaultUri ?? uriOf(ref.name)),
    rbac: vault.properties?.enableRbacAuthorization === true,
    ...flags,
  };
}

/** `https://<vault>.vault.azure.net/`: lowercase host, one trailing slash. */
export function normaliseVaultUri(uri: string): string {
  const url = new URL(uri);
  return `${url.protocol}//${url.host.toLowerCase()}/`;
}

function toIso(value: Date | string | undefined): string | undefined {
  if (!value) return undefined;
  return value instanceof Date ? value.toISOString() : value;
}
