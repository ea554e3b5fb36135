/**
 * The local Azure's state: loaded from the seed (or a state file), saved on change, read by
 * tests as the same JSON ARM and Key Vault return, and advanced by the emulated clock.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { accountKeyProblem, hasKeyPermission, indexAssignments, type AssignmentIndex } from './access';
import { runDailyKeyChecks, updateKeyReachability } from './schedule';
import {
  stableGuid,
  type RoleAssignmentInput,
  type StateTiming,
  type StorageAccountInput,
  type VaultInput,
} from './inputs';
import { type EmulatedClock } from './clock';
import { writeFileAtomic } from './files';
import type { RoleDefinitionRecord } from './roles';
import { identityResourceId, storageAccountId } from './model';
import type {
  AccessPolicy,
  Principal,
  RoleAssignment,
  StateData,
  StorageAccount,
  UserAssignedIdentity,
  Vault,
} from './model';
import {
  deletedVaultView,
  identityView,
  keyBundleView,
  roleAssignmentView,
  storageAccountView,
  vaultView,
} from './views';

/** Read access to the emulator for tests, plus helpers to add resources. */
export class LocalAzureState {
  private saveScheduled = false;
  private reachabilityDue = false;
  private assignments: AssignmentIndex | undefined;
  private propagatingUntilMs = Infinity;
  private scannedAtMs = -Infinity;
  private dailyCheckAtMs: number | undefined;
  private assignmentsRevision = 0;
  private indexedRevision = -1;

  constructor(
    /** The raw state; services mutate it and then call {@link changed}. */
    readonly data: StateData,
    private readonly clock: EmulatedClock,
    readonly timing: StateTiming,
    private readonly stateFile?: string,
  ) {
    clock.onTick((now) => this.tick(now.getTime()));
  }

  /** Storage account as ARM returns it, or undefined. */
  getStorageAccount(
    subscriptionId: string,
    resourceGroup: string,
    name: string,
  ): Record<string, unknown> | undefined {
    const a =
      this.data.storageAccounts[storageAccountId({ subscriptionId, resourceGroup, name }).toLowerCase()];
    return a && storageAccountView(this.data, a);
  }

  /** Vault as ARM returns it, or undefined when absent or soft-deleted. */
  getVault(subscriptionId: string, resourceGroup: string, name: string): Record<string, unknown> | undefined {
    const v = this.data.vaults[name.toLowerCase()];
    if (
      !v ||
      v.subscriptionId !== subscriptionId ||
      v.resourceGroup.toLowerCase() !== resourceGroup.toLowerCase()
    )
      return undefined;
    return vaultView(v);
  }

  /** Soft-deleted vaults as ARM returns them. */
  listDeletedVaults(): Array<Record<string, unknown>> {
    return Object.values(this.data.deletedVaults).map(deletedVaultView);
  }

  /** The current version of every key of a vault, as KeyBundles. */
  listKeys(vaultName: string): Array<Record<string, unknown>> {
    const v = this.data.vaults[vaultName.toLowerCase()];
    if (!v) return [];
    return Object.values(v.keys).flatMap((k) => {
      const current = k.versions[k.versions.length - 1];
      return current ? [keyBundleView(v, k, current)] : [];
    });
  }

  /** Every version of one key in creation order, as KeyBundles (with attributes.enabled). */
  listKeyVersions(vaultName: string, keyName: string): Array<Record<string, unknown>> {
    const v = this.data.vaults[vaultName.toLowerCase()];
    const k = v?.keys[keyName.toLowerCase()];
    return v && k ? k.versions.map((kv) => keyBundleView(v, k, kv)) : [];
  }

  /** Role assignments whose scope starts with `scopePrefix` (case-insensitive). */
  listRoleAssignments(scopePrefix = ''): Array<Record<string, unknown>> {
    const prefix = scopePrefix.toLowerCase();
    return Object.values(this.data.roleAssignments)
      .filter((a) => a.scope.toLowerCase().startsWith(prefix))
      .map(roleAssignmentView);
  }

  /** Access policies of a vault. */
  getAccessPolicies(vaultName: string): AccessPolicy[] {
    return structuredClone(this.data.vaults[vaultName.toLowerCase()]?.properties.accessPolicies ?? []);
  }

