/**
 * How runs are started: workflow id, task queue, conflict policy, search attributes and UI text
 * for each runbook, and the ids of rotation schedules. Pure; the bot, scripts and tests share it.
 */
import type { SearchAttributePair } from '@temporalio/common';
import { accountId, workflowIdFor, type AccountRef } from './accounts';
import type { ApprovalPolicy, Person } from './approval';
import type { ConversationRef } from './chat';
import {
  SA,
  WORKFLOW_TYPES,
  type ChangeKeyInput,
  type ConfigureCmkInput,
  type DisableCmkInput,
  type FleetRotateInput,
  type Operation,
  type KeyRef,
  type RestoreAccessInput,
  type RevokeAccessInput,
  type RotateKeyInput,
  type SetRotationPolicyInput,
  type UpdateVersionInput,
} from './runbooks';
import { rulesMemo } from './rules';
import { requestMarkdown, summaryLine } from './status';
import { describeVersionTarget } from './version-target';

/** The input type of each operation's workflow. */
export interface InputByOperation {
  configure: ConfigureCmkInput;
  rotate: RotateKeyInput;
  changeKey: ChangeKeyInput;
  revoke: RevokeAccessInput;
  disable: DisableCmkInput;
  setRotationPolicy: SetRotationPolicyInput;
  fleetRotate: FleetRotateInput;
  updateVersion: UpdateVersionInput;
  restoreAccess: RestoreAccessInput;
}

/** A runbook to start: an operation and its input. */
export type StartRequest = {
  [O in Operation]: { operation: O; input: InputByOperation[O] };
}[Operation];

/** Everything `client.workflow.start(workflowType, options)` needs; contains no secrets. */
export interface StartOptions<O extends Operation> {
  workflowType: (typeof WORKFLOW_TYPES)[O];
  workflowId: string;
  taskQueue: string;
  args: [InputByOperation[O]];
  workflowIdConflictPolicy: 'FAIL';
  workflowIdReusePolicy: 'ALLOW_DUPLICATE';
  typedSearchAttributes: SearchAttributePair[];
  staticSummary: string;
  staticDetails: string;
  /** The rules the run starts under (src/shared/rules.ts). */
  memo: Record<string, string>;
}

/**
 * Search attributes a run starts with: account, vault, operation, stage, approval, how it was
 * requested, and its outcome (`running` until it ends). They are stored in clear (the codec never sees them), so they hold no personal data:
 * `RequestedBy` says `chat` or `schedule`; who asked is in the run's (encrypted) input and details.
 */
export function searchAttributesFor(
  operation: Operation,
  account: AccountRef | undefined,
  requester: Person,
  vaultName?: string,
): SearchAttributePair[] {
  const pairs: SearchAttributePair[] = [
    { key: SA.operation, value: operation },
    { key: SA.stage, value: 'preflight' },
    { key: SA.approval, value: 'not-required' },
    { key: SA.requestedBy, value: requesterKind(requester) },
    // Set at start so a server without it refuses the start, instead of failing the run's upsert later.
    { key: SA.outcome, value: 'running' },
  ];
  if (account) pairs.push({ key: SA.account, value: accountId(account).toLowerCase() });
  if (vaultName) pairs.push({ key: SA.vault, value: vaultName.toLowerCase() });
  return pairs;
}

/** What a start proof names as the run's target: the account's resource id, lowercased. */
export function startTargetOf(account: AccountRef): string {
  return accountId(account).toLowerCase();
}

/** `RequestedBy`: `schedule` for a rotation schedule's runs, `chat` for everyone's requests. */
export function requesterKind(requester: Person): 'chat' | 'schedule' {
  return requester.aadObjectId === SCHEDULE_REQUESTER.aadObjectId ? 'schedule' : 'chat';
}

/**
 * The workflow id of a fleet run: its start time and a random suffix (fleets hold no account
 * lock). Workflow ids are stored in clear, so no person's id is part of it.
 */
export function fleetWorkflowId(startedAt: Date, suffix = Math.random().toString(16).slice(2, 10)): string {
  return `cmk-fleet/${startedAt.toISOString()}/${suffix}`;
}

/** What a start proof names as the target of a run on a key: `key:<vault>/<key>`, lowercased. */
export function keyTargetOf(key: KeyRef): string {
  return `key:${key.vault}/${key.name}`.toLowerCase();
}

/**
 * The workflow id of a run on a key (a rotation policy): `cmk-key/<vault>/<key>`, lowercased,
 * so two runs can never change one key's policy at once. Vault names are global.
 */
