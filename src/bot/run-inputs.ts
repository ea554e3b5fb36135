/**
 * From a parsed command and a resolved account to the runbook to start: the operation and
 * its workflow input. Pure; the bot's defaults (vault and key names, key type) live here.
 */
import type { AccountRef } from '../shared/accounts';
import type { KeyChoice, Operation, RunContext, VaultChoice } from '../shared/runbooks';
import type { InputByOperation } from '../shared/start';
import { DEFAULT_KEY_NAME, defaultVaultName, type KeyArgs, type RunCommand } from './commands';

/** The size of a key the bot asks for unless told: 2048 bits, the smallest Azure Storage takes. */
const DEFAULT_KEY_SIZE = 2048;

/** Operations a chat command starts on one account. */
export type AccountOperation = Exclude<Operation, 'fleetRotate' | 'setRotationPolicy'>;

/** The runbook a command starts, as operation + input pairs the start options are built from. */
export type RunRequest = {
  [O in AccountOperation]: { operation: O; input: InputByOperation[O] };
}[AccountOperation];

/** The operation each run command asks for (its requester list and approval policy). */
export const RUN_OPERATIONS: Record<RunCommand['kind'], AccountOperation> = {
  configure: 'configure',
  rotate: 'rotate',
  changeKey: 'changeKey',
  updateVersion: 'updateVersion',
  revoke: 'revoke',
  restoreAccess: 'restoreAccess',
  disable: 'disable',
};

/** Builds the run request; `context` carries requester, conversation, start proof and UI base URL. */
export function runRequestFor(command: RunCommand, account: AccountRef, context: RunContext): RunRequest {
  const base = { ...context, account };
  switch (command.kind) {
    case 'configure':
      return {
        operation: 'configure',
        input: {
          ...base,
          vault: {
            ...vaultChoice(command.key, defaultVaultName(account.name)),
            ...(command.allowPurgeProtection ? { allowPurgeProtection: true } : {}),
          },
          key: keyChoice(command.key),
          identity: command.userIdentity
            ? { type: 'UserAssigned', resourceId: command.userIdentity }
            : { type: 'SystemAssigned' },
          pinVersion: command.key.pinVersion ?? false,
        },
      };
    case 'changeKey':
      return {
        operation: 'changeKey',
        input: {
          ...base,
          ...(command.key.vault ? { vault: vaultChoice(command.key, command.key.vault) } : {}),
          key: keyChoice(command.key),
          // Absent: the account stays pinned or versionless as it is.
          ...(command.key.pinVersion === undefined ? {} : { pinVersion: command.key.pinVersion }),
        },
      };
    case 'updateVersion':
      return { operation: 'updateVersion', input: { ...base, target: command.target } };
    case 'rotate':
      return { operation: 'rotate', input: base };
    case 'revoke':
      return {
        operation: 'revoke',
        input: {
          ...base,
          disableKey: command.disableKey,
          ...(command.confirmWithin ? { confirmWithin: command.confirmWithin } : {}),
        },
      };
    case 'restoreAccess':
      return { operation: 'restoreAccess', input: base };
    case 'disable':
      return { operation: 'disable', input: base };
  }
}

function vaultChoice(key: KeyArgs, name: string): VaultChoice {
  return {
    name: key.vault ?? name,
    ...(key.vaultSubscription ? { subscriptionId: key.vaultSubscription } : {}),
    ...(key.vaultResourceGroup ? { resourceGroup: key.vaultResourceGroup } : {}),
  };
}

function keyChoice(key: KeyArgs): KeyChoice {
  return {
    name: key.key ?? DEFAULT_KEY_NAME,
    type: key.keyType ?? 'RSA',
    size: key.keySize ?? DEFAULT_KEY_SIZE,
    ...(key.keyVersion ? { version: key.keyVersion } : {}),
    ...(key.keyType !== undefined || key.keySize !== undefined ? { mustMatch: true } : {}),
  };
}
