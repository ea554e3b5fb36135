/**
 * From a parsed command and a resolved account to the runbook to start: operation, workflow
 * input and the one-line summary the Temporal UI shows. Pure; the defaults live here.
 */
import type { AccountRef } from '../shared/accounts';
import { formatDuration } from '../shared/duration';
import type {
  ChangeKeyInput,
  ConfigureCmkInput,
  DisableCmkInput,
  Operation,
  RevokeAccessInput,
  RotateKeyInput,
  RunContext,
  SetRotationPolicyInput,
} from '../shared/runbooks';
import { DEFAULT_KEY_NAME, defaultVaultName, type Command } from './commands';

/** A command that starts a runbook. */
export type RunCommand = Extract<
  Command,
  {
    kind:
      'configure' | 'rotate' | 'changeKey' | 'revoke' | 'disable' | 'scheduleRotation' | 'unscheduleRotation';
  }
>;

/** The runbook a command starts. */
export interface RunRequest {
  operation: Operation;
  account: AccountRef;
  input:
    | ConfigureCmkInput
    | RotateKeyInput
    | ChangeKeyInput
    | RevokeAccessInput
    | DisableCmkInput
    | SetRotationPolicyInput;
  /** The vault the run will use, when the command names or implies one (search attribute). */
  vault?: string;
  /** E.g. "Configure CMK · stcontoso · kv-stcontoso/cmk-key (versionless)". */
  summary: string;
}

/** True for the commands that start a runbook. */
export function isRunCommand(command: Command): command is RunCommand {
  return [
    'configure',
    'rotate',
    'changeKey',
    'revoke',
    'disable',
    'scheduleRotation',
    'unscheduleRotation',
  ].includes(command.kind);
}

/** Builds the run request; `context` carries requester, conversation, policy and UI base URL. */
export function runRequestFor(command: RunCommand, account: AccountRef, context: RunContext): RunRequest {
  const base = { ...context, account };
  const name = account.name;
  switch (command.kind) {
    case 'configure': {
      const vault = command.vault ?? defaultVaultName(name);
      const key = command.key ?? DEFAULT_KEY_NAME;
      const input: ConfigureCmkInput = {
        ...base,
        vault: { name: vault },
        key: { name: key, type: command.hsm ? 'RSA-HSM' : 'RSA', size: command.keySize },
        identity: command.userIdentity
          ? { type: 'UserAssigned', resourceId: command.userIdentity }
          : { type: 'SystemAssigned' },
        pinVersion: command.pinVersion,
      };
      const mode = command.pinVersion ? 'pinned' : 'versionless';
      return {
        operation: 'configure',
        account,
        input,
        vault,
        summary: `Configure CMK · ${name} · ${vault}/${key} (${mode})`,
      };
    }
    case 'changeKey': {
      const input: ChangeKeyInput = {
        ...base,
        key: { name: command.key, type: 'RSA', size: 2048 },
        pinVersion: false,
      };
      if (command.vault) input.vault = { name: command.vault };
      const target = command.vault ? `${command.vault}/${command.key}` : command.key;
      const request: RunRequest = {
        operation: 'changeKey',
        account,
        input,
        summary: `Change key · ${name} · to ${target}`,
      };
      if (command.vault) request.vault = command.vault;
      return request;
    }
    case 'rotate':
      return { operation: 'rotate', account, input: { ...base }, summary: `Rotate key · ${name}` };
    case 'revoke':
      return {
        operation: 'revoke',
        account,
        input: { ...base, disableKey: false },
        summary: `Revoke key access · ${name}`,
      };
    case 'disable':
      return { operation: 'disable', account, input: { ...base }, summary: `Disable CMK · ${name}` };
    case 'scheduleRotation':
      return {
        operation: 'setRotationPolicy',
        account,
        input: { ...base, rotateAfter: command.every },
        summary: `Schedule rotation · ${name} · every ${formatDuration(command.everyMs)}`,
      };
    case 'unscheduleRotation':
      return {
        operation: 'setRotationPolicy',
        account,
        input: { ...base },
        summary: `Unschedule rotation · ${name}`,
      };
  }
}
