/**
 * `inspect` (read-only preflight): reads the account, vault, key and grants an operation
 * depends on and turns them into a plan — steps, blockers with their fix, encryption before
 * and after, what is destructive or irreversible (decided by the effect: a configure that moves
 * a CMK account to another key is a key change; a revocation lists every grant it removes), and
 * the fingerprint of that state.
 */
import type { StorageAccount } from '@azure/arm-storage';
import { validateAccountRef, type AccountRef, type VaultRef } from '../shared/accounts';
import type { InspectInput, OperationRequest } from '../shared/activities';
import { CMK_ERROR_TYPES } from '../shared/errors';
import { ValidationError, validateKeyName, validateKeySize, validateKeyType } from '../shared/names';
import { describeGrant, keptBecause, type EncryptionSettings, type Plan } from '../shared/plan';
import { REVOKE_CONFIRM_WITHIN, revokeConfirmWithinMs } from '../shared/duration';
import { OPERATIONS } from '../shared/runbooks';
import { describeEncryption } from '../shared/status';
import { encryptionOf, getAccount, getVaultByUri, principalOf } from './azure-state';
import type { ActivityDeps } from './deps';
import { getUserAssignedIdentity, identityOf } from './identities';
import { MAX_KEY_TAGS, validateRotationPolicy } from './keys';
import { readGrant, readKey, readVault, vaultView, type VaultView } from './live-state';
import { PlanBuilder } from './plan-builder';
import { checkProbeReach } from './probe-reach';
import { listRevocationSet } from './revocation-set';
import { versionInUse } from './revocation';
import { resolveVaultRef } from './vaults';
import { blastRadiusOf } from './blast-radius';
import { heldGrants } from './held-grants';
import { checkKeyChoice, validateVersionTarget } from './key-choice';
import { planRestoreAccess, planUpdateVersion } from './plan-versions';

/** What every part of a plan reads: the request, the account as ARM returns it, its encryption. */
interface Subject {
  ref: AccountRef;
  request: OperationRequest;
  account: StorageAccount;
  before: EncryptionSettings;
}

type KeyTargetRequest = Extract<OperationRequest, { operation: 'configure' | 'changeKey' }>;
type OnCmkRequest = Exclude<OperationRequest, KeyTargetRequest>;

/** Builds the plan for a request against live state; never writes. */
export async function inspect(deps: ActivityDeps, input: InspectInput): Promise<Plan> {
  const ref = validateAccountRef(input.account);
  const request = validateRequest(input.request);
  const account = await getAccount(deps, ref);
  const before = encryptionOf(account);
  const b = new PlanBuilder(ref, request, account, before);
  if (request.operation !== 'setRotationPolicy') b.probeReach = await checkProbeReach(deps, ref, account);
  const subject = { ref, request, account, before };
  if (request.operation === 'configure' || request.operation === 'changeKey')
    return planKeyTarget(deps, b, subject, request);
  if (!onCmk(before)) return planWithoutCmk(b, subject);
  return planOnCmk(deps, b, subject, request, input.recheck === true);
}

function onCmk(before: EncryptionSettings): boolean {
  return before.keySource === 'Microsoft.Keyvault' && !!before.vaultUri && !!before.keyName;
}

/** configure and changeKey: vault, identity, grant, key, then enable or switch. */
async function planKeyTarget(
  deps: ActivityDeps,
  b: PlanBuilder,
  { ref, request, account, before }: Subject,
  req: KeyTargetRequest,
): Promise<Plan> {
  const identity =
    req.operation === 'configure' ? identityOf(req.identity) : (before.identity ?? 'SystemAssigned');
  const vault = await readVault(deps, await targetVault(deps, ref, req, before));
  b.vault = vault;
  b.checkVault(vault, req.vault?.allowPurgeProtection === true, req.vault?.rbac);
  const principalId = await planIdentity(deps, b, { ref, request, account, before }, identity);
  const grant = await readGrant(deps, vault, principalId, req.key.name);
  const key = await readKey(deps, vault, req.key.name);
  b.key = key.summary;
  b.grant = grant.evidence;
  if (key.firewall) blockFirewall(b, vault);
  else if (!key.readable)
    b.warn(
      `The runbook cannot read keys in ${vault.ref.name}; grant it Key Vault Crypto Officer or a key access policy.`,
    );
  b.checkKey(key.summary, req.key.type, vault, {
    newVaultSku: req.operation === 'configure' ? req.vault?.sku : undefined,
  });
  const version = await checkKeyChoice(deps, b, key.summary, req.key, vault);
  b.step('key', { skip: key.summary.exists });
  // The key first: a role assignment scoped to it needs it to exist.
  b.step('grant', { skip: grant.granted });
  // change-key without --pin-version/--versionless keeps the account pinned or versionless.
  const pin = req.pinVersion ?? (req.operation === 'changeKey' && onCmk(before) && !!before.keyVersion);
  const after: EncryptionSettings = {
    keySource: 'Microsoft.Keyvault',
    vaultUri: vault.vault?.properties?.vaultUri ?? `https://${vault.ref.name.toLowerCase()}.vault.azure.net/`,
    keyName: req.key.name,
    keyVersion: version ?? (pin ? (key.summary.latestVersion ?? '(the version created)') : ''),
    identity,
  };
  planSwitch(b, ref, req, before, after);
  b.step('probe');
  if (onCmk(before) && !sameTarget(before, after))
    b.blastRadius = await blastRadiusOf(deps, { ref, before, principalId }, { kind: 'changeKey', after });
  return b.build(after);
}

