/**
 * `ensureVault`: creates a vault with soft delete and purge protection (RBAC or access-policy
 * mode), or validates an existing one and turns purge protection on when the run may.
 */
import { activityInfo } from '@temporalio/activity';
import type { Vault } from '@azure/arm-keyvault';
import { validateAccountRef, vaultId, type VaultRef } from '../shared/accounts';
import type { VaultState } from '../shared/activities';
import { CMK_ERROR_TYPES } from '../shared/errors';
import { ValidationError, validateGuid, validateResourceGroupName, validateVaultName } from '../shared/names';
import type { AccountRef } from '../shared/accounts';
import type { VaultChoice } from '../shared/runbooks';
import { ensureRoleAssignment } from './access';
import { findVault, findVaultByName, forgetVaultListings, vaultStateOf } from './azure-state';
import { CRYPTO_OFFICER, RUNBOOK_KEY_PERMISSIONS, type ActivityDeps } from './deps';
import { domainFailure, isForbidden } from './errors';
import { abortSignal, call, retryWhile, withHeartbeat } from './runtime';

/** Tag on a vault naming the workflow run that created it (so a retry still reports `created`). */
const CREATED_BY_TAG = 'cmk-runbook-created-by';

/**
 * The vault a choice names. Without a resource group, an existing vault of that name is found
 * wherever the configured subscriptions hold it; a new one goes into the account's resource group.
 */
export async function resolveVaultRef(
  deps: ActivityDeps,
  account: AccountRef,
  choice: VaultChoice,
): Promise<VaultRef> {
  const ref = vaultRefFor(account, choice);
  if (choice.resourceGroup) return ref;
  const existing = await findVaultByName(deps, ref.name, ref.subscriptionId);
  return existing?.ref ?? ref;
}

/** The vault a choice names, defaulting to the account's subscription and resource group. */
export function vaultRefFor(account: AccountRef, choice: VaultChoice): VaultRef {
  return {
    subscriptionId: validateGuid(choice.subscriptionId ?? account.subscriptionId, 'vault.subscriptionId'),
    resourceGroup: validateResourceGroupName(
      choice.resourceGroup ?? account.resourceGroup,
      'vault.resourceGroup',
    ),
    name: validateVaultName(choice.name, 'vault.name'),
  };
}

/** What `ensureVault` is asked: the account, the vault it names, and where a new vault goes. */
export interface EnsureVaultInput {
  account: AccountRef;
  vault: VaultChoice;
  location: string;
  tenantId?: string;
}

/** A vault to create, as the input settled it. */
interface NewVault {
  ref: VaultRef;
  location: string;
  tenantId: string;
  sku: 'standard' | 'premium';
  rbac: boolean;
  /** The workflow run that creates it, tagged on the vault. */
  runId: string;
}

/** Creates or validates the vault; see the module comment. */
export async function ensureVault(deps: ActivityDeps, input: EnsureVaultInput): Promise<VaultState> {
  const account = validateAccountRef(input.account);
  const choice: Partial<VaultChoice> = input.vault ?? {};
  const ref = await resolveVaultRef(deps, account, choice as VaultChoice);
  if (typeof input.location !== 'string' || !/^[a-z0-9]{2,40}$/i.test(input.location)) {
    throw new ValidationError('location', 'an Azure region name like eastus', input.location);
  }
  const tenantId = validateGuid(input.tenantId ?? deps.tenantId, 'tenantId');
  const sku = choice.sku ?? 'standard';
  if (sku !== 'standard' && sku !== 'premium')
    throw new ValidationError('vault.sku', 'standard or premium', sku);
  const runId = activityInfo().workflowExecution?.runId ?? activityInfo().activityId;

  const existing = await findVault(deps, ref);
  if (existing) return validateExistingVault(deps, ref, existing, choice, runId);
  const rbac = choice.rbac !== false;
  return createVault(deps, { ref, location: input.location, tenantId, sku, rbac, runId });
}

/**
 * An existing vault: soft delete is required; purge protection is turned on when the choice
 * allows it (irreversible), else required. A vault this run created (a retry) still counts as created.
 */
