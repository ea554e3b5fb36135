/**
 * `inspect` (read-only preflight): reads the account, vault, key and grants an operation
 * depends on and turns them into a plan — steps, blockers with their fix, encryption before
 * and after, what is destructive or irreversible, and the fingerprint of that state.
 */
import type { StorageAccount } from '@azure/arm-storage';
import { validateAccountRef } from '../shared/accounts';
import type { InspectInput, OperationRequest } from '../shared/activities';
import { CMK_ERROR_TYPES } from '../shared/errors';
import { ValidationError, validateKeyName, validateKeySize, validateKeyType } from '../shared/names';
import type { EncryptionSettings, Plan } from '../shared/plan';
import { OPERATIONS } from '../shared/runbooks';
import { encryptionOf, getAccount, getVaultByUri, principalOf } from './azure-state';
import type { ActivityDeps } from './deps';
import { getUserAssignedIdentity, identityOf } from './identities';
import { validateRotationPolicy } from './keys';
import { readGrant, readKey, readVault, vaultView } from './live-state';
import { PlanBuilder } from './plan-builder';
import { resolveVaultRef } from './vaults';

/** Builds the plan for a request against live state; never writes. */
export async function inspect(deps: ActivityDeps, input: InspectInput): Promise<Plan> {
  const ref = validateAccountRef(input.account);
  const request = validateRequest(input.request);
  const account = await getAccount(deps, ref);
  const before = encryptionOf(account);
  const b = new PlanBuilder(ref, request, account, before);
  const cmk = before.keySource === 'Microsoft.Keyvault' && !!before.vaultUri && !!before.keyName;

  if (request.operation === 'configure' || request.operation === 'changeKey') {
    const identity =
      request.operation === 'configure'
        ? identityOf(request.identity)
        : (before.identity ?? 'SystemAssigned');
    const vaultRef = request.vault
      ? await resolveVaultRef(deps, ref, request.vault)
      : cmk
        ? (await getVaultByUri(deps, before.vaultUri!, ref.subscriptionId)).ref
        : undefined;
    if (!vaultRef)
      throw new ValidationError(
        'request.vault',
        'a vault is required when the account has no customer-managed key yet',
      );
    const vault = await readVault(deps, vaultRef);
    b.vault = vault;
    b.checkVault(vault, request.vault?.allowPurgeProtection === true, request.vault?.rbac);
    let principalId = principalOf(account, identity);
    if (request.operation === 'configure') {
      if (identity !== 'SystemAssigned') {
        try {
          principalId ??= await getUserAssignedIdentity(deps, identity);
        } catch {
          b.block(
            'IdentityNotFound',
            `The user-assigned identity ${identity.split('/').pop()} does not exist.`,
            'Create it, or give the resource id of an existing identity.',
          );
        }
      }
      b.step('identity', { skip: !!principalOf(account, identity) || hasUser(account, identity) });
    } else if (!principalId) {
      b.block(
        'IdentityNotFound',
        `Account ${ref.name} has no managed identity to reach a key.`,
        'Run configure, which assigns one.',
      );
    }
    const grant = await readGrant(deps, vault, principalId, request.key.name);
    b.step('grant', { skip: grant.granted });
    const key = await readKey(deps, vault, request.key.name);
    b.key = key.summary;
    b.grant = grant.evidence;
    if (!key.readable)
      b.warn(
        `The runbook cannot read keys in ${vaultRef.name}; grant it Key Vault Crypto Officer or a key access policy.`,
      );
    b.checkKey(key.summary, request.key.type, vault);
    b.step('key', { skip: key.summary.exists });
    const after: EncryptionSettings = {
      keySource: 'Microsoft.Keyvault',
      vaultUri:
        vault.vault?.properties?.vaultUri ?? `https://${vaultRef.name.toLowerCase()}.vault.azure.net/`,
      keyName: request.key.name,
      keyVersion: request.pinVersion ? (key.summary.latestVersion ?? '(the version created)') : '',
      identity,
    };
    const switching =
      cmk &&
      (before.vaultUri !== after.vaultUri || before.keyName?.toLowerCase() !== after.keyName?.toLowerCase());
    b.step(request.operation === 'configure' ? 'enable' : 'switch', {
      destructive: switching || request.operation === 'changeKey',
      skip: sameTarget(before, after),
    });
    b.step('probe');
    return b.build(after);
  }

  if (!cmk) {
    if (request.operation === 'disable') {
      b.step('disable', { skip: true });
      return b.build(before);
    }
    b.block(
      CMK_ERROR_TYPES.CmkNotEnabled,
      `Account ${ref.name} uses Microsoft-managed keys.`,
      'Run configure first.',
    );
    return b.build(before);
  }
  // The listing holds each vault's full properties, so the plan needs no second read of it.
  const listed = await getVaultByUri(deps, before.vaultUri!, ref.subscriptionId, {
    maxAgeMs: input.recheck ? 0 : deps.timing.vaultListingMaxAgeMs,
  });
  const vaultRef = listed.ref;
  const vault = vaultView(listed.ref, listed.vault);
  const key = await readKey(deps, vault, before.keyName!);
  b.vault = vault;
  b.key = key.summary;
  // A rotation or a rotation policy neither changes nor depends on the identity's grant, so
  // only the operations that remove access read it (an ARM read per account saved in a fleet).
  if (request.operation === 'revoke' || request.operation === 'disable') {
    const principalId = principalOf(account, before.identity ?? 'SystemAssigned');
    b.grant = (await readGrant(deps, vault, principalId, before.keyName!)).evidence;
  }

  switch (request.operation) {
    case 'rotate': {
      if (!key.summary.exists)
        b.block(
          CMK_ERROR_TYPES.KeyNotFound,
          `Key ${vaultRef.name}/${before.keyName} no longer exists.`,
          'Recover it (`az keyvault key recover`) or change the key.',
        );
      else if (key.summary.enabled === false)
        b.block(
          CMK_ERROR_TYPES.KeyDisabled,
          `Key ${vaultRef.name}/${before.keyName} is disabled.`,
          'Enable it or change the key.',
        );
      b.step('rotate');
      if (before.keyVersion) b.step('switch');
      b.step('probe');
      return b.build({
        ...before,
        keyVersion: before.keyVersion ? '(the new version)' : '',
        currentVersionedKeyId: undefined,
        lastKeyRotation: undefined,
      });
    }
    case 'revoke':
      b.step('revoke', {
        destructive: true,
        skip: b.grant === null || (Array.isArray(b.grant) && b.grant.length === 0),
      });
      if (request.disableKey) b.step('disableKey', { destructive: true });
      b.step('probe');
      return b.build(before);
    case 'disable':
      b.step('disable', { destructive: true });
      b.step('probe');
      return b.build({ keySource: 'Microsoft.Storage' });
    case 'setRotationPolicy':
      b.step('rotationPolicy');
      return b.build(before);
  }
}

