/**
 * The local Azure's state: loaded from the seed (or a state file), saved on change, read by
 * tests as the same JSON ARM and Key Vault return, and advanced by the emulated clock.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { accountKeyProblem, hasKeyPermission } from './access';
import { runDailyKeyChecks, updateKeyReachability } from './schedule';
import {
  stableGuid,
  type RoleAssignmentInput,
  type StateTiming,
  type StorageAccountInput,
  type VaultInput,
} from './inputs';
import { type EmulatedClock } from './clock';
import {
  identityResourceId,
  storageAccountId,
  type AccessPolicy,
  type Principal,
  type RoleAssignment,
  type StateData,
  type StorageAccount,
  type UserAssignedIdentity,
  type Vault,
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
      )
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

  /** Adds a storage account with Microsoft-managed keys and no identity. */
  addStorageAccount(input: StorageAccountInput): Record<string, unknown> {
    this.addResourceGroup(input.subscriptionId, input.resourceGroup, input.location);
    const a: StorageAccount = {
      subscriptionId: input.subscriptionId,
      resourceGroup: input.resourceGroup,
      name: input.name,
      location: input.location ?? 'eastus',
      sku: input.sku ?? 'Standard_LRS',
      kind: input.kind ?? 'StorageV2',
      tags: input.tags ?? {},
      createdAt: this.clock.now().toISOString(),
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
    this.addResourceGroup(input.subscriptionId, input.resourceGroup, input.location);
    const v: Vault = {
      subscriptionId: input.subscriptionId,
      resourceGroup: input.resourceGroup,
      name: input.name,
      location: input.location ?? 'eastus',
      tags: input.tags ?? {},
      createdAt: this.clock.now().toISOString(),
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

  /** Adds a role assignment; the role id is stored in ARM's full form. */
  addRoleAssignment(input: RoleAssignmentInput): Record<string, unknown> {
    const sub = /^\/subscriptions\/([^/]+)/i.exec(input.scope)?.[1] ?? '';
    const full = input.roleDefinitionId.includes('/')
      ? input.roleDefinitionId
      : `/subscriptions/${sub}/providers/Microsoft.Authorization/roleDefinitions/${input.roleDefinitionId}`;
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
    this.changed();
    return roleAssignmentView(a);
  }

  /** Marks the state changed: recomputes key reachability and schedules a save of the state file. */
  changed(): void {
    this.updateKeyReachability(this.clock.nowMs());
    if (!this.stateFile || this.saveScheduled) return;
    this.saveScheduled = true;
    setImmediate(() => this.flush());
  }

  /** Writes the state file now (when one is configured). */
  flush(): void {
    this.saveScheduled = false;
    if (!this.stateFile) return;
    mkdirSync(path.dirname(this.stateFile), { recursive: true });
    writeFileSync(this.stateFile, JSON.stringify(this.data));
  }

  /** When the blob data plane starts refusing an account (undefined while it can reach its key). */
  blobRefusal(account: StorageAccount): { code: string } | undefined {
    const now = this.clock.nowMs();
    this.updateKeyReachability(now);
    const lost = account.encryption.keyLostAtMs;
    if (lost === undefined || now - lost < this.timing.revocationPropagationMs) return undefined;
    return {
      code:
        accountKeyProblem(this.data, account, now, this.timing.roleAssignmentPropagationMs) ??
        'KeyVaultEncryptionKeyNotFound',
    };
  }

  private updateKeyReachability(now: number): void {
    updateKeyReachability(this.data, now, this.timing.roleAssignmentPropagationMs);
  }

  private tick(now: number): void {
    if (runDailyKeyChecks(this.data, now, this.timing.roleAssignmentPropagationMs)) this.changed();
    else this.updateKeyReachability(now);
  }
}
