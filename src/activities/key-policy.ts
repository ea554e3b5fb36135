/**
 * A Key Vault key's rotation policy, named by vault and key rather than through an account:
 * `inspectKeyPolicy` plans it (the policy now and after, the accounts that follow the key) and
 * `setKeyRotationPolicy` writes it. Vaults are found by name in the configured subscriptions.
 */
import { createHash } from 'node:crypto';
import type { KeyRotationPolicy } from '@azure/keyvault-keys';
import type { RotationPolicyState } from '../shared/activities';
import { CMK_ERROR_TYPES } from '../shared/errors';
import { validateKeyName, validateVaultName } from '../shared/names';
import type { Blocker, Plan, PlanFact } from '../shared/plan';
import { validateRotationPolicy } from '../shared/rotation-policy';
import type { KeyRef } from '../shared/runbooks';
import { findVaultByName, normaliseVaultUri } from './azure-state';
import { accountsUsingKey } from './key-users';
import type { ActivityDeps } from './deps';
import { domainFailure, isForbidden, isNotFound } from './errors';
import { readKey, vaultView, canonicalJson } from './live-state';
import { STEP_TITLES } from './plan-builder';
import { writePolicy } from './keys';
import { abortSignal } from './runtime';

/** The key a request names, validated. */
function keyRefOf(key: unknown): KeyRef {
  const k = (key ?? {}) as Partial<KeyRef>;
  return { vault: validateVaultName(k.vault, 'key.vault'), name: validateKeyName(k.name, 'key.name') };
}

/** The plan of a rotation policy on a key; never writes. */
export async function inspectKeyPolicy(
  deps: ActivityDeps,
  input: { key: KeyRef; policy: RotationPolicyState },
): Promise<Plan> {
  const key = keyRefOf(input.key);
  const policy = validateRotationPolicy(input.policy ?? {});
  const blockers: Blocker[] = [];
  const warnings: string[] = [];
  const found = await findVaultByName(deps, key.vault, deps.azure.subscriptionIds[0] ?? '');
  const uri = found?.vault.properties?.vaultUri
    ? normaliseVaultUri(found.vault.properties.vaultUri)
    : undefined;
  let current: KeyRotationPolicy | undefined;
  let summary;
  if (!found || !uri) {
    blockers.push({
      code: CMK_ERROR_TYPES.VaultNotFound,
      message: `No vault named ${key.vault} in the configured subscriptions (${deps.azure.subscriptionIds.join(', ')}).`,
      fix: 'Check the name, or add its subscription to CMK_SUBSCRIPTION_IDS.',
    });
  } else {
    const read = await readKey(deps, vaultView(found.ref, found.vault), key.name);
    summary = read.summary;
    if (!read.readable)
      blockers.push({
        code: CMK_ERROR_TYPES.AuthorizationFailed,
        message: `The runbook cannot read keys in ${key.vault}.`,
        fix: 'Grant it Key Vault Crypto Officer (RBAC) or key get/list/getrotationpolicy/setrotationpolicy permissions.',
      });
    else if (!read.summary.exists)
      blockers.push({
        code: CMK_ERROR_TYPES.KeyNotFound,
        message: `Key ${key.vault}/${key.name} does not exist.`,
        fix: 'Check the key name, or create the key with configure.',
      });
    else current = await readPolicy(deps, uri, key.name);
    if (read.summary.exists) {
      const pinned = (await accountsUsingKey(deps, uri, key.name)).filter((a) => a.pinnedVersion);
      if (pinned.length)
        warnings.push(
          `Pinned accounts do not follow automatic rotations: ${pinned.map((a) => a.name).join(', ')}. Move them with update-version after each rotation, or make them versionless.`,
        );
    }
  }
  const before = factsOf(fromAzure(current));
  const after = factsOf(policy);
  const steps: Plan['steps'] = [
    { id: 'preflight', title: STEP_TITLES.preflight, destructive: false, irreversible: false },
    { id: 'rotationPolicy', title: STEP_TITLES.rotationPolicy, destructive: false, irreversible: false },
  ];
  const keyView = { keySource: 'Microsoft.Keyvault' as const, vaultUri: uri, keyName: key.name };
  return {
    operation: 'setRotationPolicy',
    account: {
      subscriptionId: found?.ref.subscriptionId ?? '',
      resourceGroup: found?.ref.resourceGroup ?? '',
      name: '',
    },
    ...(found ? { vault: vaultView(found.ref, found.vault).summary } : {}),
    ...(summary ? { key: summary } : {}),
    steps,
    blockers,
    warnings,
    before: keyView,
    after: keyView,
    facts: { before, after },
    destructive: false,
    irreversible: [],
    fingerprint: createHash('sha256')
      .update(
        canonicalJson({ vault: found?.vault.id ?? null, key: summary ?? null, policy: current ?? null }),
      )
      .digest('hex'),
  };
}

