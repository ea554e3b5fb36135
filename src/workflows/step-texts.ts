/**
 * What each step did, in the words its card line shows: what changed ("turned on", "granted")
 * and what was already so ("already on"), never a raw flag or an object id a person cannot place.
 */
import type {
  GrantState,
  IdentityState,
  KeyState,
  RevokeResult,
  RotationResult,
  VaultState,
} from '../shared/activities';
import { describeEncryption } from '../shared/status';

/** A key version as people compare them: its first eight characters. */
function short(version: string): string {
  return version.length > 8 ? `${version.slice(0, 8)}…` : version;
}

/** The vault step: created, purge protection turned on, or already protected. */
export function vaultDone(v: VaultState): string {
  if (v.created) return `created ${v.name} with soft delete and purge protection`;
  if (v.purgeProtectionEnabled)
    return `purge protection turned on for ${v.name} (soft delete was already on)`;
  return `${v.name} already had soft delete and purge protection`;
}

/** An identity as a person names it: system-assigned, or a user-assigned one by its name. */
export function identityName(identity: string): string {
  const name = /\/userAssignedIdentities\/([^/]+)$/i.exec(identity)?.[1];
  return name ? `user-assigned identity ${name}` : 'system-assigned identity';
}

/** The identity step, naming a user-assigned identity by its name rather than its resource id. */
export function identityDone(i: IdentityState): string {
  const which = identityName(i.identity);
  return i.changed ? `${which} turned on` : `${which} already on`;
}

/** The grant step: what was granted and how, or that it already was. */
export function grantDone(g: GrantState): string {
  const how =
    g.mode === 'rbac' ? 'Key Vault Crypto Service Encryption User role' : 'access policy get/wrap/unwrap';
  if (!g.changed) return `already granted (${how})`;
  // ARM reports a grant at once; Key Vault applies it later (RBAC commonly takes minutes), so
  // the step says it is recorded: the account taking the key is what confirms Storage can use it.
  return `granted (${how}); recorded in Azure, Key Vault applies it within minutes and the next step waits for it`;
}

/** The key step: a version created now, or the one that exists. */
export function keyDone(k: KeyState): string {
  return k.created
    ? `created ${k.name}, version ${short(k.version)}`
    : `${k.name} already exists (version ${short(k.version)})`;
}

/** The rotation step: the new version and how the account took it. */
export function rotationDone(r: RotationResult): string {
  const took = {
    moved: 'the account was moved to it',
    confirmed: 'Azure picked it up',
    pending: 'Azure picks it up at its daily check (versionless)',
  }[r.accountState];
  const was = r.previousVersion ? ` (was ${short(r.previousVersion)})` : '';
  const made = r.adopted ? "this period's version" : 'new version';
  return `${made} ${short(r.newVersion)}${was}; ${took}`;
}

/** The revoke step: which grants were removed, and whether the key version was disabled. */
export function revokeDone(r: RevokeResult): string {
  const kind = {
    accessPolicy: 'access-policy entry',
    roleAssignment: 'role assignment',
    none: '',
  }[r.removed];
  const count = r.grants?.length ?? (r.removed === 'none' ? 0 : 1);
  const removed =
    count === 0
      ? 'no grant was left to remove'
      : count === 1
        ? `${kind || 'grant'} removed`
        : `${count} grants removed${kind ? ` (${kind}s)` : ''}`;
  return `${removed}${r.keyDisabled ? '; key version disabled' : ''}`;
}

/** The enable or switch step: what the account now uses. */
export const encryptionDone = (settings: Parameters<typeof describeEncryption>[0]): string =>
  `now ${describeEncryption(settings)}`;