export function keyWorkflowId(key: KeyRef): string {
  return `cmk-key/${key.vault}/${key.name}`.toLowerCase();
}

/**
 * The target a run's start proof names: the account, the key (a rotation policy on a key), or
 * the run's own workflow id (a fleet, which names its accounts in its input).
 */
export function proofTargetOf(input: InputByOperation[Operation], workflowId: string): string {
  if ('account' in input && input.account) return startTargetOf(input.account);
  if ('key' in input && input.key && 'vault' in input.key) return keyTargetOf(input.key);
  return workflowId;
}

/**
 * Start options for a runbook: the account's workflow id with conflict policy FAIL, so a second
 * run on a busy account is refused with the id of the run that holds it.
 */
export function startOptionsFor<O extends Operation>(
  operation: O,
  input: InputByOperation[O],
  taskQueue: string,
  { now = new Date(), workflowId }: { now?: Date; workflowId?: string } = {},
): StartOptions<O> {
  const account = 'account' in input ? input.account : undefined;
  const key = 'key' in input ? input.key : undefined;
  const onKey = key && 'vault' in key ? key : undefined;
  const vault = 'vault' in input ? input.vault?.name : onKey?.vault;
  const keyName = key?.name;
  const pinVersion = 'pinVersion' in input ? input.pinVersion : undefined;
  const accounts = 'accounts' in input ? input.accounts.length : undefined;
  const target = 'target' in input ? describeVersionTarget(input.target) : undefined;
  const details: Record<string, string | number | boolean | undefined> = {
    Vault: vault,
    Key: keyName,
    'Key version': pinVersion === undefined ? undefined : pinVersion ? 'pinned' : 'versionless',
    Accounts: accounts,
  };
  if ('disableKey' in input) details['Disable key'] = input.disableKey;
  return {
    workflowType: WORKFLOW_TYPES[operation],
    workflowId: account
      ? workflowIdFor(account)
      : onKey
        ? keyWorkflowId(onKey)
        : (workflowId ?? fleetWorkflowId(now)),
    taskQueue,
    args: [input],
    workflowIdConflictPolicy: 'FAIL',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    typedSearchAttributes: searchAttributesFor(operation, account, input.requester, vault),
    staticSummary: [summaryLine(operation, account, { vault, key: keyName, pinVersion, accounts }), target]
      .filter(Boolean)
      .join(' · '),
    staticDetails: requestMarkdown(operation, account, input.requester.name, details),
    memo: rulesMemo(),
  };
}

/** The workflow type a rotation schedule starts. */
export const SCHEDULED_ROTATION_WORKFLOW = 'scheduledRotation';

/** Input of `scheduledRotation`: which account, and the conversation its child run reports into. */
export interface ScheduledRotationInput {
  account: AccountRef;
  /** The bot's signature over the schedule's owner, account and conversation (operation `scheduleRotation`). */
  startProof?: string;
  /** Only in schedules set up before the worker owned the policy; ignored by new runs. */
  policy?: ApprovalPolicy;
  /** Where to report each rotation; absent means the run is visible only in Temporal. */
  conversation?: ConversationRef;
  uiBaseUrl?: string;
  confirmWithin?: string;
  /** Who set the schedule up; shown as the requester of each rotation. */
  owner?: Person;
  /**
   * The schedule's period in ms: a tick that finds the account busy retries within it instead of
   * skipping it. Absent in schedules set up before, whose busy ticks are skipped.
   */
  everyMs?: number;
}

/**
 * The shortest rotation cadence a schedule may have: Key Vault's own rotation policy rotates at
 * most every 7 days (learn.microsoft.com, "Configure key auto-rotation in Azure Key Vault"), and
 * every rotation leaves a key version behind and asks Azure Storage to move to it.
 */
export const MIN_ROTATION_EVERY = '7d';
/** {@link MIN_ROTATION_EVERY} in milliseconds. */
export const MIN_ROTATION_EVERY_MS = 7 * 86_400_000;

/** How often a busy tick tries again: a tenth of the period, between a minute and an hour. */
export function busyRetryEveryMs(everyMs: number): number {
  return Math.min(3_600_000, Math.max(1_000, Math.floor(everyMs / 10)));
}

/** The id of an account's rotation schedule: `schedule/cmk-rotate/<account resource id, lowercased>`. */
export function scheduleIdFor(account: AccountRef): string {
  return `schedule/cmk-rotate/${accountId(account).toLowerCase()}`;
}

/** The requester scheduled runs report when no owner was given. */
export const SCHEDULE_REQUESTER: Person = { aadObjectId: 'temporal-schedule', name: 'Rotation schedule' };
