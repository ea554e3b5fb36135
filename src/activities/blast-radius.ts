/**
 * The blast radius of a destructive plan: the other storage accounts and encryption scopes, in
 * the configured subscriptions, that a revocation, a disabled key version or a key change
 * touches, each with why. A grant belongs to an identity, so removing it cuts off everyone who
 * reaches a key through that identity within the grant's reach; a disabled version cuts off
 * everyone on it; a key change leaves the old key's other users (and the account's own scopes)
 * where they are and, with a shared identity, opens the new key to them too.
 */
import type { AccountRef } from '../shared/accounts';
import { accountId, vaultId } from '../shared/accounts';
import type { AffectedResource, BlastRadius, EncryptionSettings } from '../shared/plan';
import { findVaultByName } from './azure-state';
import type { ActivityDeps } from './deps';
import { listKeyUsers, MAX_ACCOUNTS_SCANNED_FOR_SCOPES, sameKey, type KeyUser } from './key-users';

/**
 * A grant of key access held by the account's identity: a role assignment at an ARM scope (it
 * covers every key below that scope, in vaults that use RBAC), or a vault's access-policy entry
 * (it covers that vault's keys, in vaults that use access policies).
 */
export interface HeldGrant {
  kind: 'role' | 'policy';
  /** Lowercase ARM scope: a key, a vault, a resource group or a subscription; the vault for a policy entry. */
  scope: string;
}

/** What the change is, as the blast radius needs it. */
export type BlastChange =
  | { kind: 'revoke'; removed: HeldGrant[]; kept: HeldGrant[]; disableVersion?: string }
  | { kind: 'changeKey'; after: EncryptionSettings };

/** The account a plan acts on: its encryption now and the principal it reaches its key through. */
export interface BlastSubject {
  ref: AccountRef;
  before: EncryptionSettings;
  principalId?: string;
}

/** Finds the others a change touches; read-only. */
export async function blastRadiusOf(
  deps: ActivityDeps,
  subject: BlastSubject,
  change: BlastChange,
): Promise<BlastRadius> {
  const { users, scopesUnchecked } = await listKeyUsers(deps);
  const self = accountId(subject.ref).toLowerCase();
  const others = users.filter((u) => u.kind === 'encryptionScope' || u.id.toLowerCase() !== self);
  const affected =
    change.kind === 'revoke'
      ? await revoked(deps, subject, others, change)
      : changed(subject, others, change.after);
  return {
    affected,
    ...(scopesUnchecked
      ? {
          unchecked: `Encryption scopes of ${scopesUnchecked} account(s) beyond the first ${MAX_ACCOUNTS_SCANNED_FOR_SCOPES} were not checked.`,
        }
      : {}),
  };
}

async function revoked(
  deps: ActivityDeps,
  subject: BlastSubject,
  others: KeyUser[],
  change: Extract<BlastChange, { kind: 'revoke' }>,
): Promise<AffectedResource[]> {
  const { before, principalId } = subject;
  if (!before.vaultUri || !before.keyName) return [];
  const found = new Map<string, AffectedResource>();
  const add = (u: KeyUser, why: string): void => {
    if (!found.has(u.id.toLowerCase()))
      found.set(u.id.toLowerCase(), { kind: u.kind, name: u.name, id: u.id, why });
  };
  const ownVault = vaultNameOf(before.vaultUri);
  for (const u of others) {
    if (!principalId || u.principalId?.toLowerCase() !== principalId.toLowerCase()) continue;
    const vault = await findVaultByName(deps, u.vaultName, u.account.subscriptionId, {
      maxAgeMs: deps.timing.vaultListingMaxAgeMs,
    });
    if (!vault) continue;
    const key = `${vaultId(vault.ref)}/keys/${u.keyName}`.toLowerCase();
    const rbac = vault.vault.properties?.enableRbacAuthorization === true;
    const covers = (g: HeldGrant): boolean =>
      g.kind === 'role'
        ? rbac && (key === g.scope || key.startsWith(`${g.scope}/`))
        : !rbac && vaultId(vault.ref).toLowerCase() === g.scope;
    if (change.removed.some(covers) && !change.kept.some(covers)) {
      const through =
        u.identity === 'SystemAssigned' ? 'the same managed identity' : `identity ${lastSegment(u.identity)}`;
      add(
        u,
        `loses access: reaches ${u.vaultName}/${u.keyName} only through ${through}'s grant, which is removed`,
      );
    }
  }
  if (change.disableVersion) {
    const version = change.disableVersion;
    for (const u of others) {
      if (sameKey(u, before.vaultUri, before.keyName) && u.versionInUse === version)
        add(
          u,
          `loses access: uses version ${version.slice(0, 8)}… of ${ownVault}/${before.keyName}, which is disabled`,
        );
    }
  }
  return [...found.values()];
}

function changed(subject: BlastSubject, others: KeyUser[], after: EncryptionSettings): AffectedResource[] {
  const { before, principalId, ref } = subject;
  const list: AffectedResource[] = [];
  if (before.vaultUri && before.keyName) {
    const old = `${vaultNameOf(before.vaultUri)}/${before.keyName}`;
    for (const u of others) {
      if (!sameKey(u, before.vaultUri, before.keyName)) continue;
      const own = u.kind === 'encryptionScope' && u.account.name === ref.name;
      list.push({
        kind: u.kind,
        name: u.name,
        id: u.id,
        why: own
          ? `stays on ${old}: an encryption scope keeps its own key; change it separately`
          : `stays on ${old}: keep that key enabled while it is in use`,
      });
    }
  }
  const shared = before.identity && before.identity !== 'SystemAssigned' ? before.identity : undefined;
  if (shared && principalId && after.vaultUri && after.keyName) {
    const next = `${vaultNameOf(after.vaultUri)}/${after.keyName}`;
    for (const u of others) {
      if (u.kind !== 'account' || u.principalId?.toLowerCase() !== principalId.toLowerCase()) continue;
      if (list.some((l) => l.id === u.id)) continue;
      list.push({
        kind: u.kind,
        name: u.name,
        id: u.id,
        why: `gains access to ${next}: shares identity ${lastSegment(shared)}, which the change grants`,
      });
    }
  }
  return list;
}

function vaultNameOf(uri: string): string {
  return new URL(uri).hostname.split('.')[0]!.toLowerCase();
}

function lastSegment(id: string): string {
  return id.split('/').pop() ?? id;
}
