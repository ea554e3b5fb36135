/**
 * What a chat message means once parsed: a {@link Command}, or a {@link ParseError} with its
 * reason code, the sentence a person reads and the form that works. Pure types and the error.
 */
import type { AccountRef } from '../shared/accounts';
import type { KeySize, KeyType } from '../shared/names';
import type { VersionTarget } from '../shared/runbooks';

/** An account as typed: a bare name (resolved later in the configured subscriptions) or a resource id. */
export type AccountArg = { name: string } | { ref: AccountRef };

/**
 * The key a command points an account at, as typed: `--key-uri` is split into vault, key and
 * version here. Absent fields take the runbook's defaults.
 */
export interface KeyArgs {
  vault?: string;
  /** Where the vault lives when it is not the account's subscription / resource group. */
  vaultSubscription?: string;
  vaultResourceGroup?: string;
  key?: string;
  /** A named, existing version: the account is pinned to it. */
  keyVersion?: string;
  /** For a key the run creates: RSA or RSA-HSM (`--hsm` is `--key-type RSA-HSM`). */
  keyType?: KeyType;
  keySize?: KeySize;
  /** `--pin-version` true, `--versionless` false; absent: the command's default. */
  pinVersion?: boolean;
}

export type { VersionTarget };

/** Which accounts a fleet command selects; every given part must match. */
export interface FleetSelector {
  /** A tag name, and optionally the value it must have. */
  tag?: { name: string; value?: string };
  resourceGroup?: string;
  subscriptionId?: string;
}

/** A rotation policy as typed: durations like 90d or P90D. */
export interface RotationPolicyArgs {
  expireAfter?: string;
  rotateBefore?: string;
  rotateAfter?: string;
  notifyBefore?: string;
}

/** A command that starts a runbook on one account. */
export type RunCommand =
  | {
      kind: 'configure';
      account: AccountArg;
      key: KeyArgs;
      /** The user allows turning purge protection on for an existing vault (irreversible). */
      allowPurgeProtection: boolean;
      userIdentity?: string;
    }
  | { kind: 'rotate'; account: AccountArg }
  | { kind: 'changeKey'; account: AccountArg; key: KeyArgs }
  | { kind: 'updateVersion'; account: AccountArg; target: VersionTarget }
  | {
      kind: 'revoke';
      account: AccountArg;
      disableKey: boolean;
      /** How long the run waits for blob reads to be refused (`--confirm-within`). */
      confirmWithin?: string;
    }
  | { kind: 'restoreAccess'; account: AccountArg }
  | { kind: 'disable'; account: AccountArg };

/** A command the bot understands. */
export type Command =
  | { kind: 'help' }
  | RunCommand
  | { kind: 'plan'; command: RunCommand }
  | { kind: 'setRotationPolicy'; vault: string; key: string; policy: RotationPolicyArgs }
  | { kind: 'rotateFleet'; selector: FleetSelector }
  | { kind: 'pending' }
  | { kind: 'status'; account?: AccountArg }
  | { kind: 'runs' }
  | { kind: 'cancel'; account: AccountArg }
  | { kind: 'scheduleRotation'; account: AccountArg; every: string; everyMs: number; replace: boolean }
  | { kind: 'unscheduleRotation'; account: AccountArg };

/** Why a message did not parse; each has its own sentence. */
export const PARSE_PROBLEMS = [
  'empty',
  'unknown-command',
  'missing-argument',
  'unexpected-argument',
  'unknown-option',
  'repeated-option',
  'missing-value',
  'unexpected-value',
  'invalid-value',
  'conflicting-options',
  'missing-option',
] as const;
export type ParseProblem = (typeof PARSE_PROBLEMS)[number];

/** A command that could not be parsed: what is wrong and the form that works. */
export interface ParseError {
  kind: 'error';
  /** The reason code; callers branch on it, never on the sentence. */
  reason: ParseProblem;
  problem: string;
  /** The right form of the command the user meant, or the list of commands. */
  usage: string;
  /** The command word, when it was recognised. */
  command?: string;
}

/** A refusal of the parser: thrown by rules, caught by the parser, returned as a {@link ParseError}. */
export class CommandNotUnderstood extends Error {
  override readonly name = 'CommandNotUnderstood';
  constructor(
    readonly reason: ParseProblem,
    message: string,
  ) {
    super(message);
  }
}
