/**
 * From a parsed command and a resolved account to the runbook to start: the operation and
 * its workflow input. Pure; the bot's defaults (vault and key names, key type) live here.
 */
import type { AccountRef } from '../shared/accounts';
import type { Operation, RunContext } from '../shared/runbooks';
import type { InputByOperation } from '../shared/start';
import { DEFAULT_KEY_NAME, defaultVaultName, type Command } from './commands';

/** A command that starts a runbook (schedules are managed separately). */
export type RunCommand = Extract<
  Command,
  { kind: 'configure' | 'rotate' | 'changeKey' | 'revoke' | 'disable' }
>;

/** The runbook a command starts, as operation + input pairs the start options are built from. */
export type RunRequest = {
  [O in Exclude<Operation, 'fleetRotate' | 'setRotationPolicy'>]: {
    operation: O;
    input: InputByOperation[O];
  };
}[Exclude<Operation, 'fleetRotate' | 'setRotationPolicy'>];

const RUN_KINDS: readonly string[] = ['configure', 'rotate', 'changeKey', 'revoke', 'disable'];

/** True for the commands that start a runbook. */
export function isRunCommand(command: Command): command is RunCommand {
  return RUN_KINDS.includes(command.kind);
}

/** Builds the run request; `context` carries requester, conversation, policy and UI base URL. */
export function runRequestFor(command: RunCommand, account: AccountRef, context: RunContext): RunRequest {
  const base = { ...context, account };
  switch (command.kind) {
    case 'configure':
      return {
        operation: 'configure',
        input: {
          ...base,
          vault: {
            name: command.vault ?? defaultVaultName(account.name),
            ...(command.allowPurgeProtection ? { allowPurgeProtection: true } : {}),
          },
          key: {
            name: command.key ?? DEFAULT_KEY_NAME,
            type: command.hsm ? 'RSA-HSM' : 'RSA',
            size: command.keySize,
          },
          identity: command.userIdentity
            ? { type: 'UserAssigned', resourceId: command.userIdentity }
            : { type: 'SystemAssigned' },
          pinVersion: command.pinVersion,
        },
      };
    case 'changeKey':
      return {
        operation: 'changeKey',
        input: {
          ...base,
          ...(command.vault ? { vault: { name: command.vault } } : {}),
          key: { name: command.key, type: 'RSA', size: 2048 },
          pinVersion: false,
        },
      };
    case 'rotate':
      return { operation: 'rotate', input: base };
    case 'revoke':
      return { operation: 'revoke', input: { ...base, disableKey: false } };
    case 'disable':
      return { operation: 'disable', input: base };
  }
}