async function validateExistingVault(
  deps: ActivityDeps,
  ref: VaultRef,
  existing: Vault,
  choice: Partial<VaultChoice>,
  runId: string,
): Promise<VaultState> {
  const createdByRun = existing.tags?.[CREATED_BY_TAG] === runId;
  const props = existing.properties;
  if (props?.enableSoftDelete === false) {
    throw domainFailure(
      CMK_ERROR_TYPES.SoftDeleteMissing,
      `Vault ${ref.name} has no soft delete. Fix: run \`az keyvault update --name ${ref.name} --enable-soft-delete true\` (then purge protection)`,
      { vault: ref.name },
    );
  }
  let purgeProtectionEnabled = false;
  if (props?.enablePurgeProtection !== true) {
    if (!choice.allowPurgeProtection) {
      throw domainFailure(
        CMK_ERROR_TYPES.PurgeProtectionMissing,
        `Vault ${ref.name} has no purge protection. Fix: allow the runbook to turn it on (irreversible) or run \`az keyvault update --name ${ref.name} --enable-purge-protection true\``,
        { vault: ref.name },
      );
    }
    await call({ what: `vault ${ref.name}` }, () =>
      deps.azure
        .keyVault(ref.subscriptionId)
        .vaults.update(
          ref.resourceGroup,
          ref.name,
          { properties: { enablePurgeProtection: true } },
          { abortSignal: abortSignal() },
        ),
    ).finally(() => forgetVaultListings(deps));
    purgeProtectionEnabled = true;
  }
  if (createdByRun && props?.enableRbacAuthorization) await grantRunbookOnRbacVault(deps, ref, existing);
  return vaultStateOf(ref, existing, { created: createdByRun, purgeProtectionEnabled });
}

/** Creates the vault with soft delete (90 days) and purge protection, tagged with the run, heartbeating while ARM works. */
async function createVault(deps: ActivityDeps, vault: NewVault): Promise<VaultState> {
  const { ref, tenantId, rbac } = vault;
  const runbook = await deps.runbookPrincipalId();
  const poller = deps.azure.keyVault(ref.subscriptionId).vaults.beginCreateOrUpdateAndWait(
    ref.resourceGroup,
    ref.name,
    {
      location: vault.location,
      tags: { [CREATED_BY_TAG]: vault.runId },
      properties: {
        tenantId,
        sku: { family: 'A', name: vault.sku },
        enableSoftDelete: true,
        softDeleteRetentionInDays: 90,
        enablePurgeProtection: true,
        enableRbacAuthorization: rbac,
        accessPolicies: rbac
          ? []
          : [{ tenantId, objectId: runbook, permissions: { keys: [...RUNBOOK_KEY_PERMISSIONS] } }],
      },
    },
    { updateIntervalInMs: deps.timing.lroPollMs, abortSignal: abortSignal() },
  );
  const created = await call({ what: `vault ${ref.name}` }, () =>
    withHeartbeat(poller, { step: 'vault', vault: ref.name }, deps.timing.heartbeatMs).finally(() =>
      forgetVaultListings(deps),
    ),
  );
  if (rbac) await grantRunbookOnRbacVault(deps, ref, created);
  return vaultStateOf(ref, created, { created: true, purgeProtectionEnabled: false });
}

/** Gives the runbook Key Vault Crypto Officer on a vault it created, and waits until Key Vault honours it. */
async function grantRunbookOnRbacVault(deps: ActivityDeps, ref: VaultRef, vault: Vault): Promise<void> {
  const runbook = await deps.runbookPrincipalId();
  await ensureRoleAssignment(deps, ref.subscriptionId, vaultId(ref), CRYPTO_OFFICER, runbook);
  const keys = deps.azure.keys(vault.properties?.vaultUri ?? `https://${ref.name}.vault.azure.net/`);
  await retryWhile(
    async () => {
      for await (const page of keys
        .listPropertiesOfKeys({ abortSignal: abortSignal() })
        .byPage({ maxPageSize: 1 })) {
        void page;
        break;
      }
    },
    isForbidden,
    {
      firstDelayMs: deps.timing.grantPollMs,
      timeoutMs: deps.timing.grantTimeoutMs,
      progress: { step: 'vault', vault: ref.name, waitingFor: 'runbook data-plane access' },
    },
  ).catch((error: unknown) => {
    throw isForbidden(error)
      ? domainFailure(
          CMK_ERROR_TYPES.AuthorizationFailed,
          `The runbook's Key Vault Crypto Officer role on ${ref.name} did not take effect in time. Fix: check the role assignment and run again`,
          { vault: ref.name },
        )
      : error;
  });
}
