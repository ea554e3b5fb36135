/**
 * The one listing of what a revocation removes. The plan shows it; the revocation receives the
 * approved copy, lists again with this same code and refuses when the live set holds a grant the
 * approved one does not. Nothing is decided from a role's name or from the name the runbook
 * would have given an assignment: a role counts when its definition's data actions allow wrap
 * or unwrap on the key (wildcards matched and NotDataActions honoured, as Azure RBAC does).
 */
import type { RoleAssignment } from '@azure/arm-authorization';
import type { AccessPolicyEntry, Vault } from '@azure/arm-keyvault';
import { vaultId, type VaultRef } from '../shared/accounts';
import type { GrantLevel, KeyAccessGrant, RevocationSet } from '../shared/plan';
import { armScope, keyScope } from './access';
import type { ActivityDeps } from './deps';
import { isForbidden, isNotFound } from './errors';
import { abortSignal, call } from './runtime';

/** The data actions Azure Storage uses on its key; a role allowing either keeps access alive. */
const WRAP_ACTIONS = [
  'Microsoft.KeyVault/vaults/keys/wrap/action',
  'Microsoft.KeyVault/vaults/keys/unwrap/action',
];
/** Access-policy key permissions that allow the same. */
const WRAP_PERMISSIONS = ['wrapkey', 'unwrapkey', 'all'];

/**
 * Built-in roles that allow wrap/unwrap, for when a definition cannot be read (the runbook may
 * lack `roleDefinitions/read` somewhere): their ids are fixed across tenants.
 */
const WRAPPING_BUILT_INS: Record<string, string> = {
  'e147488a-f6f5-4113-8e2d-b22465e65bf6': 'Key Vault Crypto Service Encryption User',
  '12338af0-0e69-4776-bea7-57ae8d297424': 'Key Vault Crypto User',
  '14b46e9e-c2b7-41b4-b07b-48a6ebf60603': 'Key Vault Crypto Officer',
  '00482a5a-887f-4fb3-b363-3b7fe8e74483': 'Key Vault Administrator',
};

/** Whose access to which key a revocation lists. */
export interface RevocationTarget {
  vault: VaultRef;
  /** The vault as ARM returns it (access policies, permission model). */
  vaultRecord: Vault;
  principalId: string;
  keyName: string;
  disableKeyVersion?: string;
}

