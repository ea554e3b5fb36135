/**
 * The local Azure's resources as plain JSON (so the whole state can be saved to a file and
 * loaded again). Records are keyed by lower-cased resource id or name, as Azure compares them.
 */
import type { RoleDefinitionRecord } from './roles';

/** An Entra principal: the runbook's service principal, a managed identity, or a user. */
export interface Principal {
  objectId: string;
  kind: 'ServicePrincipal' | 'ManagedIdentity' | 'User';
  displayName: string;
  appId?: string;
  /** Only service principals that sign in with client credentials have one. */
  clientSecret?: string;
}

/** A subscription and its resource groups. */
export interface Subscription {
  subscriptionId: string;
  displayName: string;
  resourceGroups: Record<string, ResourceGroup>;
  /** Management groups above the subscription, nearest first, below the tenant root group. */
  managementGroups?: string[];
}

/** A resource group; `deleting` while a delete runs (its resources go when the operation completes). */
export interface ResourceGroup {
  name: string;
  location: string;
  tags?: Record<string, string>;
  deleting?: boolean;
}

/** `encryption.keyvaultproperties` of a storage account plus the read-only fields Azure keeps. */
export interface AccountEncryption {
  keySource: 'Microsoft.Storage' | 'Microsoft.Keyvault';
  keyName?: string;
  /** "" means versionless: the account follows the newest key version at its daily check. */
  keyVersion?: string;
  keyVaultUri?: string;
  currentVersionedKeyIdentifier?: string;
  lastKeyRotationTimestamp?: string;
  currentVersionedKeyExpirationTimestamp?: string;
  userAssignedIdentity?: string;
  federatedIdentityClientId?: string;
  /** Emulated-clock ms of the next daily versionless check. */
  nextCheckAtMs?: number;
  /** Emulated-clock ms when the account lost its key (undefined while it can unwrap). */
  keyLostAtMs?: number;
}

/**
 * A data plane's network rules (Key Vault `networkAcls`, Storage `networkAcls`): requests from
 * outside the IP rules are refused when the default action is Deny, unless they come from a
 * trusted Azure service and `bypass` names AzureServices.
 */
export interface NetworkRules {
  defaultAction: 'Allow' | 'Deny';
  /** `AzureServices`, `None`, or for Storage a comma list of AzureServices, Logging, Metrics. */
  bypass: string;
  /** IPv4 addresses or CIDR ranges. */
  ipRules: string[];
  /** Subnet resource ids; stored and returned, never matched (no caller is in a virtual network). */
  virtualNetworkRules: string[];
}

/** A blob: its content (base64, the canary is a few bytes), properties and metadata. */
export interface BlobRecord {
  content: string;
  contentType: string;
  metadata: Record<string, string>;
  etag: string;
  lastModified: string;
  created: string;
}

/** A blob container and its blobs by name. */
export interface BlobContainer {
  name: string;
  created: string;
  etag: string;
  blobs: Record<string, BlobRecord>;
}

/** A storage account, with the creation-only settings that cannot change on update. */
export interface StorageAccount {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  sku: string;
  kind: string;
  tags: Record<string, string>;
  createdAt: string;
  requireInfrastructureEncryption: boolean;
  queueKeyType: 'Account' | 'Service';
  tableKeyType: 'Account' | 'Service';
  identity: { type: string; principalId?: string; userAssignedIdentities: string[] };
  encryption: AccountEncryption;
  /** The storage firewall; absent means Azure's default (Allow, bypass AzureServices). */
  networkAcls?: NetworkRules;
  /** `Enabled` (default), `Disabled` or `SecuredByPerimeter`. */
  publicNetworkAccess?: string;
  /** Simple account settings stored and returned as given (TLS version, public blob access, …). */
  settings?: Record<string, string | boolean>;
  /** Blob containers by name (the blob data plane). */
  containers?: Record<string, BlobContainer>;
  /** Encryption scopes by lowercase name (encryption-scope-manage). */
  encryptionScopes?: Record<string, EncryptionScope>;
}

/** An encryption scope of an account: its own key source, Microsoft-managed or a Key Vault key. */
export interface EncryptionScope {
  name: string;
  source: 'Microsoft.Storage' | 'Microsoft.KeyVault';
  state: 'Enabled' | 'Disabled';
  /** As given: versionless (`…/keys/<name>`) or versioned. */
  keyUri?: string;
  currentVersionedKeyIdentifier?: string;
  lastKeyRotationTimestamp?: string;
  requireInfrastructureEncryption: boolean;
  creationTime: string;
  lastModifiedTime: string;
}

/** One access-policy entry of an access-policy-mode vault. */
export interface AccessPolicy {
  tenantId: string;
  objectId: string;
  applicationId?: string;
  permissions: { keys?: string[]; secrets?: string[]; certificates?: string[]; storage?: string[] };
}