/** The vault a key-target request names, else the one the account already uses. */
async function targetVault(
  deps: ActivityDeps,
  ref: AccountRef,
  req: KeyTargetRequest,
  before: EncryptionSettings,
): Promise<VaultRef> {
  if (req.vault) return resolveVaultRef(deps, ref, req.vault);
  if (onCmk(before)) return (await getVaultByUri(deps, before.vaultUri!, ref.subscriptionId)).ref;
  throw new ValidationError(
    'request.vault',
    'a vault is required when the account has no customer-managed key yet',
  );
}

/** The identity step (configure) or its check (changeKey); returns the principal that needs access. */
async function planIdentity(
  deps: ActivityDeps,
  b: PlanBuilder,
  { ref, request, account }: Subject,
  identity: string,
): Promise<string | undefined> {
  let principalId = principalOf(account, identity);
  if (request.operation !== 'configure') {
    if (!principalId)
      b.block(
        'IdentityNotFound',
        `Account ${ref.name} has no managed identity to reach a key.`,
        'Run configure, which assigns one.',
      );
    return principalId;
  }
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
  return principalId;
}

/**
 * The enable (configure) or switch (changeKey) step. Moving an account already on CMK to another
 * key, vault or version mode is a key change whichever runbook asks for it: destructive, and
 * approved under change-key's policy.
 */
function planSwitch(
  b: PlanBuilder,
  ref: AccountRef,
  req: KeyTargetRequest,
  before: EncryptionSettings,
  after: EncryptionSettings,
): void {
  const keyChange = onCmk(before) && movesKey(before, after);
  if (req.operation === 'changeKey') {
    b.step('switch', { destructive: true, skip: sameTarget(before, after) });
    return;
  }
  if (!keyChange) {
    b.step('enable', { skip: sameTarget(before, after) });
    return;
  }
  b.approvalOperation = 'changeKey';
  b.warn(
    `${ref.name} already uses ${describeEncryption(before)}; moving it to ${describeEncryption(after)} is a key change, so it needs the approvals of Change key.`,
  );
  b.step('enable', { destructive: true, title: `Switch to ${describeEncryption(after)} (a key change)` });
}

/** Another vault, another key, or versionless ⇄ pinned. */
function movesKey(before: EncryptionSettings, after: EncryptionSettings): boolean {
  return (
    before.vaultUri !== after.vaultUri ||
    before.keyName?.toLowerCase() !== after.keyName?.toLowerCase() ||
    !before.keyVersion !== !after.keyVersion
  );
}