/** Lists every grant that lets the principal wrap or unwrap with the key, split into remove and keep. */
export async function listRevocationSet(
  deps: ActivityDeps,
  target: RevocationTarget,
): Promise<RevocationSet> {
  const keyId = keyScope(target.vault, target.keyName);
  if (!target.principalId) return { principalId: '', keyId, remove: [], keep: [] };
  const rbac = target.vaultRecord.properties?.enableRbacAuthorization === true;
  const grants = [...(await roleGrants(deps, target, keyId, rbac)), ...policyGrants(target, !rbac)].sort(
    (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
  return {
    principalId: target.principalId.toLowerCase(),
    keyId,
    remove: grants.filter((g) => g.kept === undefined),
    keep: grants.filter((g) => g.kept !== undefined),
    ...(target.disableKeyVersion ? { disableKeyVersion: target.disableKeyVersion } : {}),
  };
}

/**
 * The grants in `live` that `approved` did not show: a new grant to remove, one whose role or
 * permissions changed, one newly left in place, or a different identity or key. Grants that
 * disappeared are not listed: deleting less than approved is safe (and is what a retry sees).
 */
export function grantsNotApproved(approved: RevocationSet, live: RevocationSet): KeyAccessGrant[] | 'target' {
  if (approved.principalId !== live.principalId || approved.keyId.toLowerCase() !== live.keyId.toLowerCase())
    return 'target';
  const key = (g: KeyAccessGrant) => `${g.id.toLowerCase()}|${g.what}|${g.active}|${g.kept ?? ''}`;
  const removable = new Set(approved.remove.map(key));
  const kept = new Set(approved.keep.map(key));
  return [
    ...live.remove.filter((g) => !removable.has(key(g))),
    ...live.keep.filter((g) => !kept.has(key(g))),
  ];
}

async function roleGrants(
  deps: ActivityDeps,
  target: RevocationTarget,
  keyId: string,
  active: boolean,
): Promise<KeyAccessGrant[]> {
  const assignments = await listAssignments(deps, target, keyId);
  const roles = new Map<string, Promise<{ name: string; wraps?: boolean }>>();
  const grants: KeyAccessGrant[] = [];
  for (const a of assignments) {
    const roleId = a.roleDefinitionId ?? '';
    if (!roles.has(roleId)) roles.set(roleId, readRole(deps, target.vault.subscriptionId, roleId));
    const role = await roles.get(roleId)!;
    if (role.wraps === false) continue;
    const level = levelOf(a.scope!, target.vault, keyId);
    const kept =
      role.wraps === undefined
        ? ('unreadableRole' as const)
        : level === 'managementGroup' || level === 'other'
          ? ('inherited' as const)
          : undefined;
    grants.push({
      kind: 'roleAssignment',
      id: a.id!,
      level,
      where: whereOf(level, a.scope!, target),
      what: role.name,
      active,
      ...(kept ? { kept } : {}),
    });
  }
  return grants;
}

/** The principal's assignments that apply to the key: at it, or at a scope above it. */
function listAssignments(
  deps: ActivityDeps,
  target: RevocationTarget,
  keyId: string,
): Promise<RoleAssignment[]> {
  const principal = target.principalId.toLowerCase();
  return call({ what: `role assignments on key ${target.vault.name}/${target.keyName}` }, async () => {
    const found: RoleAssignment[] = [];
    for await (const a of deps.azure
      .authorization(target.vault.subscriptionId)
      .roleAssignments.listForScope(armScope(keyId), {
        filter: `principalId eq '${principal}'`,
        abortSignal: abortSignal(),
      })) {
      if (a.id && a.scope && a.principalId?.toLowerCase() === principal && appliesTo(a.scope, keyId))
        found.push(a);
    }
    return found;
  });
}

/** A scope applies to the key when it is the key or above it (Azure lists scopes below too). */
function appliesTo(scope: string, keyId: string): boolean {
  const s = scope.toLowerCase().replace(/\/+$/, '');
  const k = keyId.toLowerCase();
  return s === '' || k === s || k.startsWith(`${s}/`) || s.startsWith('/providers/microsoft.management/');
}

/** The role's name and whether its data actions allow wrap or unwrap; `wraps` unknown when unreadable. */
async function readRole(
  deps: ActivityDeps,
  subscriptionId: string,
  roleDefinitionId: string,
): Promise<{ name: string; wraps?: boolean }> {
  const guid = (roleDefinitionId.split('/').pop() ?? '').toLowerCase();
  try {
    const role = await deps.azure
      .authorization(subscriptionId)
      .roleDefinitions.getById(armScope(roleDefinitionId), { abortSignal: abortSignal() });
    return { name: role.roleName ?? guid, wraps: allowsWrap(role.permissions ?? []) };
  } catch (error) {
    if (!isForbidden(error) && !isNotFound(error)) throw error;
    const known = WRAPPING_BUILT_INS[guid];
    return known ? { name: known, wraps: true } : { name: `role ${guid}` };
  }
}

/** True when a permission block allows wrap or unwrap and does not take it away again. */
export function allowsWrap(
  permissions: ReadonlyArray<{ dataActions?: string[]; notDataActions?: string[] }>,
): boolean {
  return WRAP_ACTIONS.some((action) =>
    permissions.some(
      (p) =>
        (p.dataActions ?? []).some((d) => wildcard(d, action)) &&
        !(p.notDataActions ?? []).some((d) => wildcard(d, action)),
    ),
  );
}

/** Azure RBAC action matching: `*` matches any run of characters; case-insensitive. */
function wildcard(pattern: string, action: string): boolean {
  const escaped = pattern.split('*').map((part) => part.replace(/[\\^$.+?()[\]{}|/]/g, '\\$&'));
  return new RegExp(`^${escaped.join('.*')}$`, 'i').test(action);
}

function policyGrants(target: RevocationTarget, active: boolean): KeyAccessGrant[] {
  const principal = target.principalId.toLowerCase();
  return (target.vaultRecord.properties?.accessPolicies ?? [])
    .filter((e) => e.objectId?.toLowerCase() === principal && allowsWrapByPolicy(e))
    .map((e) => ({
      kind: 'accessPolicy' as const,
      id: accessPolicyId(target.vault, e),
      level: 'vault' as const,
      where: target.vault.name,
      what: [...(e.permissions?.keys ?? [])].sort().join(', '),
      active,
    }));
}

function allowsWrapByPolicy(entry: AccessPolicyEntry): boolean {
  return (entry.permissions?.keys ?? []).some((k) => WRAP_PERMISSIONS.includes(k.toLowerCase()));
}

/** The id a revocation set gives an access-policy entry (entries have none in ARM). */
export function accessPolicyId(vault: VaultRef, entry: AccessPolicyEntry): string {
  const app = entry.applicationId ? `/${entry.applicationId.toLowerCase()}` : '';
  return `${vaultId(vault)}/accessPolicies/${(entry.objectId ?? '').toLowerCase()}${app}`;
}

function levelOf(scope: string, vault: VaultRef, keyId: string): GrantLevel {
  const s = scope.toLowerCase().replace(/\/+$/, '');
  if (s === keyId.toLowerCase()) return 'key';
  if (s === vaultId(vault).toLowerCase()) return 'vault';
  if (/^\/subscriptions\/[^/]+\/resourcegroups\/[^/]+$/.test(s)) return 'resourceGroup';
  if (/^\/subscriptions\/[^/]+$/.test(s)) return 'subscription';
  if (/^\/providers\/microsoft\.management\/managementgroups\/[^/]+$/.test(s)) return 'managementGroup';
  return 'other';
}

function whereOf(level: GrantLevel, scope: string, target: RevocationTarget): string {
  switch (level) {
    case 'key':
      return `${target.vault.name}/${target.keyName}`;
    case 'vault':
      return target.vault.name;
    case 'other':
      return scope || '/';
    default:
      return scope.split('/').pop() ?? scope;
  }
}
