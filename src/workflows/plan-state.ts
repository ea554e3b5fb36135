/** What a run acts on as its approved plan found it: the account's vault and its identity. */
import { vaultUri } from '../shared/accounts';
import type { VaultState } from '../shared/activities';
import type { Plan, VaultSummary } from '../shared/plan';
import type { IdentityChoice } from '../shared/runbooks';

/** The vault the plan found, as the key and grant steps take it; this run neither created nor changed it. */
export function existingVault(vault: VaultSummary): VaultState {
  return {
    name: vault.name,
    resourceGroup: vault.resourceGroup,
    subscriptionId: vault.subscriptionId,
    vaultUri: vaultUri(vault.name),
    rbac: vault.rbac === true,
    created: false,
    purgeProtectionEnabled: false,
  };
}

/** The identity the account reaches Key Vault with before the change, to keep it. */
export function identityOf(plan: Plan): IdentityChoice {
  const identity = plan.before.identity;
  if (!identity || identity === 'SystemAssigned') return { type: 'SystemAssigned' };
  return { type: 'UserAssigned', resourceId: identity };
}