  /** A principal by object id (without its client secret). */
  getPrincipal(objectId: string): Omit<Principal, 'clientSecret'> | undefined {
    const p = this.data.principals[objectId.toLowerCase()];
    if (!p) return undefined;
    const { clientSecret: _secret, ...rest } = p;
    return rest;
  }

  /** A user-assigned identity as ARM returns it. */
  getUserAssignedIdentity(
    subscriptionId: string,
    resourceGroup: string,
    name: string,
  ): Record<string, unknown> | undefined {
    const i = this.data.identities[identityResourceId({ subscriptionId, resourceGroup, name }).toLowerCase()];
    return i && identityView(this.data, i);
  }

  /** True when the principal may use `permission` on the key now (access policy or effective RBAC). */
  canUseKey(
    vaultName: string,
    principalId: string,
    permission: 'get' | 'wrapkey' | 'unwrapkey',
    keyName?: string,
  ): boolean {
    const v = this.data.vaults[vaultName.toLowerCase()];
    return (
      !!v &&
      hasKeyPermission(
        this.data,
        v,
        principalId,
        permission,
        keyName,
        this.clock.nowMs(),
        this.timing.roleAssignmentPropagationMs,
        this.assignmentIndex(),
      )
    );
  }

  /** True when a CMK account's identity can reach and unwrap its key now (before revocation propagation). */
  storageCanReachKey(subscriptionId: string, resourceGroup: string, name: string): boolean {
    const a =
      this.data.storageAccounts[storageAccountId({ subscriptionId, resourceGroup, name }).toLowerCase()];
    if (!a) throw new Error(`unknown storage account ${name}`);
    return (
      accountKeyProblem(
        this.data,
        a,
        this.clock.nowMs(),
        this.timing.roleAssignmentPropagationMs,
        this.assignmentIndex(),
      ) === undefined
    );
  }

  /** Adds a resource group (no-op when it exists). */
  addResourceGroup(subscriptionId: string, name: string, location = 'eastus'): void {
    const sub = this.data.subscriptions[subscriptionId.toLowerCase()];
    if (!sub) throw new Error(`unknown subscription ${subscriptionId}`);
    sub.resourceGroups[name.toLowerCase()] ??= { name, location };
    this.changed();
  }

  /** Adds a principal (service principal with a client secret, user, or managed identity). */
  addPrincipal(p: Principal): void {
    this.data.principals[p.objectId.toLowerCase()] = { ...p };
    this.changed();
  }

  /** Where and when a new account or vault stands, its resource group made when missing. */
  private placed(
    input: Pick<StorageAccountInput, 'subscriptionId' | 'resourceGroup' | 'name' | 'location' | 'tags'>,
  ): Pick<StorageAccount, 'subscriptionId' | 'resourceGroup' | 'name' | 'location' | 'tags' | 'createdAt'> {
    this.addResourceGroup(input.subscriptionId, input.resourceGroup, input.location);
    return {
      subscriptionId: input.subscriptionId,
      resourceGroup: input.resourceGroup,
      name: input.name,
      location: input.location ?? 'eastus',
      tags: input.tags ?? {},
      createdAt: this.clock.now().toISOString(),
    };
  }

  /** Adds a storage account with Microsoft-managed keys and no identity. */
  addStorageAccount(input: StorageAccountInput): Record<string, unknown> {
    const a: StorageAccount = {
      ...this.placed(input),
      sku: input.sku ?? 'Standard_LRS',
      kind: input.kind ?? 'StorageV2',
      requireInfrastructureEncryption: input.requireInfrastructureEncryption ?? false,
      queueKeyType: input.queueKeyType ?? 'Service',
      tableKeyType: input.tableKeyType ?? 'Service',
      identity: { type: 'None', userAssignedIdentities: [] },
      encryption: { keySource: 'Microsoft.Storage' },
    };
    this.data.storageAccounts[storageAccountId(a).toLowerCase()] = a;
    this.changed();
    return storageAccountView(this.data, a);
  }

