/**
 * `revokeAccess` (destructive): removes exactly the grants the approved plan listed — every role
 * assignment and access-policy entry that lets the account's identity wrap or unwrap with its
 * key — after listing them again and refusing when Azure now holds one the approval did not
 * show. `disableKeyVersion` turns off the key version the approved plan named.
 */
import type { Vault } from '@azure/arm-keyvault';
import { parseKeyId, validateAccountRef, type AccountRef, type VaultRef } from '../shared/accounts';
import type { RevokeResult } from '../shared/activities';
import { CMK_ERROR_TYPES } from '../shared/errors';
import { ValidationError } from '../shared/names';
import {
  describeGrant,
  type EncryptionSettings,
  type KeyAccessGrant,
  type RevocationSet,
} from '../shared/plan';
import { armScope } from './access';
import { encryptionOf, forgetVaultListings, getAccount, getVaultByUri, principalOf } from './azure-state';
import type { ActivityDeps } from './deps';
import { domainFailure, isNotFound } from './errors';
import { getUserAssignedIdentity } from './identities';
import { accessPolicyId, grantsNotApproved, listRevocationSet } from './revocation-set';
import { abortSignal, call } from './runtime';

/** The account's key and the identity that reaches it, read live. */
export interface RevocationSubject {
  encryption: EncryptionSettings & { vaultUri: string; keyName: string };
  principalId?: string;
  vault: VaultRef;
  vaultRecord: Vault;
}

/** Reads what a revocation acts on; `CmkNotEnabled` when the account has no customer-managed key. */
export async function getRevocationSubject(deps: ActivityDeps, ref: AccountRef): Promise<RevocationSubject> {
  const account = await getAccount(deps, ref);
  const enc = encryptionOf(account);
  if (enc.keySource !== 'Microsoft.Keyvault' || !enc.vaultUri || !enc.keyName) {
    throw domainFailure(
      CMK_ERROR_TYPES.CmkNotEnabled,
      `Account ${ref.name} does not use a customer-managed key; there is no key access to revoke`,
      { account: ref.name },
    );
  }
  const identity = enc.identity ?? 'SystemAssigned';
  const principalId =
    principalOf(account, identity) ??
    (identity === 'SystemAssigned' ? undefined : await getUserAssignedIdentity(deps, identity));
  const { ref: vault, vault: vaultRecord } = await getVaultByUri(deps, enc.vaultUri, ref.subscriptionId);
  return {
    encryption: { ...enc, vaultUri: enc.vaultUri, keyName: enc.keyName },
    ...(principalId ? { principalId } : {}),
    vault,
    vaultRecord,
  };
}

/** The key version the account uses now: the pinned one, else the one Azure reports in use. */
export function versionInUse(enc: EncryptionSettings): string | undefined {
  return (
    enc.keyVersion || (enc.currentVersionedKeyId ? parseKeyId(enc.currentVersionedKeyId).version : undefined)
  );
}

/** See the module comment; running it again after a partial run removes the rest and no more. */
export async function revokeAccess(
  deps: ActivityDeps,
  input: { account: AccountRef; disableKey: boolean; approved?: RevocationSet },
): Promise<RevokeResult> {
  const ref = validateAccountRef(input.account);
  if (typeof input.disableKey !== 'boolean')
    throw new ValidationError('disableKey', 'true or false', input.disableKey);
  const subject = await getRevocationSubject(deps, ref);
  if (!input.approved)
    throw notApproved(ref, 'its approved plan lists no grants (it was planned by an older version)');
  const live = await listRevocationSet(deps, {
    vault: subject.vault,
    vaultRecord: subject.vaultRecord,
    principalId: subject.principalId ?? '',
    keyName: subject.encryption.keyName,
  });
  const unapproved = grantsNotApproved(input.approved, live);
  if (unapproved === 'target')
    throw notApproved(ref, `it now uses another key or identity (${subject.encryption.keyName})`);
  if (unapproved.length)
    throw notApproved(ref, `Azure now also holds ${unapproved.map(describeGrant).join('; ')}`, unapproved);
  for (const grant of live.remove) await removeGrant(deps, subject, grant);
  const keyDisabled = input.disableKey && !!input.approved.disableKeyVersion;
  if (keyDisabled)
    await disableKeyVersion(deps, { account: ref, version: input.approved.disableKeyVersion! });
  const kinds = live.remove.map((g) => g.kind);
  return {
    removed: kinds.includes('roleAssignment')
      ? 'roleAssignment'
      : kinds.includes('accessPolicy')
        ? 'accessPolicy'
        : 'none',
    grants: live.remove,
    keyDisabled,
  };
}

/** `RevocationSetChanged`: nothing was deleted, and the message says what to approve instead. */
function notApproved(ref: AccountRef, why: string, grants: KeyAccessGrant[] = []) {
  return domainFailure(
    CMK_ERROR_TYPES.RevocationSetChanged,
    `Revoking ${ref.name}'s key access would remove more than was approved: ${why}. Nothing was deleted; approve the new list of grants to go on.`,
    { account: ref.name, grants: grants.map((g) => g.id) },
  );
}

async function removeGrant(
  deps: ActivityDeps,
  subject: RevocationSubject,
  grant: KeyAccessGrant,
): Promise<void> {
  if (grant.kind === 'roleAssignment') {
    await call({ what: `role assignment ${grant.id}` }, async () => {
      try {
        await deps.azure
          .authorization(subject.vault.subscriptionId)
          .roleAssignments.deleteById(armScope(grant.id), { abortSignal: abortSignal() });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    });
    return;
  }
  const entry = subject.vaultRecord.properties?.accessPolicies?.find(
    (e) => accessPolicyId(subject.vault, e).toLowerCase() === grant.id.toLowerCase(),
  );
  if (!entry) return;
  const vault = subject.vault;
  await call({ what: `access policy of vault ${vault.name}` }, () =>
    deps.azure
      .keyVault(vault.subscriptionId)
      .vaults.updateAccessPolicy(
        vault.resourceGroup,
        vault.name,
        'remove',
        { properties: { accessPolicies: [{ ...entry, tenantId: entry.tenantId ?? deps.tenantId }] } },
        { abortSignal: abortSignal() },
      ),
  ).finally(() => forgetVaultListings(deps));
}

/** Disables one version of the account's key (the one the approved plan named); idempotent. */
export async function disableKeyVersion(
  deps: ActivityDeps,
  input: { account: AccountRef; version: string },
): Promise<{ keyId: string }> {
  const ref = validateAccountRef(input.account);
  if (typeof input.version !== 'string' || !/^[0-9a-zA-Z]{1,64}$/.test(input.version))
    throw new ValidationError('version', 'a key version id', input.version);
  const enc = encryptionOf(await getAccount(deps, ref));
  if (enc.keySource !== 'Microsoft.Keyvault' || !enc.vaultUri || !enc.keyName) {
    throw domainFailure(
      CMK_ERROR_TYPES.CmkNotEnabled,
      `Account ${ref.name} no longer uses a customer-managed key; no key version was disabled`,
      { account: ref.name },
    );
  }
  const keyName = enc.keyName;
  const keys = deps.azure.keys(enc.vaultUri);
  const updated = await call(
    { what: `key ${keyName} version ${input.version}`, notFound: CMK_ERROR_TYPES.KeyNotFound },
    () => keys.updateKeyProperties(keyName, input.version, { enabled: false, abortSignal: abortSignal() }),
  );
  return { keyId: updated.id ?? `${enc.vaultUri}keys/${keyName}/${input.version}` };
}