/** One version of a key, with its real RSA private key (PEM) for wrap/unwrap. */
export interface KeyVersion {
  version: string;
  kty: 'RSA' | 'RSA-HSM';
  keySize: number;
  keyOps: string[];
  enabled: boolean;
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
  tags: Record<string, string>;
  n: string;
  e: string;
  privateKeyPem: string;
}

/** A lifetime action of a rotation policy, as the data plane returns it. */
export interface LifetimeAction {
  trigger: { timeAfterCreate?: string; timeBeforeExpiry?: string };
  action: { type: string };
}

/** A key: its versions in creation order (the last is the current one) and rotation policy. */
export interface KeyRecord {
  name: string;
  versions: KeyVersion[];
  rotationPolicy?: {
    lifetimeActions: LifetimeAction[];
    expiryTime?: string;
    created: number;
    updated: number;
  };
}

/** A soft-deleted key, recoverable until its scheduled purge date. */
export interface DeletedKey {
  key: KeyRecord;
  deletedDate: number;
  scheduledPurgeDate: number;
}

/** A key vault (ARM resource and data-plane contents). */
export interface Vault {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  createdAt: string;
  createdBy?: string;
  properties: {
    tenantId: string;
    sku: { family: string; name: string };
    accessPolicies: AccessPolicy[];
    enabledForDeployment: boolean;
    enabledForDiskEncryption: boolean;
    enabledForTemplateDeployment: boolean;
    enableSoftDelete: boolean;
    softDeleteRetentionInDays: number;
    enableRbacAuthorization: boolean;
    enablePurgeProtection?: boolean;
    publicNetworkAccess: string;
    networkAcls?: unknown;
    provisioningState: 'Succeeded' | 'RegisteringDns';
  };
  keys: Record<string, KeyRecord>;
  deletedKeys: Record<string, DeletedKey>;
}

/** A soft-deleted vault; its name stays taken until it is purged or recovered. */
export interface DeletedVault {
  vault: Vault;
  deletionDate: string;
  scheduledPurgeDate: string;
}

/** A user-assigned managed identity. */
export interface UserAssignedIdentity {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location: string;
  tags: Record<string, string>;
  principalId: string;
  clientId: string;
}

/** An RBAC role assignment; effective only after the propagation delay. */
export interface RoleAssignment {
  name: string;
  scope: string;
  roleDefinitionId: string;
  principalId: string;
  principalType: string;
  createdAtMs: number;
  createdOn: string;
  createdBy?: string;
  /** Emulated-clock ms when it was deleted; it keeps granting until the propagation delay passed. */
  removedAtMs?: number;
}

/** A long-running ARM operation the client polls. */
export interface AsyncOperation {
  id: string;
  kind: 'vaultCreate' | 'vaultPurge' | 'storageCreate' | 'resourceGroupDelete';
  target: string;
  polls: number;
  status: 'InProgress' | 'Succeeded';
  startTime: string;
}

/** Everything the local Azure holds. */
export interface StateData {
  /** The state format; 2 added blob data roles to the seed (a version 1 file gets them on load). */
  version?: number;
  tenantId: string;
  principals: Record<string, Principal>;
  subscriptions: Record<string, Subscription>;
  storageAccounts: Record<string, StorageAccount>;
  vaults: Record<string, Vault>;
  deletedVaults: Record<string, DeletedVault>;
  identities: Record<string, UserAssignedIdentity>;
  roleAssignments: Record<string, RoleAssignment>;
  /** Deleted assignments still within their propagation delay (not visible through ARM). */
  removedRoleAssignments?: Record<string, RoleAssignment>;
  /** Custom role definitions by guid (built-in ones are in `roles.ts`); absent in older state files. */
  roleDefinitions?: Record<string, RoleDefinitionRecord>;
  operations: Record<string, AsyncOperation>;
}

/** The ARM id of a storage account. */
export function storageAccountId(a: { subscriptionId: string; resourceGroup: string; name: string }): string {
  return `/subscriptions/${a.subscriptionId}/resourceGroups/${a.resourceGroup}/providers/Microsoft.Storage/storageAccounts/${a.name}`;
}

/** The ARM id of a vault. */
export function vaultResourceId(v: { subscriptionId: string; resourceGroup: string; name: string }): string {
  return `/subscriptions/${v.subscriptionId}/resourceGroups/${v.resourceGroup}/providers/Microsoft.KeyVault/vaults/${v.name}`;
}

/** The ARM id of a user-assigned identity. */
export function identityResourceId(i: {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}): string {
  return `/subscriptions/${i.subscriptionId}/resourceGroups/${i.resourceGroup}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/${i.name}`;
}