function validateRequest(request: unknown): OperationRequest {
  const r = request as OperationRequest | undefined;
  if (!r || !OPERATIONS.includes(r.operation) || r.operation === ('fleetRotate' as string)) {
    throw new ValidationError(
      'request.operation',
      'configure, rotate, changeKey, revoke, disable or setRotationPolicy',
      r?.operation,
    );
  }
  if (r.operation === 'configure' || r.operation === 'changeKey') {
    validateKeyName(r.key?.name, 'request.key.name');
    validateKeyType(r.key.type, 'request.key.type');
    validateKeySize(r.key.size, 'request.key.size');
  }
  if (r.operation === 'setRotationPolicy') validateRotationPolicy(r);
  return r;
}

function hasUser(account: StorageAccount, identity: string): boolean {
  return Object.keys(account.identity?.userAssignedIdentities ?? {}).some(
    (id) => id.toLowerCase() === identity.toLowerCase(),
  );
}

function sameTarget(before: EncryptionSettings, after: EncryptionSettings): boolean {
  return (
    before.keySource === after.keySource &&
    before.vaultUri === after.vaultUri &&
    before.keyName?.toLowerCase() === after.keyName?.toLowerCase() &&
    (before.keyVersion ?? '') === (after.keyVersion ?? '') &&
    (before.identity ?? '').toLowerCase() === (after.identity ?? '').toLowerCase()
  );
}
