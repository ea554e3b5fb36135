/**
 * Runbook names, inputs, results and the names the Temporal UI shows. Pure.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import type { AccountRef } from './accounts';
import type { ApprovalPolicy, Person } from './approval';
import type { ConversationRef } from './chat';
import type { KeySize, KeyType } from './names';
import type { EncryptionSettings, Plan, StepId } from './plan';
import type { AccountGroup, FleetTally, KeyIndex } from './fleet-tally';

/** The default task queue the worker polls and the bot starts runs on. */
export const DEFAULT_TASK_QUEUE = 'cmk-runbook';

/** Operations a user can run; approval policy is set per operation. */
export const OPERATIONS = [
  'configure',
  'rotate',
  'changeKey',
  'revoke',
  'disable',
  'setRotationPolicy',
  'fleetRotate',
  'updateVersion',
  'restoreAccess',
] as const;
export type Operation = (typeof OPERATIONS)[number];

/** How each operation is spelled in its configuration keys (`CMK_APPROVERS_<SUFFIX>`, `CMK_QUORUM_<SUFFIX>`). */
export const OPERATION_ENV_SUFFIX: Record<Operation, string> = {
  configure: 'CONFIGURE',
  rotate: 'ROTATE',
  changeKey: 'CHANGE_KEY',
  revoke: 'REVOKE',
  disable: 'DISABLE',
  setRotationPolicy: 'SET_ROTATION_POLICY',
  fleetRotate: 'FLEET_ROTATE',
  updateVersion: 'UPDATE_VERSION',
  restoreAccess: 'RESTORE_ACCESS',
};

/** Workflow type names, as the Temporal UI lists them. */
export const WORKFLOW_TYPES = {
  configure: 'configureCmk',
  rotate: 'rotateKey',
  changeKey: 'changeKey',
  revoke: 'revokeAccess',
  disable: 'disableCmk',
  setRotationPolicy: 'setRotationPolicy',
  fleetRotate: 'fleetRotate',
  updateVersion: 'updateKeyVersion',
  restoreAccess: 'restoreAccess',
} as const satisfies Record<Operation, string>;

/** Human titles for operations (cards, summaries). */
export const OPERATION_TITLES: Record<Operation, string> = {
  configure: 'Configure CMK',
  rotate: 'Rotate key',
  changeKey: 'Change key',
  revoke: 'Revoke key access',
  disable: 'Disable CMK',
  setRotationPolicy: 'Set rotation policy',
  fleetRotate: 'Fleet rotation',
  updateVersion: 'Update key version',
  restoreAccess: 'Restore key access',
};

/** Custom search attributes, registered on the server (see `SEARCH_ATTRIBUTES`). No secrets. */
export const SA = {
  account: defineSearchAttributeKey('CmkAccount', 'KEYWORD'),
  vault: defineSearchAttributeKey('CmkVault', 'KEYWORD'),
  operation: defineSearchAttributeKey('CmkOperation', 'KEYWORD'),
  stage: defineSearchAttributeKey('CmkStage', 'KEYWORD'),
  approval: defineSearchAttributeKey('ApprovalStatus', 'KEYWORD'),
  requestedBy: defineSearchAttributeKey('RequestedBy', 'KEYWORD'),
  /** How the run ended ({@link RunOutcome}), or `running` until it does. */
  outcome: defineSearchAttributeKey('CmkOutcome', 'KEYWORD'),
} as const;

/** `Name=Type` pairs for `temporal server start-dev --search-attribute` and operator registration. */
export const SEARCH_ATTRIBUTES: readonly string[] = Object.values(SA).map((key) => `${key.name}=Keyword`);