function planWithoutCmk(b: PlanBuilder, { ref, request, before }: Subject): Plan {
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

/** rotate, revoke, disable and setRotationPolicy on an account that uses a customer-managed key. */
async function planOnCmk(
  deps: ActivityDeps,
  b: PlanBuilder,
  subject: Subject,
  request: OnCmkRequest,
  recheck: boolean,
): Promise<Plan> {
  const { ref, account, before } = subject;
  // The listing holds each vault's full properties, so the plan needs no second read of it.
  const listed = await getVaultByUri(deps, before.vaultUri!, ref.subscriptionId, {
    maxAgeMs: recheck ? 0 : deps.timing.vaultListingMaxAgeMs,
  });
  const vault = vaultView(listed.ref, listed.vault);
  const key = await readKey(deps, vault, before.keyName!);
  b.vault = vault;
  b.key = key.summary;
  if (key.firewall) {
    blockFirewall(b, vault);
    return b.build(before);
  }
  switch (request.operation) {
    case 'rotate':
      return planRotate(b, subject, vault);
    case 'revoke':
      return planRevoke(deps, b, subject, vault, request.disableKey, request.confirmWithin);
    case 'disable': {
      const principalId = principalOf(account, before.identity ?? 'SystemAssigned');
      b.grant = (await readGrant(deps, vault, principalId, before.keyName!)).evidence;
      b.step('disable', { destructive: true });
      b.step('probe');
      return b.build({ keySource: 'Microsoft.Storage' });
    }
    case 'setRotationPolicy':
      b.step('rotationPolicy');
      return b.build(before);
    case 'updateVersion':
      return planUpdateVersion(deps, b, { account, before, vault }, request.target);
    case 'restoreAccess':
      return planRestoreAccess(deps, b, { account, before, vault });
  }
}

function planRotate(b: PlanBuilder, { before }: Subject, vault: VaultView): Plan {
  const label = `${vault.ref.name}/${before.keyName}`;
  if (!b.key?.exists)
    b.block(
      CMK_ERROR_TYPES.KeyNotFound,
      `Key ${label} ${b.key?.softDeleted ? 'is soft-deleted' : 'no longer exists'}.`,
      `Recover it (\`az keyvault key recover --vault-name ${vault.ref.name} --name ${before.keyName}\`) or change the key.`,
    );
  else if (b.key.enabled === false)
    b.block(CMK_ERROR_TYPES.KeyDisabled, `Key ${label} is disabled.`, 'Enable it or change the key.');
  else if ((b.key.tags ?? 0) + 2 > MAX_KEY_TAGS)
    b.block(
      CMK_ERROR_TYPES.TooManyKeyTags,
      `Key ${label} has ${b.key.tags} tags; rotation adds 2 and Key Vault allows ${MAX_KEY_TAGS}.`,
      `Remove ${(b.key.tags ?? 0) + 2 - MAX_KEY_TAGS} of its tags (\`az keyvault key set-attributes --vault-name ${vault.ref.name} --name ${before.keyName} --tags ...\`).`,
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

/**
 * The revocation: its list of grants to remove is the one the revocation activity will check
 * and delete; grants it leaves are named, and when they keep access alive and the key is not
 * disabled too, the plan is blocked rather than half-done.
 */
async function planRevoke(
  deps: ActivityDeps,
  b: PlanBuilder,
  { ref, account, before }: Subject,
  vault: VaultView,
  disableKey: boolean,
  confirmWithin: string | undefined,
): Promise<Plan> {
  const identity = before.identity ?? 'SystemAssigned';
  const principalId =
    principalOf(account, identity) ??
    (identity === 'SystemAssigned'
      ? undefined
      : await getUserAssignedIdentity(deps, identity).catch(() => undefined));
  const version = versionInUse(before) ?? b.key?.latestVersion;
  const set = await listRevocationSet(deps, {
    vault: vault.ref,
    vaultRecord: vault.vault!,
    principalId: principalId ?? '',
    keyName: before.keyName!,
    ...(disableKey && version ? { disableKeyVersion: version } : {}),
  });
  b.grant = set;
  b.revocation = set;
  const listing = set.remove.map(describeGrant).join('; ');
  b.step('revoke', {
    destructive: true,
    skip: set.remove.length === 0,
    title: listing
      ? `Remove key access: ${listing}`
      : 'Remove key access (the identity holds none this runbook can remove)',
  });
  for (const g of set.keep) b.warn(`Left in place: ${describeGrant(g)}, because ${keptBecause(g)}.`);
  const alive = set.keep.filter((g) => g.kept === 'inherited' && g.active);
  if (!disableKey && alive.length)
    b.block(
      'InheritedKeyAccess',
      `${ref.name}'s identity also holds ${alive.map(describeGrant).join('; ')}, which this runbook does not remove, so revoking would not cut its access.`,
      `Remove ${alive.length > 1 ? 'those assignments' : 'that assignment'} (\`az role assignment delete --ids <id>\`) or revoke with --disable-key.`,
    );
  if (disableKey)
    b.step('disableKey', {
      destructive: true,
      title: `Disable key version ${vault.ref.name}/${before.keyName}/${version ?? '(current)'}`,
    });
  b.step('probe', {
    title: `Confirm blob reads are refused (canary blob, within ${confirmWithin ?? REVOKE_CONFIRM_WITHIN.default})`,
  });
  const held = await heldGrants(deps, vault, principalId, before.keyName!);
  b.blastRadius = await blastRadiusOf(
    deps,
    { ref, before, principalId },
    { kind: 'revoke', ...held, ...(disableKey && version ? { disableVersion: version } : {}) },
  );
  return b.build(before);
}

/** Key Vault answered 403 ForbiddenByFirewall: the fix is the vault's network rules, not a role. */
function blockFirewall(b: PlanBuilder, vault: VaultView): void {
  const name = vault.ref.name;
  b.block(
    CMK_ERROR_TYPES.ForbiddenByFirewall,
    `Vault ${name}'s firewall does not let the runbook's address reach its keys.`,
    `Add the worker's public IP or virtual network to the vault's firewall (\`az keyvault network-rule add --name ${name} --ip-address <worker ip>\`), or reach the vault through a private endpoint.`,
  );
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
  if (r.operation === 'revoke') revokeConfirmWithinMs(r.confirmWithin, 'request.confirmWithin');
  if (r.operation === 'updateVersion') validateVersionTarget(r.target);
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
