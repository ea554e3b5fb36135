/**
 * Role definitions as Azure RBAC publishes them (built-in ones with their actions and data
 * actions, custom ones added through ARM), and which scopes a role assignment covers. Key Vault
 * and Blob data decide a data-plane call from the data actions of the caller's roles, never
 * from role names.
 *
 * Sources: learn.microsoft.com/azure/role-based-access-control/built-in-roles (general,
 * security and storage pages) for the definitions; /azure/key-vault/general/rbac-guide ("Azure
 * RBAC vs access policies" mapping) for which data action each key permission needs;
 * /azure/role-based-access-control/role-definitions ("Actions"/"DataActions" wildcards and
 * NotDataActions); /azure/governance/management-groups/overview (every subscription sits
 * under the tenant root group, whose id is the tenant id, and inherits its assignments).
 */
import type { KeyPermission } from './access';
import type { StateData } from './model';

/** A role definition's permissions, as `roleDefinitions` returns them. */
export interface RolePermissions {
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

/** A role definition the emulator knows: built-in, or custom (created through ARM or a test). */
export interface RoleDefinitionRecord {
  /** The definition's guid. */
  name: string;
  roleName: string;
  type: 'BuiltInRole' | 'CustomRole';
  description: string;
  assignableScopes: string[];
  permissions: RolePermissions[];
}

const builtIn = (
  name: string,
  roleName: string,
  description: string,
  p: Partial<RolePermissions>,
): RoleDefinitionRecord => ({
  name,
  roleName,
  type: 'BuiltInRole',
  description,
  assignableScopes: ['/'],
  permissions: [
    {
      actions: p.actions ?? [],
      notActions: p.notActions ?? [],
      dataActions: p.dataActions ?? [],
      notDataActions: p.notDataActions ?? [],
    },
  ],
});

const KV_READS = [
  'Microsoft.Authorization/*/read',
  'Microsoft.Insights/alertRules/*',
  'Microsoft.Resources/deployments/*',
  'Microsoft.Resources/subscriptions/resourceGroups/read',
  'Microsoft.Support/*',
  'Microsoft.KeyVault/checkNameAvailability/read',
  'Microsoft.KeyVault/deletedVaults/read',
  'Microsoft.KeyVault/locations/*/read',
  'Microsoft.KeyVault/vaults/*/read',
  'Microsoft.KeyVault/operations/read',
];

const BLOB_SERVICES = 'Microsoft.Storage/storageAccounts/blobServices';
/** The prefix of every blob data action (`…/read`, `…/write`, `…/delete`, `…/add/action`, …). */
export const BLOBS = `${BLOB_SERVICES}/containers/blobs`;

/**
 * The built-in roles the emulator serves, by guid: the Key Vault ones, the Storage Blob Data
 * ones and the general ones. Owner, Contributor and Reader carry no data actions, so they grant
 * nothing on Key Vault or Blob data by token, as Azure documents.
 */
export const BUILT_IN_ROLES: Record<string, RoleDefinitionRecord> = Object.fromEntries(
  [
    builtIn(
      '00482a5a-887f-4fb3-b363-3b7fe8e74483',
      'Key Vault Administrator',
      'Perform all data plane operations on a key vault and all objects in it.',
      { actions: KV_READS, dataActions: ['Microsoft.KeyVault/vaults/*'] },
    ),
    builtIn(
      '14b46e9e-c2b7-41b4-b07b-48a6ebf60603',
      'Key Vault Crypto Officer',
      'Perform any action on the keys of a key vault, except manage permissions.',
      {
        actions: KV_READS,
        dataActions: ['Microsoft.KeyVault/vaults/keys/*', 'Microsoft.KeyVault/vaults/keyrotationpolicies/*'],
      },
    ),
    builtIn(
      'e147488a-f6f5-4113-8e2d-b22465e65bf6',
      'Key Vault Crypto Service Encryption User',
      'Read metadata of keys and perform wrap/unwrap operations.',
      {
        actions: [
          'Microsoft.EventGrid/eventSubscriptions/write',
          'Microsoft.EventGrid/eventSubscriptions/read',
          'Microsoft.EventGrid/eventSubscriptions/delete',
        ],
        dataActions: [
          'Microsoft.KeyVault/vaults/keys/read',
          'Microsoft.KeyVault/vaults/keys/wrap/action',
          'Microsoft.KeyVault/vaults/keys/unwrap/action',
        ],
      },
    ),
    builtIn(
      '12338af0-0e69-4776-bea7-57ae8d297424',
      'Key Vault Crypto User',
      'Perform cryptographic operations using keys.',
      {
        dataActions: [
          'Microsoft.KeyVault/vaults/keys/read',
          'Microsoft.KeyVault/vaults/keys/update/action',
          'Microsoft.KeyVault/vaults/keys/backup/action',
          'Microsoft.KeyVault/vaults/keys/encrypt/action',
          'Microsoft.KeyVault/vaults/keys/decrypt/action',
          'Microsoft.KeyVault/vaults/keys/wrap/action',
          'Microsoft.KeyVault/vaults/keys/unwrap/action',
          'Microsoft.KeyVault/vaults/keys/sign/action',
          'Microsoft.KeyVault/vaults/keys/verify/action',
        ],
      },
    ),
    builtIn('21090545-7ca7-4776-b22c-e363652d74d2', 'Key Vault Reader', 'Read metadata of key vaults.', {
      actions: KV_READS,
      dataActions: [
        'Microsoft.KeyVault/vaults/*/read',
        'Microsoft.KeyVault/vaults/secrets/readMetadata/action',
      ],
    }),
    builtIn(
      'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
      'Storage Blob Data Owner',
      'Allows for full access to Azure Storage blob containers and data, including assigning POSIX access control.',
      {
        actions: [`${BLOB_SERVICES}/containers/*`, `${BLOB_SERVICES}/generateUserDelegationKey/action`],
        dataActions: [`${BLOBS}/*`],
      },
    ),
    builtIn(
      'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
      'Storage Blob Data Contributor',
      'Allows for read, write and delete access to Azure Storage blob containers and data',
      {
        actions: [
          `${BLOB_SERVICES}/containers/delete`,
          `${BLOB_SERVICES}/containers/read`,
          `${BLOB_SERVICES}/containers/write`,
          `${BLOB_SERVICES}/generateUserDelegationKey/action`,
        ],
        dataActions: [
          `${BLOBS}/delete`,
          `${BLOBS}/read`,
          `${BLOBS}/write`,
          `${BLOBS}/move/action`,
          `${BLOBS}/add/action`,
        ],
      },
    ),
    builtIn(
      '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
      'Storage Blob Data Reader',
      'Allows for read access to Azure Storage blob containers and data',
      {
        actions: [`${BLOB_SERVICES}/containers/read`, `${BLOB_SERVICES}/generateUserDelegationKey/action`],
        dataActions: [`${BLOBS}/read`],
      },
    ),
    builtIn('acdd72a7-3385-48ef-bd42-f606fba81ae7', 'Reader', 'View all resources.', {
      actions: ['*/read'],
    }),
    builtIn('b24988ac-6180-42a0-ab88-20f7382dd24c', 'Contributor', 'Manage everything but access.', {
      actions: ['*'],
      notActions: [
        'Microsoft.Authorization/*/Delete',
        'Microsoft.Authorization/*/Write',
        'Microsoft.Authorization/elevateAccess/Action',
      ],
    }),
    builtIn('8e3af657-a8ff-443c-a75c-2fe8c4bcb635', 'Owner', 'Manage everything, including access.', {
      actions: ['*'],
    }),
  ].map((r) => [r.name, r]),
);

/** The data action Key Vault checks for each key permission (RBAC guide's mapping table). */
export const KEY_PERMISSION_DATA_ACTIONS: Record<KeyPermission, string> = {
  get: 'Microsoft.KeyVault/vaults/keys/read',
  list: 'Microsoft.KeyVault/vaults/keys/read',
  create: 'Microsoft.KeyVault/vaults/keys/create/action',
  update: 'Microsoft.KeyVault/vaults/keys/update/action',
  delete: 'Microsoft.KeyVault/vaults/keys/delete',
  recover: 'Microsoft.KeyVault/vaults/keys/recover/action',
  purge: 'Microsoft.KeyVault/vaults/keys/purge/action',
  rotate: 'Microsoft.KeyVault/vaults/keys/rotate/action',
  getrotationpolicy: 'Microsoft.KeyVault/vaults/keyrotationpolicies/read',
  setrotationpolicy: 'Microsoft.KeyVault/vaults/keyrotationpolicies/write',
  wrapkey: 'Microsoft.KeyVault/vaults/keys/wrap/action',
  unwrapkey: 'Microsoft.KeyVault/vaults/keys/unwrap/action',
};

/** The role definition guid of a full id (`…/roleDefinitions/<guid>`) or a bare guid. */
export function roleGuid(roleDefinitionId: string): string {
  return (roleDefinitionId.split('/').pop() ?? '').toLowerCase();
}

/** A built-in or custom role definition by id or guid, if it exists. */
export function roleDefinitionOf(
  data: StateData,
  roleDefinitionId: string,
): RoleDefinitionRecord | undefined {
  const guid = roleGuid(roleDefinitionId);
  return BUILT_IN_ROLES[guid] ?? data.roleDefinitions?.[guid];
}

const patterns = new Map<string, RegExp>();

/** An action pattern with `*` wildcards against one action, case-insensitive, as RBAC matches them. */
function matches(pattern: string, action: string): boolean {
  let re = patterns.get(pattern);
  if (!re) {
    const source = pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
      .join('.*');
    re = new RegExp(`^${source}$`, 'i');
    patterns.set(pattern, re);
  }
  return re.test(action);
}

/** True when one of the role's permission blocks allows the data action and does not exclude it. */
export function allowsDataAction(role: RoleDefinitionRecord, action: string): boolean {
  return role.permissions.some(
    (p) => p.dataActions.some((d) => matches(d, action)) && !p.notDataActions.some((d) => matches(d, action)),
  );
}

const MANAGEMENT_GROUP_SCOPE = /^\/providers\/microsoft\.management\/managementgroups\/([^/]+)$/i;

/** The management groups above a subscription, nearest first; the tenant root group at least. */
export function managementGroupsOf(data: StateData, subscriptionId: string): string[] {
  const sub = data.subscriptions[subscriptionId.toLowerCase()];
  return [...(sub?.managementGroups ?? []), data.tenantId].map((g) => g.toLowerCase());
}

/** True when an assignment at `scope` applies to `resourceId` (the scope itself, below it, or an ancestor group). */
export function scopeCovers(data: StateData, scope: string, resourceId: string): boolean {
  const r = resourceId.toLowerCase();
  const s = scope.toLowerCase().replace(/\/+$/, '');
  if (r === s || r.startsWith(`${s}/`)) return true;
  const group = MANAGEMENT_GROUP_SCOPE.exec(s)?.[1];
  const sub = /^\/subscriptions\/([^/]+)/i.exec(r)?.[1];
  return !!group && !!sub && managementGroupsOf(data, sub).includes(group);
}

/** ARM JSON of a role definition. */
export function roleDefinitionView(role: RoleDefinitionRecord, id: string): Record<string, unknown> {
  return {
    id,
    name: role.name,
    type: 'Microsoft.Authorization/roleDefinitions',
    properties: {
      roleName: role.roleName,
      type: role.type,
      description: role.description,
      assignableScopes: role.assignableScopes,
      permissions: role.permissions,
    },
  };
}