/** Writes the rotation policy of a key (a desired-state PUT). */
export async function setKeyRotationPolicy(
  deps: ActivityDeps,
  input: { key: KeyRef } & RotationPolicyState,
): Promise<RotationPolicyState> {
  const key = keyRefOf(input.key);
  const policy = validateRotationPolicy(input);
  const found = await findVaultByName(deps, key.vault, deps.azure.subscriptionIds[0] ?? '');
  const uri = found?.vault.properties?.vaultUri;
  if (!uri) {
    throw domainFailure(
      CMK_ERROR_TYPES.VaultNotFound,
      `No vault named ${key.vault} in the configured subscriptions. Fix: check the name or CMK_SUBSCRIPTION_IDS`,
      { vault: key.vault },
    );
  }
  await writePolicy(deps, normaliseVaultUri(uri), key.name, policy);
  return policy;
}

async function readPolicy(
  deps: ActivityDeps,
  uri: string,
  name: string,
): Promise<KeyRotationPolicy | undefined> {
  try {
    return await deps.azure.keys(uri).getKeyRotationPolicy(name, { abortSignal: abortSignal() });
  } catch (error) {
    if (isNotFound(error) || isForbidden(error)) return undefined;
    throw error;
  }
}

/** Azure's policy in the terms runbooks use. */
function fromAzure(policy: KeyRotationPolicy | undefined): RotationPolicyState {
  const state: RotationPolicyState = {};
  for (const a of policy?.lifetimeActions ?? []) {
    if (a.action === 'Rotate' && a.timeAfterCreate) state.rotateAfter = a.timeAfterCreate;
    if (a.action === 'Rotate' && a.timeBeforeExpiry) state.rotateBeforeExpiry = a.timeBeforeExpiry;
    if (a.action === 'Notify' && a.timeBeforeExpiry) state.notifyBeforeExpiry = a.timeBeforeExpiry;
  }
  if (policy?.expiresIn) state.expiresAfter = policy.expiresIn;
  return state;
}

/** A policy as card lines. */
export function factsOf(policy: RotationPolicyState): PlanFact[] {
  const facts: PlanFact[] = [];
  if (policy.rotateAfter)
    facts.push({ title: 'Rotate', value: `${words(policy.rotateAfter)} after creation` });
  if (policy.rotateBeforeExpiry)
    facts.push({ title: 'Rotate', value: `${words(policy.rotateBeforeExpiry)} before expiry` });
  if (policy.expiresAfter)
    facts.push({ title: 'Expires', value: `${words(policy.expiresAfter)} after creation` });
  if (policy.notifyBeforeExpiry)
    facts.push({ title: 'Notify', value: `${words(policy.notifyBeforeExpiry)} before expiry` });
  return facts.length ? facts : [{ title: 'Rotation', value: 'none (rotated by hand)' }];
}

function words(iso: string): string {
  const days = /^P(\d+)D$/.exec(iso)?.[1];
  if (days) return `${days} day${days === '1' ? '' : 's'}`;
  return iso;
}
