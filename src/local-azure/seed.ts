/**
 * Builds the local Azure's initial state from a seed file (`seed.json` by default): tenant,
 * principals, subscriptions with resource groups, storage accounts, vaults, identities and grants.
 */
import { readFileSync } from 'node:fs';
import type { EmulatedClock } from './clock';
import type { Principal, StateData } from './model';
import { roleGuid } from './roles';
import type { RoleAssignmentInput, StateTiming, StorageAccountInput, VaultInput } from './inputs';
import { LocalAzureState } from './state';

type SeedSubscription = {
  subscriptionId: string;
  displayName?: string;
  /** Management groups above the subscription, nearest first (the tenant root group is implied). */
  managementGroups?: string[];
  resourceGroups?: Array<{ name: string; location?: string }>;
  storageAccounts?: Array<Omit<StorageAccountInput, 'subscriptionId'>>;
  vaults?: Array<Omit<VaultInput, 'subscriptionId'>>;
  userAssignedIdentities?: Array<{
    resourceGroup: string;
    name: string;
    location?: string;
    principalId?: string;
    clientId?: string;
  }>;
  roleAssignments?: RoleAssignmentInput[];
};

/** The seed file's shape (see docs/local-azure.md). */
export interface Seed {
  tenantId: string;
  principals?: Array<Principal & { kind: Principal['kind'] }>;
  subscriptions: SeedSubscription[];
}

/** Reads a seed from an object or a JSON file path. */
export function readSeed(seed: object | string): Seed {
  const value = typeof seed === 'string' ? (JSON.parse(readFileSync(seed, 'utf8')) as unknown) : seed;
  const s = value as Partial<Seed>;
  if (!s || typeof s.tenantId !== 'string' || !Array.isArray(s.subscriptions)) {
    throw new Error('The local Azure seed needs "tenantId" and a "subscriptions" array.');
  }
  return s as Seed;
}

/** The state format this code writes; see {@link upgradeState}. */
export const STATE_VERSION = 2;

/** Empty state for a tenant. */
export function emptyState(tenantId: string): StateData {
  return {
    version: STATE_VERSION,
    tenantId,
    principals: {},
    subscriptions: {},
    storageAccounts: {},
    vaults: {},
    deletedVaults: {},
    identities: {},
    roleAssignments: {},
    operations: {},
  };
}

/** Creates the state from a seed; seeded role assignments are effective at once. */
export function stateFromSeed(
  seed: Seed,
  clock: EmulatedClock,
  timing: StateTiming,
  stateFile?: string,
): LocalAzureState {
  const state = new LocalAzureState(emptyState(seed.tenantId), clock, timing, stateFile);
  for (const p of seed.principals ?? []) {
    const { $comment: _c, ...principal } = p as Principal & { $comment?: string };
    state.addPrincipal(principal);
  }
  for (const sub of seed.subscriptions) {
    const subscriptionId = sub.subscriptionId;
    state.data.subscriptions[subscriptionId.toLowerCase()] = {
      subscriptionId,
      displayName: sub.displayName ?? subscriptionId,
      resourceGroups: {},
      ...(sub.managementGroups ? { managementGroups: sub.managementGroups } : {}),
    };
    for (const rg of sub.resourceGroups ?? []) state.addResourceGroup(subscriptionId, rg.name, rg.location);
    for (const i of sub.userAssignedIdentities ?? []) state.addUserAssignedIdentity({ ...i, subscriptionId });
    for (const a of sub.storageAccounts ?? []) state.addStorageAccount({ ...a, subscriptionId });
    for (const v of sub.vaults ?? []) state.addVault({ ...v, subscriptionId });
    for (const r of sub.roleAssignments ?? []) state.addRoleAssignment({ ...r, effectiveImmediately: true });
  }
  return state;
}

/**
 * Brings a saved state to {@link STATE_VERSION}: a version 1 file predates blob data roles, so
 * the seed's role assignments it lacks are added (effective at once, as seeded ones are).
 */
export function upgradeState(state: LocalAzureState, seed: Seed): void {
  if ((state.data.version ?? 1) >= STATE_VERSION) return;
  const existing = Object.values(state.data.roleAssignments);
  for (const sub of seed.subscriptions)
    for (const r of sub.roleAssignments ?? []) {
      const held = existing.some(
        (a) =>
          a.scope.toLowerCase() === r.scope.toLowerCase() &&
          a.principalId.toLowerCase() === r.principalId.toLowerCase() &&
          roleGuid(a.roleDefinitionId) === roleGuid(r.roleDefinitionId),
      );
      if (!held && state.data.subscriptions[sub.subscriptionId.toLowerCase()])
        state.addRoleAssignment({ ...r, effectiveImmediately: true });
    }
  state.data.version = STATE_VERSION;
  state.changed();
}
