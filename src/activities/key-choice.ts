/**
 * What a configure or change-key asks of its key beyond the name: a named version (which must
 * exist, be enabled and valid) and, when the requester named them, its type and size (an
 * existing key of another type or size blocks the plan rather than being used as it is).
 */
import { CMK_ERROR_TYPES } from '../shared/errors';
import { validateKeyVersion } from '../shared/names';
import type { KeySummary } from '../shared/plan';
import type { KeyChoice } from '../shared/runbooks';
import type { ActivityDeps } from './deps';
import { listKeyVersions } from './key-versions';
import type { VaultView } from './live-state';
import type { PlanBuilder } from './plan-builder';

/** Checks the choice against the key as read; returns the named version, if one was named. */
export async function checkKeyChoice(
  deps: ActivityDeps,
  b: PlanBuilder,
  key: KeySummary,
  choice: KeyChoice,
  vault: VaultView,
): Promise<string | undefined> {
  const label = `${vault.ref.name}/${choice.name}`;
  if (key.exists && choice.mustMatch && (key.type !== choice.type || key.size !== choice.size)) {
    b.block(
      CMK_ERROR_TYPES.UnsupportedKey,
      `Key ${label} exists as ${key.type} ${key.size}; you asked for ${choice.type} ${choice.size}.`,
      'Leave out --key-type/--key-size to use the key as it is, or name another key.',
    );
  }
  if (choice.version === undefined) return undefined;
  const version = validateKeyVersion(choice.version, 'key.version');
  if (!key.exists) {
    b.block(
      CMK_ERROR_TYPES.KeyNotFound,
      `Key ${label} does not exist, so it has no version ${version}.`,
      'Name an existing key, or leave out --key-version to create the key.',
    );
    return version;
  }
  const found = (await listKeyVersions(deps, vault.vault?.properties?.vaultUri ?? '', choice.name)).find(
    (v) => v.version === version,
  );
  if (!found)
    b.block(
      CMK_ERROR_TYPES.KeyNotFound,
      `Key ${label} has no version ${version}.`,
      'Check the version id (the last part of a versioned key URI).',
    );
  else if (!found.enabled || found.expired || found.notYetValid)
    b.block(
      CMK_ERROR_TYPES.KeyDisabled,
      `Version ${version.slice(0, 8)}… of ${label} is ${!found.enabled ? 'disabled' : found.expired ? 'expired' : 'not active yet'}; Azure Storage cannot start using it.`,
      'Choose an enabled, current version.',
    );
  return version;
}

export { validateVersionTarget } from '../shared/version-target';
