/**
 * Work Storage does on its own schedule, run whenever the emulated clock is read or moved: the
 * daily versionless-key check, and noting when an account lost access to its key.
 */
import {
  accountKeyProblem,
  encryptionPrincipal,
  hasKeyPermission,
  indexAssignments,
  storageReachesVault,
  vaultByUri,
  type AssignmentIndex,
} from './access';
import type { StateData } from './model';
import { kidOf } from './views';

const DAY_MS = 86_400_000;

/** Records when each CMK account lost its key (and clears it once the key is reachable again). */
export function updateKeyReachability(
  data: StateData,
  now: number,
  propagationMs: number,
  index: AssignmentIndex = indexAssignments(data),
): void {
  for (const a of Object.values(data.storageAccounts)) {
    if (a.encryption.keySource !== 'Microsoft.Keyvault') continue;
    const problem = accountKeyProblem(data, a, now, propagationMs, index);
    if (problem && a.encryption.keyLostAtMs === undefined) a.encryption.keyLostAtMs = now;
    if (!problem) delete a.encryption.keyLostAtMs;
  }
}

/**
 * Storage's daily check: a versionless account whose check is due moves to the newest enabled key
 * version, if its identity can still read the key. Returns true when any check ran.
 */
export function runDailyKeyChecks(
  data: StateData,
  now: number,
  propagationMs: number,
  index: AssignmentIndex = indexAssignments(data),
): boolean {
  let ran = false;
  for (const a of Object.values(data.storageAccounts)) {
    const e = a.encryption;
    if (e.keySource !== 'Microsoft.Keyvault' || e.keyVersion !== '' || e.nextCheckAtMs === undefined)
      continue;
    if (e.nextCheckAtMs > now) continue;
    while (e.nextCheckAtMs <= now) e.nextCheckAtMs += DAY_MS;
    ran = true;
    const vault = vaultByUri(data, e.keyVaultUri);
    const key = vault && e.keyName ? vault.keys[e.keyName.toLowerCase()] : undefined;
    const newest = key?.versions.filter((v) => v.enabled).pop();
    const principal = encryptionPrincipal(data, a);
    if (!vault || !key || !newest || !principal || !storageReachesVault(data, vault)) continue;
    if (!hasKeyPermission(data, vault, principal, 'get', key.name, now, propagationMs, index)) continue;
    const kid = kidOf(vault, key.name, newest.version);
    if (kid === e.currentVersionedKeyIdentifier) continue;
    e.currentVersionedKeyIdentifier = kid;
    e.lastKeyRotationTimestamp = new Date(now).toISOString();
    if (newest.exp !== undefined)
      e.currentVersionedKeyExpirationTimestamp = new Date(newest.exp * 1000).toISOString();
    else delete e.currentVersionedKeyExpirationTimestamp;
  }
  return ran;
}
