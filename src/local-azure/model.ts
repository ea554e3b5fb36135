/**
 * The local Azure's resources as plain JSON (so the whole state can be saved to a file and
 * loaded again). Records are keyed by lower-cased resource id or name, as Azure compares them.
 */

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
  resourceGroups: Record<string, { name: string; location: string }>;
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
  kind: 'vaultCreate' | 'vaultPurge';
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

/** What a built-in role allows on the data planes the local Azure serves. */
export interface BuiltInRole {
  name: string;
  /** Key Vault key operations (access-policy names, lower case), or all of them. */
  keyOps: readonly string[] | 'all';
  /** Blob data actions: read (get, list) or readWrite (also put, set metadata, delete). */
  blobData?: 'read' | 'readWrite';
}

/**
 * Built-in role definition ids the local Azure knows (learn.microsoft.com, role-based-access-control
 * built-in-roles) and what each allows on the data plane. ARM's Owner/Contributor/Reader grant no
 * data access by token: Key Vault and blob data need their own roles.
 */
export const BUILT_IN_ROLES: Record<string, BuiltInRole> = {
  '00482a5a-887f-4fb3-b363-3b7fe8e74483': { name: 'Key Vault Administrator', keyOps: 'all' },
  '14b46e9e-c2b7-41b4-b07b-48a6ebf60603': { name: 'Key Vault Crypto Officer', keyOps: 'all' },
  'e147488a-f6f5-4113-8e2d-b22465e65bf6': {
    name: 'Key Vault Crypto Service Encryption User',
    keyOps: ['get', 'wrapkey', 'unwrapkey'],
  },
  '12338af0-0e69-4776-bea7-57ae8d297424': {
    name: 'Key Vault Crypto User',
    keyOps: ['get', 'list', 'update', 'wrapkey', 'unwrapkey', 'encrypt', 'decrypt', 'sign', 'verify'],
  },
  'acdd72a7-3385-48ef-bd42-f606fba81ae7': { name: 'Reader', keyOps: [] },
  'b24988ac-6180-42a0-ab88-20f7382dd24c': { name: 'Contributor', keyOps: [] },
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': { name: 'Owner', keyOps: [] },
  '21090545-7ca7-4776-b22c-e363652d74d2': { name: 'Key Vault Reader', keyOps: [] },
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': {
    name: 'Storage Blob Data Owner',
    keyOps: [],
    blobData: 'readWrite',
  },
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe': {
    name: 'Storage Blob Data Contributor',
    keyOps: [],
    blobData: 'readWrite',
  },
  '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1': { name: 'Storage Blob Data Reader', keyOps: [], blobData: 'read' },
};

/** The role definition guid of a full id (`/subscriptions/…/roleDefinitions/<guid>`) or bare guid. */
export function roleGuid(roleDefinitionId: string): string {
  return (roleDefinitionId.split('/').pop() ?? '').toLowerCase();
}
