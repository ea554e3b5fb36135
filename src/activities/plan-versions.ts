/**
 * Plans that act on the key an account already uses: `updateVersion` (pin to the latest, the
 * previous or a named version, or go back to versionless) and `restoreAccess` (undo a revoke:
 * grant the identity key access again, re-enable the disabled version in use, confirm by probe).
 */
import type { StorageAccount } from '@azure/arm-storage';
import { CMK_ERROR_TYPES } from '../shared/errors';
import type { EncryptionSettings, Plan } from '../shared/plan';
import type { VersionTarget } from '../shared/runbooks';
import { principalOf } from './azure-state';
import type { ActivityDeps } from './deps';
import { listKeyVersions, versionInUse, type KeyVersionInfo } from './key-versions';
import { readGrant, type VaultView } from './live-state';
import type { PlanBuilder } from './plan-builder';

/** The account on its key, as both plans read it. */
export interface OnKey {
  account: StorageAccount;
  before: EncryptionSettings;
  vault: VaultView;
}

const short = (v: string): string => `${v.slice(0, 8)}…`;

/** Pins the account to the version the target names, or makes it versionless. */
export async function planUpdateVersion(
  deps: ActivityDeps,
  b: PlanBuilder,
  on: OnKey,
  target: VersionTarget,
): Promise<Plan> {
  const { before, vault } = on;
  const label = `${vault.ref.name}/${before.keyName}`;
  const versions = await listKeyVersions(deps, before.vaultUri!, before.keyName!);
  const usable = versions.filter((v) => v.enabled && !v.expired && !v.notYetValid);
  const inUse = versionInUse(before);
  let pin: string | undefined;
  switch (target.kind) {
    case 'versionless':
      pin = '';
      break;
    case 'latest':
      pin = usable.at(-1)?.version;
      if (!pin)
        b.block(
          CMK_ERROR_TYPES.KeyDisabled,
          `Key ${label} has no enabled version.`,
          'Enable a version or rotate the key.',
        );
      break;
    case 'previous': {
      const at = versions.findIndex((v) => v.version === inUse);
      pin = usable.filter((v) => at < 0 || versions.indexOf(v) < at).at(-1)?.version;
      if (!pin)
        b.block(
          CMK_ERROR_TYPES.KeyNotFound,
          `Key ${label} has no enabled version older than the one in use${inUse ? ` (${short(inUse)})` : ''}.`,
          'Name the version with --key-version, or enable an older one.',
        );
      break;
    }
    case 'named':
      pin = checkNamed(b, label, versions, target.version);
      break;
  }
  b.grant = { versions: versions.map((v) => [v.version, v.enabled, v.expired]) };
  const after: EncryptionSettings = {
    ...before,
    keyVersion: pin ?? before.keyVersion,
    currentVersionedKeyId: undefined,
    lastKeyRotation: undefined,
  };
  const same = pin !== undefined && pin === (before.keyVersion ?? '') && (pin !== '' || !before.keyVersion);
  b.step('version', {
    title:
      pin === ''
        ? `Make ${b.accountName} versionless (follows new versions within a day)`
        : `Pin ${b.accountName} to version ${pin ? short(pin) : '?'}`,
    ...(same ? { skip: true } : {}),
  });
  b.step('probe');
  if (pin !== undefined) b.versions = { pin };
  return b.build(after);
}

function checkNamed(
  b: PlanBuilder,
  label: string,
  versions: KeyVersionInfo[],
  version: string,
): string | undefined {
  const found = versions.find((v) => v.version === version);
  if (!found) {
    b.block(
      CMK_ERROR_TYPES.KeyNotFound,
      `Key ${label} has no version ${version}.`,
      'Check the version id (the last part of a versioned key URI).',
    );
    return undefined;
  }
  if (!found.enabled)
    b.block(
      CMK_ERROR_TYPES.KeyDisabled,
      `Version ${short(version)} of ${label} is disabled.`,
      'Enable it first, or choose another version.',
    );
  else if (found.expired)
    b.block(
      CMK_ERROR_TYPES.KeyDisabled,
      `Version ${short(version)} of ${label} has expired; Azure Storage will not start using it.`,
      'Choose a version that has not expired.',
    );
  else if (found.notYetValid)
    b.block(
      CMK_ERROR_TYPES.KeyDisabled,
      `Version ${short(version)} of ${label} is not active yet.`,
      'Choose a version that is active now.',
    );
  return version;
}

/** Grants key access back and re-enables the version in use when a revoke took them away. */
export async function planRestoreAccess(deps: ActivityDeps, b: PlanBuilder, on: OnKey): Promise<Plan> {
  const { account, before, vault } = on;
  const identity = before.identity ?? 'SystemAssigned';
  const principalId = principalOf(account, identity);
  if (!principalId)
    b.block(
      CMK_ERROR_TYPES.IdentityNotFound,
      `Account ${b.accountName} has no principal for ${identity}, so nothing can be granted.`,
      'Give the account its identity back (configure), then restore access.',
    );
  const grant = await readGrant(deps, vault, principalId, before.keyName!);
  const versions = await listKeyVersions(deps, before.vaultUri!, before.keyName!);
  const inUse = versionInUse(before) ?? versions.filter((v) => v.enabled).at(-1)?.version;
  const current = versions.find((v) => v.version === inUse);
  b.grant = { grant: grant.evidence, version: current ? [current.version, current.enabled] : null };
  b.step('grant', {
    title: `Grant ${b.accountName}'s identity key access on ${vault.ref.name}/${before.keyName}`,
    ...(grant.granted ? { skip: true } : {}),
  });
  const disabled = current !== undefined && !current.enabled;
  b.step('enableKey', {
    title: `Re-enable key version ${inUse ? short(inUse) : '?'}`,
    ...(disabled ? {} : { skip: true }),
  });
  if (disabled && inUse) b.versions = { enable: inUse };
  if (!current && versions.length === 0)
    b.block(
      CMK_ERROR_TYPES.KeyNotFound,
      `Key ${vault.ref.name}/${before.keyName} no longer exists.`,
      'Recover it (`az keyvault key recover`) first.',
    );
  b.step('probe');
  return b.build(before);
}