  /** Adds a vault (soft delete on, RBAC off unless asked) with no keys. */
  addVault(input: VaultInput): Record<string, unknown> {
    const v: Vault = {
      ...this.placed(input),
      properties: {
        tenantId: this.data.tenantId,
        sku: { family: 'A', name: input.sku ?? 'standard' },
        accessPolicies: (input.accessPolicies ?? []).map((p) => ({ tenantId: this.data.tenantId, ...p })),
        enabledForDeployment: false,
        enabledForDiskEncryption: false,
        enabledForTemplateDeployment: false,
        enableSoftDelete: input.enableSoftDelete ?? true,
        softDeleteRetentionInDays: input.softDeleteRetentionInDays ?? 90,
        enableRbacAuthorization: input.enableRbacAuthorization ?? false,
        ...(input.enablePurgeProtection ? { enablePurgeProtection: true } : {}),
        publicNetworkAccess: 'Enabled',
        provisioningState: 'Succeeded',
      },
      keys: {},
      deletedKeys: {},
    };
    this.data.vaults[v.name.toLowerCase()] = v;
    this.changed();
    return vaultView(v);
  }

  /** Adds a user-assigned identity and its managed-identity principal (ids stable per resource id). */
  addUserAssignedIdentity(input: {
    subscriptionId: string;
    resourceGroup: string;
    name: string;
    location?: string;
    principalId?: string;
    clientId?: string;
  }): Record<string, unknown> {
    this.addResourceGroup(input.subscriptionId, input.resourceGroup, input.location);
    const id = identityResourceId(input);
    const i: UserAssignedIdentity = {
      subscriptionId: input.subscriptionId,
      resourceGroup: input.resourceGroup,
      name: input.name,
      location: input.location ?? 'eastus',
      tags: {},
      principalId: input.principalId ?? stableGuid(`principal:${id.toLowerCase()}`),
      clientId: input.clientId ?? stableGuid(`client:${id.toLowerCase()}`),
    };
    this.data.identities[id.toLowerCase()] = i;
    this.data.principals[i.principalId] = {
      objectId: i.principalId,
      kind: 'ManagedIdentity',
      displayName: i.name,
      appId: i.clientId,
    };
    this.changed();
    return identityView(this.data, i);
  }

  /** Adds a custom role definition (a test's or one PUT through ARM); returns it. */
  addRoleDefinition(input: Omit<RoleDefinitionRecord, 'type'>): RoleDefinitionRecord {
    const role: RoleDefinitionRecord = { ...input, name: input.name.toLowerCase(), type: 'CustomRole' };
    (this.data.roleDefinitions ??= {})[role.name] = role;
    this.changed();
    return role;
  }

  /**
   * Adds a role assignment; the role id is stored in ARM's full form (subscription-level, or
   * tenant-level for assignments at a management group).
   */
  addRoleAssignment(input: RoleAssignmentInput): Record<string, unknown> {
    const sub = /^\/subscriptions\/([^/]+)/i.exec(input.scope)?.[1];
    const full = input.roleDefinitionId.includes('/')
      ? input.roleDefinitionId
      : `${sub ? `/subscriptions/${sub}` : ''}/providers/Microsoft.Authorization/roleDefinitions/${input.roleDefinitionId}`;
    const name = input.name ?? stableGuid(`${input.scope}|${full}|${input.principalId}`.toLowerCase());
    const now = this.clock.nowMs();
    const a: RoleAssignment = {
      name,
      scope: input.scope,
      roleDefinitionId: full,
      principalId: input.principalId,
      principalType:
        input.principalType ??
        this.data.principals[input.principalId.toLowerCase()]?.kind ??
        'ServicePrincipal',
      createdAtMs: input.effectiveImmediately ? 0 : now,
      createdOn: new Date(now).toISOString(),
      ...(input.createdBy ? { createdBy: input.createdBy } : {}),
    };
    this.data.roleAssignments[`${input.scope}/${name}`.toLowerCase()] = a;
    this.assignmentsRevision += 1;
    this.changed();
    return roleAssignmentView(a);
  }

  /**
   * Deletes a role assignment by its lower-cased `<scope>/<name>` key. ARM stops listing it at
   * once; the data planes honour it until the propagation delay has passed.
   */
  deleteRoleAssignment(key: string): void {
    const a = this.data.roleAssignments[key];
    if (!a) return;
    delete this.data.roleAssignments[key];
    this.data.removedRoleAssignments = {
      ...this.data.removedRoleAssignments,
      [`${key}@${this.clock.nowMs()}`]: { ...a, removedAtMs: this.clock.nowMs() },
    };
    this.assignmentsRevision += 1;
    this.changed();
  }

