/**
 * Who may do what: Key Vault data-plane permissions by access policy or RBAC, Blob data by RBAC
 * (both from the data actions of role definitions, with the propagation delay of created and
 * deleted assignments), and whether a storage account can reach its key.
 */
import {
  storageAccountId,
  vaultResourceId,
  type RoleAssignment,
  type StateData,
  type StorageAccount,
  type Vault,
} from './model';
import { networkRulesOf, trustedServicePasses } from './network';
import { allowsDataAction, KEY_PERMISSION_DATA_ACTIONS, roleDefinitionOf, scopeCovers } from './roles';

/** Role assignments by principal id (lower case), so a scan over many accounts stays linear. */
export type AssignmentIndex = ReadonlyMap<string, readonly RoleAssignment[]>;

/** Indexes the role assignments by principal, deleted ones still propagating included. */
export function indexAssignments(data: StateData): AssignmentIndex {
  const index = new Map<string, RoleAssignment[]>();
  for (const a of [
    ...Object.values(data.roleAssignments),
    ...Object.values(data.removedRoleAssignments ?? {}),
  ]) {
    const id = a.principalId.toLowerCase();
    const list = index.get(id);
    if (list) list.push(a);
    else index.set(id, [a]);
  }
  return index;
}

/**
 * True when an assignment grants at `nowMs`: Azure applies a role assignment change, adding or
 * deleting one, up to 10 minutes later (key-vault/general/rbac-guide, "Known limits and
 * performance"); `propagationMs` is that delay.
 */
export function effective(a: RoleAssignment, nowMs: number, propagationMs: number): boolean {
  return (
    a.createdAtMs + propagationMs <= nowMs &&
    (a.removedAtMs === undefined || nowMs < a.removedAtMs + propagationMs)
  );
}

/** A key permission as access policies name it, lower-cased. */
export type KeyPermission =
  | 'get'
  | 'list'
  | 'create'
  | 'update'
  | 'delete'
  | 'recover'
  | 'purge'
  | 'rotate'
  | 'getrotationpolicy'
  | 'setrotationpolicy'
  | 'wrapkey'
  | 'unwrapkey';

/**
 * True when `principalId` holds `permission` on the vault (or on `keyName` under RBAC) at `nowMs`:
 * by access policy, or by a propagated assignment at a covering scope whose role's data actions allow it.
 */
export function hasKeyPermission(
  data: StateData,
  vault: Vault,
  principalId: string,
  permission: KeyPermission,
  keyName: string | undefined,
  nowMs: number,
  propagationMs: number,
  index?: AssignmentIndex,
): boolean {
  const oid = principalId.toLowerCase();
  if (!vault.properties.enableRbacAuthorization) {
    return vault.properties.accessPolicies.some(
      (p) =>
        p.objectId.toLowerCase() === oid &&
        (p.permissions.keys ?? []).some((k) => k.toLowerCase() === permission || k.toLowerCase() === 'all'),
    );
  }
  const target = keyName ? `${vaultResourceId(vault)}/keys/${keyName}` : vaultResourceId(vault);
  const candidates = (index ?? indexAssignments(data)).get(oid) ?? [];
  return assignmentsAllow(
    data,
    candidates,
    target,
    KEY_PERMISSION_DATA_ACTIONS[permission],
    nowMs,
    propagationMs,
  );
}

/**
 * True when `principalId` holds, effective after propagation, a role on the container (or the
 * account, or any scope above it) whose data actions allow `dataAction`, e.g. `…/blobs/read`.
 */
export function hasBlobDataAction(
  data: StateData,
  account: StorageAccount,
  container: string | undefined,
  principalId: string,
  dataAction: string,
  nowMs: number,
  propagationMs: number,
  index: AssignmentIndex,
): boolean {
  const target = `${storageAccountId(account)}/blobServices/default/containers/${container ?? ''}`;
  const candidates = index.get(principalId.toLowerCase()) ?? [];
  return assignmentsAllow(data, candidates, target, dataAction, nowMs, propagationMs);
}

/**
 * The one check both data planes make: an assignment that is effective at `nowMs`, covers
 * `resourceId` (at it, above it, or at a management group above its subscription) and whose
 * role's data actions allow `dataAction`; never a role's name (role-definitions, "DataActions").
 */
function assignmentsAllow(
  data: StateData,
  assignments: readonly RoleAssignment[],
  resourceId: string,
  dataAction: string,
  nowMs: number,
  propagationMs: number,
): boolean {
  return assignments.some((a) => {
    if (!effective(a, nowMs, propagationMs) || !scopeCovers(data, a.scope, resourceId)) return false;
    const role = roleDefinitionOf(data, a.roleDefinitionId);
    return !!role && allowsDataAction(role, dataAction);
  });
}

/** The principal a storage account uses for its key: the encryption UAI, else its system identity. */
export function encryptionPrincipal(data: StateData, account: StorageAccount): string | undefined {
  const uai = account.encryption.userAssignedIdentity;
  if (uai) return data.identities[uai.toLowerCase()]?.principalId;
  return account.identity.principalId;
}

/** The vault a vault URI names, if it exists and is not deleted. */
export function vaultByUri(data: StateData, uri: string | undefined): Vault | undefined {
  if (!uri) return undefined;
  const host = /^https:\/\/([^./]+)\.vault\.azure\.net/i.exec(uri)?.[1];
  return host ? data.vaults[host.toLowerCase()] : undefined;
}

/**
 * Whether Azure Storage's own calls reach the vault: a vault of another tenant refuses the
 * account identity's token (AKV10032; cross-tenant keys through a federated identity are not
 * emulated), and a firewalled vault lets Storage in only through the trusted-services bypass
 * (key-vault/general/overview-vnet-service-endpoints: Azure Storage is a trusted service).
 */
export function storageReachesVault(data: StateData, vault: Vault): boolean {
  return (
    vault.properties.tenantId.toLowerCase() === data.tenantId.toLowerCase() &&
    trustedServicePasses(networkRulesOf(vault.properties.networkAcls), vault.properties.publicNetworkAccess)
  );
}

/** Why an account cannot unwrap its key right now (a blob error code), or undefined when it can. */
export function accountKeyProblem(
  data: StateData,
  account: StorageAccount,
  nowMs: number,
  propagationMs: number,
  index?: AssignmentIndex,
): 'KeyVaultVaultNotFound' | 'KeyVaultEncryptionKeyNotFound' | undefined {
  const enc = account.encryption;
  if (enc.keySource !== 'Microsoft.Keyvault') return undefined;
  const vault = vaultByUri(data, enc.keyVaultUri);
  if (!vault) return 'KeyVaultVaultNotFound';
  const key = enc.keyName ? vault.keys[enc.keyName.toLowerCase()] : undefined;
  const version = enc.currentVersionedKeyIdentifier?.split('/').pop();
  const current = key?.versions.find((v) => v.version === version);
  if (!current?.enabled) return 'KeyVaultEncryptionKeyNotFound';
  const principal = encryptionPrincipal(data, account);
  if (!principal || !storageReachesVault(data, vault)) return 'KeyVaultEncryptionKeyNotFound';
  const can = (p: KeyPermission): boolean =>
    hasKeyPermission(data, vault, principal, p, key?.name, nowMs, propagationMs, index);
  return can('get') && can('unwrapkey') ? undefined : 'KeyVaultEncryptionKeyNotFound';
}