/** Everything every runbook gets at start: who asked, where to report, the bot's proof of both. */
export interface RunContext {
  requester: Person;
  /** Where the command came from; absent for runs nobody reports on (then nothing is posted). */
  conversation?: ConversationRef;
  /**
   * The bot's signature over requester, operation, target and conversation (`StartClaims`).
   * A run that cannot verify it ends `invalid` before any call to Azure.
   */
  startProof?: string;
  /**
   * Runs started before the worker owned the policy carried it here; only their replay reads
   * it. New runs ignore it and use the worker's policy, recorded in their history.
   */
  policy?: ApprovalPolicy;
  /** Base URL of the Temporal UI, for links on cards. */
  uiBaseUrl?: string;
  /** A fleet's child: the fleet's card reports it, so it posts no card of its own. */
  quiet?: boolean;
}

/** Which identity the storage account uses to reach the key. */
export type IdentityChoice = { type: 'SystemAssigned' } | { type: 'UserAssigned'; resourceId: string };

/** The vault a runbook uses; created with soft delete + purge protection if missing and allowed. */
export interface VaultChoice {
  name: string;
  /** Defaults to the account's resource group. */
  resourceGroup?: string;
  /** Defaults to the account's subscription. */
  subscriptionId?: string;
  /** New vaults use RBAC (Key Vault API 2026-02-01 default) unless false. */
  rbac?: boolean;
  sku?: 'standard' | 'premium';
  /** The runbook may turn purge protection on for an existing vault (irreversible). */
  allowPurgeProtection?: boolean;
}

/** The key a runbook uses; created if missing. */
export interface KeyChoice {
  name: string;
  /** Type and size of a key the run creates. */
  type: KeyType;
  size: KeySize;
  /** An existing version to use (and pin the account to); the key must exist then. */
  version?: string;
  /**
   * The requester named the type or size: an existing key of another type or size blocks the
   * plan instead of being used as it is.
   */
  mustMatch?: boolean;
}

/** Input of `configureCmk`. */
export interface ConfigureCmkInput extends RunContext {
  account: AccountRef;
  vault: VaultChoice;
  key: KeyChoice;
  identity: IdentityChoice;
  /** Pin the account to the key version created/used now instead of versionless. */
  pinVersion: boolean;
}

/** Input of `rotateKey`. */
export interface RotateKeyInput extends RunContext {
  account: AccountRef;
  /** How long to wait for Azure to pick up a new version on versionless accounts. */
  confirmWithin?: string;
  /** A fleet's rotation: accounts on one key end on the one version it tags (default: this run). */
  rotationId?: string;
  /**
   * A fleet's account that starts once the version `rotationId` tags was made (by the fleet, for
   * a key several of its accounts share, or by the key's first account): it skips the paced
   * queue of Key Vault creates. Only pacing depends on it; `rotateKey`
   * still makes the version when it finds none tagged.
   */
  followsKeyLeader?: boolean;
  /**
   * A scheduled rotation's period start (ISO time): a key version made since then is this
   * period's rotation of the key, and the account is moved to it instead of rotating again.
   */
  adoptSince?: string;
}

/** Input of `changeKey`. */
export interface ChangeKeyInput extends RunContext {
  account: AccountRef;
  vault?: VaultChoice;
  key: KeyChoice;
  /** Pinned or versionless after the change; absent keeps the account's current mode. */
  pinVersion?: boolean;
}

/** Which version `updateKeyVersion` moves a CMK account to. */
export type VersionTarget =
  { kind: 'latest' } | { kind: 'previous' } | { kind: 'named'; version: string } | { kind: 'versionless' };

/** Input of `updateKeyVersion`: the account stays on its key and moves to another version of it. */
export interface UpdateVersionInput extends RunContext {
  account: AccountRef;
  target: VersionTarget;
}

/** Input of `restoreAccess`: undo a revocation of the account's key access. */
export interface RestoreAccessInput extends RunContext {
  account: AccountRef;
}

/** Input of `revokeAccess`. */
export interface RevokeAccessInput extends RunContext {
  account: AccountRef;
  /** Also disable the key version in use. */
  disableKey: boolean;
  /**
   * How long to wait for blob access to be denied once access is removed (default 15 minutes:
   * Azure Storage keeps a key it unwrapped for a while, and RBAC removals propagate in minutes).
   */
  confirmWithin?: string;
}