  /**
   * Marks the state changed: schedules a recomputation of key reachability and a save of the
   * state file, coalesced over 1 s (a large state is megabytes of JSON); `close` saves at once.
   */
  changed(): void {
    this.dailyCheckAtMs = undefined;
    if (!this.reachabilityDue) {
      this.reachabilityDue = true;
      // One scan of every account per second of changes, not one per change: a fleet of
      // thousands of accounts changing many times a second would otherwise be quadratic. A
      // probe judges its own account at once (see blobRefusal).
      setTimeout(() => this.refreshReachability(), 1_000).unref();
    }
    if (!this.stateFile || this.saveScheduled) return;
    this.saveScheduled = true;
    setTimeout(() => this.flush(), 1_000).unref();
  }

  /** Writes the state file now (when one is configured). */
  flush(): void {
    this.saveScheduled = false;
    if (!this.stateFile) return;
    mkdirSync(path.dirname(this.stateFile), { recursive: true });
    writeFileAtomic(this.stateFile, JSON.stringify(this.data));
  }

  /** When the blob data plane starts refusing an account (undefined while it can reach its key). */
  blobRefusal(account: StorageAccount): { code: string } | undefined {
    // This account is judged now; the periodic scan may not have noted its loss yet.
    const now = this.clock.nowMs();
    const problem = accountKeyProblem(
      this.data,
      account,
      now,
      this.timing.roleAssignmentPropagationMs,
      this.assignmentIndex(),
    );
    if (!problem) {
      delete account.encryption.keyLostAtMs;
      return undefined;
    }
    account.encryption.keyLostAtMs ??= now;
    if (now - account.encryption.keyLostAtMs < this.timing.revocationPropagationMs) return undefined;
    return { code: problem };
  }

  /** When the next daily versionless-key check is due; recomputed after a change. */
  private nextDailyCheckMs(): number {
    if (this.dailyCheckAtMs === undefined) {
      let next = Infinity;
      for (const a of Object.values(this.data.storageAccounts)) {
        const e = a.encryption;
        if (e.keySource === 'Microsoft.Keyvault' && e.keyVersion === '' && e.nextCheckAtMs !== undefined)
          next = Math.min(next, e.nextCheckAtMs);
      }
      this.dailyCheckAtMs = next;
    }
    return this.dailyCheckAtMs;
  }

  /** Role assignments by principal, rebuilt after a change; for permission checks. */
  assignmentIndex(): AssignmentIndex {
    if (!this.assignments || this.indexedRevision !== this.assignmentsRevision) {
      this.indexedRevision = this.assignmentsRevision;
      this.forgetPropagatedRemovals();
      this.assignments = indexAssignments(this.data);
      const delay = this.timing.roleAssignmentPropagationMs;
      this.propagatingUntilMs = Math.max(
        0,
        ...Object.values(this.data.roleAssignments).map((a) => a.createdAtMs + delay),
        ...Object.values(this.data.removedRoleAssignments ?? {}).map((a) => (a.removedAtMs ?? 0) + delay),
      );
    }
    return this.assignments;
  }

  /** Drops deleted assignments whose removal has taken effect everywhere. */
  private forgetPropagatedRemovals(): void {
    const removed = this.data.removedRoleAssignments;
    if (!removed) return;
    const now = this.clock.nowMs();
    for (const [key, a] of Object.entries(removed))
      if ((a.removedAtMs ?? 0) + this.timing.roleAssignmentPropagationMs <= now) delete removed[key];
  }

  /** Notes when each CMK account lost (or regained) its key; linear in accounts and assignments. */
  private refreshReachability(now = this.clock.nowMs()): void {
    this.reachabilityDue = false;
    updateKeyReachability(this.data, now, this.timing.roleAssignmentPropagationMs, this.assignmentIndex());
    this.scannedAtMs = now;
  }

  private tick(now: number): void {
    if (
      now >= this.nextDailyCheckMs() &&
      runDailyKeyChecks(this.data, now, this.timing.roleAssignmentPropagationMs, this.assignmentIndex())
    )
      this.changed();
    // Without a change, access only changes when a role assignment takes effect: scan while one
    // is propagating, and once after the last one has.
    else if (this.scannedAtMs <= this.propagatingUntilMs) this.refreshReachability(now);
  }
}
