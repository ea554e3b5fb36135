/**
 * Who uses which key in the configured subscriptions: every storage account on a customer-managed
 * key, and every encryption scope on one, with the version it is on and the identity it reaches
 * the key through. Read-only; the blast radius of a plan and the rotation-policy warnings use it.
 */
import type { StorageAccount } from '@azure/arm-storage';
import { parseAccountId, parseKeyId, type AccountRef } from '../shared/accounts';
import { encryptionOf, normaliseVaultUri, principalOf } from './azure-state';
import type { ActivityDeps } from './deps';
import { abortSignal, call } from './runtime';

/** Encryption scopes are listed per account; beyond this many accounts a plan says what it skipped. */
export const MAX_ACCOUNTS_SCANNED_FOR_SCOPES = 200;

/** One user of a Key Vault key: an account's own encryption, or one of its encryption scopes. */
export interface KeyUser {
  kind: 'account' | 'encryptionScope';
  /** The account, or the account that holds the scope. */
  account: AccountRef;
  /** `stcontoso`, or `stcontoso/scope-name` for a scope. */
  name: string;
  /** Resource id of the account or scope. */
  id: string;
  vaultUri: string;
  vaultName: string;
  keyName: string;
  /** The version it is pinned to; absent for versionless. */
  pinnedVersion?: string;
  /** The version Azure reports in use. */
  versionInUse?: string;
  /** `SystemAssigned` or the user-assigned identity it reaches the key through. */
  identity: string;
  principalId?: string;
}

/** Every account and scope on a Key Vault key, and what could not be checked. */
export interface KeyUsers {
  users: KeyUser[];
  /** Accounts whose encryption scopes were not listed (past the cap). */
  scopesUnchecked: number;
}

/** Lists the storage accounts of the configured subscriptions (one paged ARM list each). */
export async function listStorageAccounts(deps: ActivityDeps): Promise<StorageAccount[]> {
  const all: StorageAccount[] = [];
  for (const subscriptionId of deps.azure.subscriptionIds) {
    await call({ what: `storage accounts in subscription ${subscriptionId}` }, async () => {
      for await (const a of deps.azure
        .storage(subscriptionId)
        .storageAccounts.list({ abortSignal: abortSignal() }))
        all.push(a);
    });
  }
  return all;
}

/** The accounts (not scopes) on a key, read from one listing per subscription. */
export async function accountsUsingKey(
  deps: ActivityDeps,
  vaultUri: string,
  keyName: string,
): Promise<KeyUser[]> {
  const accounts = await listStorageAccounts(deps);
  return accounts.flatMap((a) => accountUser(a) ?? []).filter((u) => sameKey(u, vaultUri, keyName));
}

/** Every account and encryption scope on any Key Vault key, scopes of at most {@link MAX_ACCOUNTS_SCANNED_FOR_SCOPES} accounts. */
export async function listKeyUsers(deps: ActivityDeps, accounts?: StorageAccount[]): Promise<KeyUsers> {
  const all = accounts ?? (await listStorageAccounts(deps));
  const users = all.flatMap((a) => accountUser(a) ?? []);
  const scanned = all.slice(0, MAX_ACCOUNTS_SCANNED_FOR_SCOPES);
  const scopes = await Promise.all(scanned.map((a) => scopeUsers(deps, a)));
  return { users: [...users, ...scopes.flat()], scopesUnchecked: all.length - scanned.length };
}

/** True when the user is on that key (vault URI and key name, ignoring case). */
export function sameKey(
  u: Pick<KeyUser, 'vaultUri' | 'keyName'>,
  vaultUri: string,
  keyName: string,
): boolean {
  return (
    u.vaultUri.toLowerCase() === normaliseVaultUri(vaultUri).toLowerCase() &&
    u.keyName.toLowerCase() === keyName.toLowerCase()
  );
}

function accountUser(a: StorageAccount): KeyUser | undefined {
  const enc = encryptionOf(a);
  if (enc.keySource !== 'Microsoft.Keyvault' || !enc.vaultUri || !enc.keyName || !a.id) return undefined;
  const ref = parseAccountId(a.id);
  const identity = enc.identity ?? 'SystemAssigned';
  const inUse = enc.currentVersionedKeyId ? parseKeyId(enc.currentVersionedKeyId).version : undefined;
  const principalId = principalOf(a, identity);
  return {
    kind: 'account',
    account: ref,
    name: ref.name,
    id: a.id,
    vaultUri: enc.vaultUri,
    vaultName: vaultNameOf(enc.vaultUri),
    keyName: enc.keyName,
    ...(enc.keyVersion ? { pinnedVersion: enc.keyVersion } : {}),
    ...(inUse ? { versionInUse: inUse } : {}),
    identity,
    ...(principalId ? { principalId } : {}),
  };
}

async function scopeUsers(deps: ActivityDeps, a: StorageAccount): Promise<KeyUser[]> {
  if (!a.id) return [];
  const ref = parseAccountId(a.id);
  const users: KeyUser[] = [];
  await call({ what: `encryption scopes of ${ref.name}` }, async () => {
    for await (const s of deps.azure
      .storage(ref.subscriptionId)
      .encryptionScopes.list(ref.resourceGroup, ref.name, { abortSignal: abortSignal() })) {
      const uri = s.keyVaultProperties?.keyUri;
      if (s.source !== 'Microsoft.KeyVault' || !uri || s.state === 'Disabled') continue;
      let key;
      try {
        key = parseKeyId(uri);
      } catch {
        continue;
      }
      const current = s.keyVaultProperties?.currentVersionedKeyIdentifier;
      // A scope reaches its key through the account's encryption identity.
      const identity = encryptionOf(a).identity ?? accountIdentity(a);
      const principalId = principalOf(a, identity);
      users.push({
        kind: 'encryptionScope',
        account: ref,
        name: `${ref.name}/${s.name ?? ''}`,
        id: `${a.id}/encryptionScopes/${s.name ?? ''}`,
        vaultUri: key.vaultUri,
        vaultName: key.vaultName,
        keyName: key.name,
        ...(key.version ? { pinnedVersion: key.version } : {}),
        ...(current ? { versionInUse: parseKeyId(current).version } : {}),
        identity,
        ...(principalId ? { principalId } : {}),
      });
    }
  });
  return users;
}

function accountIdentity(a: StorageAccount): string {
  return a.encryption?.encryptionIdentity?.encryptionUserAssignedIdentity || 'SystemAssigned';
}

function vaultNameOf(uri: string): string {
  return new URL(uri).hostname.split('.')[0]!.toLowerCase();
}