/** Input of `disableCmk`. */
export interface DisableCmkInput extends RunContext {
  account: AccountRef;
}

/** A Key Vault key by vault name (global) and key name. */
export interface KeyRef {
  vault: string;
  name: string;
}

/** Input of `setRotationPolicy`: durations like "90d" or ISO 8601. */
export interface SetRotationPolicyInput extends RunContext {
  /** The account whose key gets the policy (runs started before keys could be named). */
  account?: AccountRef;
  /** The key itself, by vault and name (vault names are global); the run locks the key, not an account. */
  key?: KeyRef;
  rotateAfter?: string;
  rotateBeforeExpiry?: string;
  expiresAfter?: string;
  notifyBeforeExpiry?: string;
}

/** Input of `fleetRotate`. */
export interface FleetRotateInput extends RunContext {
  accounts: AccountRef[];
  /** How the accounts were chosen, in words ("with tag env=prod"), for the cards. */
  selection?: string;
  /** In-flight children; sized to the ARM write budget. */
  concurrency?: number;
  /**
   * The accounts in compact form (by subscription and resource group), besides `accounts`: how a
   * fleet hands on the accounts still to rotate over a continue-as-new, and how a large fleet
   * can be started within Temporal's payload limit.
   */
  groups?: AccountGroup[];
  /** Outcomes carried over a continue-as-new by fleets started before {@link tally}; replay only. */
  carried?: FleetOutcome[];
  /** Counts and failures (capped) carried over a continue-as-new; never every account's outcome. */
  tally?: FleetTally;
  /** Accounts handled per run before continuing as new (default 200). */
  accountsPerRun?: number;
  /** The progress card an earlier run of the chain posted; honoured only in a continued run. */
  cardMessageId?: string;
  /** Names this fleet's rotation on each key's new version; set by the fleet, carried over a continue-as-new. */
  rotationId?: string;
  /**
   * The key each account handed on uses, as the run that handed them on knew it (its re-check or
   * its `keysInUse`), in the order the continued run reads its accounts; honoured only in a
   * continued run, which then does not read them again.
   */
  keysOfAccounts?: KeyIndex;
}

/** One account's outcome in a fleet run. */
export interface FleetOutcome {
  account: AccountRef;
  outcome: RunOutcome;
  message: string;
}

/**
 * How a run ended. `cancelled`: withdrawn by its requester or an approver (or cancelled in
 * Temporal) before any change; `pending`: changed, but the confirmation did not finish.
 */
export const RUN_OUTCOMES = [
  'succeeded',
  'rejected',
  'expired',
  'blocked',
  'cancelled',
  'invalid',
  'failed',
  'pending',
] as const;
export type RunOutcome = (typeof RUN_OUTCOMES)[number];

/** What the `CmkOutcome` search attribute holds: the outcome, or `running` while there is none. */
export type OutcomeAttribute = RunOutcome | 'running';

/** What one step did. */
export interface StepResult {
  id: StepId;
  title: string;
  status: 'done' | 'skipped' | 'failed' | 'compensated';
  detail?: string;
  at: string;
}

/** The result of every runbook. */
export interface RunResult {
  outcome: RunOutcome;
  /** One sentence for chat: what happened and, when it failed, what to do. */
  message: string;
  plan?: Plan;
  steps: StepResult[];
  /** The account's encryption settings when the run ended. */
  encryption?: EncryptionSettings;
  /** What was left in Azure after a failure (e.g. a vault that was created). */
  remaining: string[];
  /** The error type when outcome is failed/blocked/invalid. */
  errorType?: string;
  /**
   * A fleet's outcomes: every account's (fleets started before bounded results), or its
   * failures (capped) and a sample of its latest successes, with {@link fleetCounts}.
   */
  fleet?: FleetOutcome[];
  /** A fleet's accounts by outcome; with it, `fleet` lists only some of them. */
  fleetCounts?: Record<string, number>;
}
