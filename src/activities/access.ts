/**
 * Key access for the storage account's identity: an access-policy entry (get, wrapKey,
 * unwrapKey) merged without touching other entries, or the role Key Vault Crypto Service
 * Encryption User scoped to the key. Their removal is the revocation's (`revocation-set.ts`).
 */
import { createHash } from 'node:crypto';
import type { AccessPolicyEntry } from '@azure/arm-keyvault';
import { vaultId, type VaultRef } from '../shared/accounts';
import type { GrantState, VaultState } from '../shared/activities';
import { CMK_ERROR_TYPES } from '../shared/errors';
import { validateGuid, validateKeyName, validateVaultName } from '../shared/names';
import { CRYPTO_SERVICE_ENCRYPTION_USER, STORAGE_KEY_PERMISSIONS, type ActivityDeps } from './deps';
import { domainFailure, isNotFound } from './errors';
import { findVault, forgetVaultListings } from './azure-state';
import { abortSignal, call, retryWhile } from './runtime';

/** The ARM scope of one key in a vault (RBAC grants are scoped to the key, not the vault). */
export function keyScope(vault: VaultRef, keyName: string): string {
  return `${vaultId(vault)}/keys/${keyName}`;
}

/** A scope or id as arm-authorization wants it: its URL templates add the leading slash. */
export function armScope(scope: string): string {
  return scope.replace(/^\/+/, '');
}

/** A role assignment name derived from scope, role and principal, so a retried PUT is the same PUT. */
export function roleAssignmentName(scope: string, roleId: string, principalId: string): string {
  const hex = createHash('sha256')
    .update(`${scope.toLowerCase()}|${roleId}|${principalId.toLowerCase()}`)
    .digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Creates the role assignment unless it exists; returns its id and whether this call made it. */
export async function ensureRoleAssignment(
  deps: ActivityDeps,
  subscriptionId: string,
  scope: string,
  roleId: string,
  principalId: string,
): Promise<{ id: string; changed: boolean }> {
  const client = deps.azure.authorization(subscriptionId);
  const name = roleAssignmentName(scope, roleId, principalId);
  const what = { what: `role assignment on ${scope}` };
  const existing = await call(what, async () => {
    try {
      return await client.roleAssignments.get(armScope(scope), name, { abortSignal: abortSignal() });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  });
  if (existing?.id) return { id: existing.id, changed: false };
  const created = await call(what, async () => {
    try {
      return await client.roleAssignments.create(
        armScope(scope),
        name,
        {
          roleDefinitionId: `/subscriptions/${subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${roleId}`,
          principalId,
          principalType: 'ServicePrincipal',
        },
        { abortSignal: abortSignal() },
      );
    } catch (error) {
      if ((error as { code?: string }).code === 'RoleAssignmentExists') return undefined;
      throw error;
    }
  });
  return {
    id: created?.id ?? `${scope}/providers/Microsoft.Authorization/roleAssignments/${name}`,
    changed: !!created,
  };
}

/** Grants the principal key access in the vault's mode and waits until Azure reports it. */
export async function grantKeyAccess(
  deps: ActivityDeps,
  input: { vault: VaultState; principalId: string; keyName: string },
): Promise<GrantState> {
  const principalId = validateGuid(input.principalId, 'principalId');
  const keyName = validateKeyName(input.keyName, 'keyName');
  const vault = { ...input.vault, name: validateVaultName(input.vault?.name, 'vault.name') };
  validateGuid(vault.subscriptionId, 'vault.subscriptionId');
  const progress = { step: 'grant', vault: vault.name, principalId };
  const timing = { firstDelayMs: deps.timing.grantPollMs, timeoutMs: deps.timing.grantTimeoutMs, progress };

  if (vault.rbac) {
    const scope = keyScope(vault, keyName);
    const assignment = await ensureRoleAssignment(
      deps,
      vault.subscriptionId,
      scope,
      CRYPTO_SERVICE_ENCRYPTION_USER,
      principalId,
    );
    const client = deps.azure.authorization(vault.subscriptionId);
    const confirmed = await retryWhile(
      () =>
        call({ what: `role assignment on ${scope}` }, () =>
          client.roleAssignments.getById(armScope(assignment.id), { abortSignal: abortSignal() }),
        ),
      (error) => isNotFound((error as { cause?: unknown }).cause ?? error),
      timing,
    );
    return {
      mode: 'rbac',
      principalId,
      roleAssignmentId: assignment.id,
      effectiveAfterMs: confirmed.elapsedMs,
      changed: assignment.changed,
    };
  }

  const current = await entryFor(deps, vault, principalId);
  const missing = STORAGE_KEY_PERMISSIONS.filter((p) => !hasPermission(current, p));
  if (missing.length > 0) {
    await call({ what: `access policy of vault ${vault.name}` }, () =>
      deps.azure.keyVault(vault.subscriptionId).vaults.updateAccessPolicy(
        vault.resourceGroup,
        vault.name,
        'add',
        {
          properties: {
            accessPolicies: [
              {
                tenantId: deps.tenantId,
                objectId: principalId,
                permissions: { keys: [...STORAGE_KEY_PERMISSIONS] },
              },
            ],
          },
        },
        { abortSignal: abortSignal() },
      ),
    ).finally(() => forgetVaultListings(deps));
  }
  const confirmed = await retryWhile(
    async () => {
      const entry = await entryFor(deps, vault, principalId);
      if (!STORAGE_KEY_PERMISSIONS.every((p) => hasPermission(entry, p))) throw new GrantNotVisible();
    },
    (error) => error instanceof GrantNotVisible,
    timing,
  );
  return {
    mode: 'accessPolicy',
    principalId,
    effectiveAfterMs: confirmed.elapsedMs,
    changed: missing.length > 0,
  };
}

/** The vault's access-policy entry for a principal, if any. */
export async function entryFor(
  deps: ActivityDeps,
  vault: VaultRef,
  principalId: string,
): Promise<AccessPolicyEntry | undefined> {
  const found = await findVault(deps, vault);
  if (!found) {
    throw domainFailure(
      CMK_ERROR_TYPES.VaultNotFound,
      `Vault ${vault.name} does not exist. Fix: check its name and resource group`,
      { vault: vault.name },
    );
  }
  return found.properties?.accessPolicies?.find(
    (e) => e.objectId?.toLowerCase() === principalId.toLowerCase(),
  );
}

function hasPermission(entry: AccessPolicyEntry | undefined, permission: string): boolean {
  const keys = (entry?.permissions?.keys ?? []).map((k) => k.toLowerCase());
  return keys.includes('all') || keys.includes(permission.toLowerCase());
}

class GrantNotVisible extends Error {
  override readonly name = 'GrantNotVisible';
}
