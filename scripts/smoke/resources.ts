/**
 * The throwaway resources of a smoke run, made with the real SDK clients and removed by deleting
 * their resource group: two storage accounts, a user-assigned identity, an access-policy vault
 * (the runbook creates the RBAC one itself), and the caller's blob data role on the group, which
 * the runbook's canary probe needs. Every name carries the run's stamp; the group is tagged.
 */
import { randomBytes } from 'node:crypto';
import type { AzureClients } from '../../src/activities';
import { RUNBOOK_KEY_PERMISSIONS } from '../../src/activities/deps';
import type { AccountRef } from '../../src/shared/accounts';
import type { ResourceGroupsClient } from './resource-groups';

/** Storage Blob Data Contributor: the canary is written (and read) with it (built-in roles, storage). */
const BLOB_DATA_CONTRIBUTOR = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe';
/** The shortest soft-delete retention Key Vault allows, so the vault's name is released soonest. */
export const VAULT_RETENTION_DAYS = 7;

/** Names of one run's resources. */
export interface SmokeNames {
  stamp: string;
  resourceGroup: string;
  /** Lane A: system-assigned identity, RBAC vault the runbook creates. */
  accountA: string;
  rbacVault: string;
  /** Lane B: user-assigned identity, access-policy vault the smoke creates. */
  accountB: string;
  accessPolicyVault: string;
  identity: string;
}

/** Unique names: prefix, UTC time to the second, and random hex (a leftover says when it was made). */
export function smokeNames(now = new Date(), random = randomBytes(2).toString('hex')): SmokeNames {
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(2, 14);
  const tail = `${stamp}${random}`;
  return {
    stamp,
    resourceGroup: `rg-cmk-smoke-${tail}`,
    accountA: `stsmk${tail}a`,
    accountB: `stsmk${tail}b`,
    rbacVault: `kv-smk${tail}r`,
    accessPolicyVault: `kv-smk${tail}p`,
    identity: `id-cmk-smoke-${tail}`,
  };
}

/** The tags on the group (and its resources), so a leftover is recognisable and dated. */
export function smokeTags(names: SmokeNames, now = new Date()): Record<string, string> {
  return {
    purpose: 'cmk-runbook-smoke',
    createdAt: now.toISOString(),
    deleteAfter: new Date(now.getTime() + 86_400_000).toISOString(),
    run: names.stamp,
  };
}

/** What setup made. */
export interface SmokeResources {
  accountA: AccountRef;
  accountB: AccountRef;
  identityId: string;
}

/** Where and as whom to make them. */
export interface SetupContext {
  azure: AzureClients;
  groups: ResourceGroupsClient;
  subscriptionId: string;
  location: string;
  tenantId: string;
  callerObjectId: string;
  names: SmokeNames;
  tags: Record<string, string>;
  /** Poll interval of the SDK's long-running operations. */
  pollMs: number;
}

/** Creates the group, then the accounts, identity, vault and role inside it. */
export async function createResourceGroup(c: SetupContext): Promise<void> {
  await c.groups.createOrUpdate(c.names.resourceGroup, { location: c.location, tags: c.tags });
}

/** Both storage accounts, on Microsoft-managed keys. */
export async function createAccounts(
  c: SetupContext,
): Promise<Pick<SmokeResources, 'accountA' | 'accountB'>> {
  const storage = c.azure.storage(c.subscriptionId);
  const ref = (name: string): AccountRef => ({
    subscriptionId: c.subscriptionId,
    resourceGroup: c.names.resourceGroup,
    name,
  });
  await Promise.all(
    [c.names.accountA, c.names.accountB].map((name) =>
      storage.storageAccounts.beginCreateAndWait(
        c.names.resourceGroup,
        name,
        {
          location: c.location,
          sku: { name: 'Standard_LRS' },
          kind: 'StorageV2',
          tags: c.tags,
          minimumTlsVersion: 'TLS1_2',
          allowBlobPublicAccess: false,
        },
        { updateIntervalInMs: c.pollMs },
      ),
    ),
  );
  return { accountA: ref(c.names.accountA), accountB: ref(c.names.accountB) };
}

/** The user-assigned identity of lane B and its access-policy vault (purge-protected, as CMK requires). */
export async function createIdentityAndVault(c: SetupContext): Promise<string> {
  const identity = await c.azure
    .msi(c.subscriptionId)
    .userAssignedIdentities.createOrUpdate(c.names.resourceGroup, c.names.identity, {
      location: c.location,
      tags: c.tags,
    });
  await c.azure.keyVault(c.subscriptionId).vaults.beginCreateOrUpdateAndWait(
    c.names.resourceGroup,
    c.names.accessPolicyVault,
    {
      location: c.location,
      tags: c.tags,
      properties: {
        tenantId: c.tenantId,
        sku: { family: 'A', name: 'standard' },
        enableRbacAuthorization: false,
        enableSoftDelete: true,
        softDeleteRetentionInDays: VAULT_RETENTION_DAYS,
        enablePurgeProtection: true,
        accessPolicies: [
          {
            tenantId: c.tenantId,
            objectId: c.callerObjectId,
            permissions: { keys: [...RUNBOOK_KEY_PERMISSIONS] },
          },
        ],
      },
    },
    { updateIntervalInMs: c.pollMs },
  );
  return identity.id ?? '';
}

/** The caller's Storage Blob Data Contributor on the group (deleted with it). */
export async function grantBlobDataRole(c: SetupContext): Promise<void> {
  const scope = `/subscriptions/${c.subscriptionId}/resourceGroups/${c.names.resourceGroup}`;
  await c.azure.authorization(c.subscriptionId).roleAssignments.create(scope, crypto.randomUUID(), {
    roleDefinitionId: `/subscriptions/${c.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${BLOB_DATA_CONTRIBUTOR}`,
    principalId: c.callerObjectId,
  });
}
