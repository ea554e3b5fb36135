/**
 * The key access an identity holds, split into what a revocation of one account's key removes
 * and what stays: role assignments whose role lets Azure Storage wrap and unwrap (at any scope of
 * the vault's subscription), and the vault's access-policy entry. The blast radius weighs the
 * identity's other users against both lists.
 */
import { vaultId } from '../shared/accounts';
import { keyScope, armScope } from './access';
import type { HeldGrant } from './blast-radius';
import { CRYPTO_SERVICE_ENCRYPTION_USER, type ActivityDeps } from './deps';
import type { VaultView } from './live-state';
import { abortSignal, call } from './runtime';

/** Built-in roles whose data actions include wrap and unwrap (their ids are fixed across tenants). */
const WRAPPING_ROLES = [
  CRYPTO_SERVICE_ENCRYPTION_USER,
  '12338af0-0e69-4776-bea7-57ae8d297424', // Key Vault Crypto User
  '14b46e9e-c2b7-41b4-b07b-48a6ebf60603', // Key Vault Crypto Officer
  '00482a5a-887f-4fb3-b363-3b7fe8e74483', // Key Vault Administrator
];

/** What a revocation of `keyName` removes from `principalId`, and what the principal keeps. */
export async function heldGrants(
  deps: ActivityDeps,
  vault: VaultView,
  principalId: string | undefined,
  keyName: string,
): Promise<{ removed: HeldGrant[]; kept: HeldGrant[] }> {
  if (!principalId || !vault.vault) return { removed: [], kept: [] };
  const vaultScope = vaultId(vault.ref).toLowerCase();
  if (!vault.summary.rbac) {
    const entry = vault.vault.properties?.accessPolicies?.some(
      (e) => e.objectId?.toLowerCase() === principalId.toLowerCase(),
    );
    return { removed: entry ? [{ kind: 'policy', scope: vaultScope }] : [], kept: [] };
  }
  const key = keyScope(vault.ref, keyName).toLowerCase();
  const removed: HeldGrant[] = [];
  const kept: HeldGrant[] = [];
  const subscription = `/subscriptions/${vault.ref.subscriptionId}`;
  await call({ what: `role assignments of ${principalId}` }, async () => {
    for await (const a of deps.azure
      .authorization(vault.ref.subscriptionId)
      .roleAssignments.listForScope(armScope(subscription), {
        filter: `principalId eq '${principalId}'`,
        abortSignal: abortSignal(),
      })) {
      const role = a.roleDefinitionId?.split('/').pop()?.toLowerCase() ?? '';
      if (a.principalId?.toLowerCase() !== principalId.toLowerCase() || !WRAPPING_ROLES.includes(role))
        continue;
      const scope = (a.scope ?? '').toLowerCase();
      // The revocation removes Crypto Service Encryption User at the key and at the vault.
      const goes = role === CRYPTO_SERVICE_ENCRYPTION_USER && (scope === key || scope === vaultScope);
      (goes ? removed : kept).push({ kind: 'role', scope });
    }
  });
  return { removed, kept };
}
