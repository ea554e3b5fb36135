/**
 * Approvals: who may approve what, the `decide` update, the `status` query and the
 * status every card is drawn from. Pure; imported by workflows, the bot and tests.
 */
import { defineQuery, defineUpdate } from '@temporalio/workflow';
import type { AccountRef } from './accounts';
import type { ConversationRef } from './chat';
import type { Plan } from './plan';
import {
  OPERATION_ENV_SUFFIX,
  OPERATIONS,
  type Operation,
  type RunResult,
  type StepResult,
} from './runbooks';

/** A person, by Entra (AAD) object id; the name is for display only. */
export interface Person {
  aadObjectId: string;
  name: string;
}

/**
 * What a person may ask the bot for: every runbook operation, plus setting up and removing a
 * rotation schedule. Each has its own requester list in the policy.
 */
export const REQUEST_OPERATIONS = [...OPERATIONS, 'scheduleRotation', 'unscheduleRotation'] as const;
export type RequestOperation = (typeof REQUEST_OPERATIONS)[number];

/** How each request operation is spelled in its configuration keys (`CMK_REQUESTERS_<SUFFIX>`). */
export const REQUEST_ENV_SUFFIX: Record<RequestOperation, string> = {
  ...OPERATION_ENV_SUFFIX,
  scheduleRotation: 'SCHEDULE_ROTATION',
  unscheduleRotation: 'UNSCHEDULE_ROTATION',
};

/** In a requester list: every member of the configured tenant. */
export const ANY_MEMBER = '*';

/**
 * Who may ask for and approve each operation, and how many must approve. The worker's
 * configuration, loaded where it starts; a run records the policy it used (and its hash).
 */
export interface ApprovalPolicy {
  /** AAD object ids allowed to approve, per operation. */
  approvers: Partial<Record<Operation, string[]>>;
  /** Approvals needed, per operation (default 1 where approval is required). */
  quorum: Partial<Record<Operation, number>>;
  /** How long an approval may take, e.g. "24h". On expiry the run ends `expired`. */
  deadline: string;
  /** The tenant requesters and approvers must belong to; anything from another tenant is refused. */
  tenantId?: string;
  /** Operations that need approval even when the plan is not destructive. */
  alwaysApprove?: Operation[];
  /** Role separation: each listed role must contribute at least one approval (e.g. Key Vault and Storage). */
  roles?: Partial<Record<Operation, ApprovalRole[]>>;
  /** Who may ask for each operation: AAD object ids, or {@link ANY_MEMBER}. Unlisted means nobody. */
  requesters?: Partial<Record<RequestOperation, string[]>>;
}

/** A group of approvers of which at least one must approve; its members may approve the operation. */
export interface ApprovalRole {
  name: string;
  /** AAD object ids. */
  approvers: string[];
}

/** The verdicts an approver can give. */
export const VERDICTS = ['approve', 'reject'] as const;
export type Verdict = (typeof VERDICTS)[number];

/** One approver's decision as recorded by the workflow. */
export interface Decision {
  approverAadId: string;
  approverName: string;
  verdict: Verdict;
  comment?: string;
  /** ISO time the workflow accepted it. */
  at: string;
  /** Fingerprint of the plan the decision was made on. */
  fingerprint: string;
  /** The id of the signed click (the Teams invoke id); absent in runs from before decisions were signed. */
  proofId?: string;
}

/**
 * What the bot sends with `decide`. The fields say what the person did; `proof` is the bot's
 * signature over them (see `DecisionClaims`), and the validator refuses any field it does not cover.
 */
export interface DecideInput {
  approverAadId: string;
  approverName: string;
  /** Tenant of the Teams activity; checked against the policy. */
  tenantId?: string;
  verdict: Verdict;
  comment?: string;
  /** Fingerprint shown on the card clicked; a stale card is refused. */
  fingerprint?: string;
  /** Compact JWS signed by the bot over the decision; required by every run that loads its policy from the worker. */
  proof?: string;
}

/** State of the approval gate. */
export const APPROVAL_STATES = [
  'not-required',
  'pending',
  'approved',
  'rejected',
  'expired',
  'lapsed',
  'cancelled',
] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

/** The approval as a card shows it. */
export interface ApprovalView {
  state: ApprovalState;
  quorum: number;
  approvers: string[];
  decisions: Decision[];
  /** ISO time the approval expires, while pending. */
  deadline?: string;
  /** ISO time approval was asked for (with `deadline`, the window approvers had). */
  openedAt?: string;
  /** Why an earlier approval lapsed (plan drift). */
  lapsedReason?: string;
}

/** Stages the `CmkStage` search attribute and cards show. */
export const STAGES = [
  'preflight',
  'awaiting-approval',
  'running',
  'confirming',
  'compensating',
  'done',
] as const;
export type Stage = (typeof STAGES)[number];

/** Everything a card needs, returned by the `status` query and sent to chat activities. */
export interface RunStatus {
  workflowId: string;
  runId: string;
  operation: Operation;
  account: AccountRef;
  requester: Person;
  stage: Stage;
  /** One line, e.g. "Configure CMK · stcontoso · kv-contoso/cmk-key (versionless)". */
  summary: string;
  plan?: Plan;
  approval: ApprovalView;
  steps: StepResult[];
  result?: RunResult;
  /** Temporal UI link for this run, when the UI base URL is configured. */
  uiUrl?: string;
  /** sha256 of the worker's policy this run uses (canonical JSON); absent in runs that carried their own. */
  policyHash?: string;
  /** Who withdrew the run from chat, and when; the run ends `cancelled` before any change. */
  cancelled?: { by: Person; at: string };
  /**
   * Message ids of the cards the run itself edits at every change (its own, and those it was
   * asked to follow): the bot leaves those to the run, so its edit never lands after the run's.
   */
  cards?: string[];
  /** Where the approvers were asked, when an approvals conversation is configured: its name and a link. */
  approvalsRequest?: { name: string; url: string };
  /**
   * What the run acts on when it is not one storage account (a key's rotation policy, a fleet):
   * cards show it instead of `account`, which then only names it.
   */
  subject?: RunSubject;
  /** A fleet rotation's progress: counts and the accounts worth showing. */
  fleet?: FleetProgress;
}

/** How far a fleet rotation got, for its progress card (rows capped, failures first). */
export interface FleetProgress {
  total: number;
  /** Accounts by how they ended so far (`succeeded`, `failed`, `blocked`, …); the rest wait or run. */
  counts: Record<string, number>;
  /** At most a few dozen accounts: those that did not succeed first, then the latest. */
  rows: { name: string; outcome: string; message: string }[];
}

/** A run's target other than one storage account, as cards name it. */
export interface RunSubject {
  kind: 'key' | 'fleet';
  /** Short, e.g. "kv-contoso/cmk-key" or "12 accounts (tag env=prod)". */
  label: string;
  /** Long, e.g. the key URI or the selection. */
  id: string;
}

/**
 * What the bot sends with `cancel`: who asks to withdraw the run, and the bot's signature over
 * it (`RunActionClaims`, action `cancel`); the validator refuses anything the proof does not cover.
 */
export interface CancelInput {
  aadObjectId: string;
  name: string;
  tenantId?: string;
  proof?: string;
}

/**
 * Withdraws a run that has not changed anything yet; only its requester or an approver of its
 * operation may, and the validator says why anyone else may not. Returns the status it left.
 */
export const cancelUpdate = defineUpdate<RunStatus, [CancelInput]>('cancel');

/**
 * What the bot sends with `follow` after it posted a card of the run elsewhere (the answer to
 * `status`): the card's conversation and message, so the run edits it too until it ends.
 */
export interface FollowInput {
  aadObjectId: string;
  name: string;
  tenantId?: string;
  conversation: ConversationRef;
  messageId: string;
  proof?: string;
}

/** Keeps one more card of the run up to date (signed by the bot like every other action). */
export const followUpdate = defineUpdate<RunStatus, [FollowInput]>('follow');

/** Approve or reject; the validator refuses with a precise reason the bot shows to the clicker. */
export const decideUpdate = defineUpdate<RunStatus, [DecideInput]>('decide');

/** The run's status for cards and the `status` command. */
export const statusQuery = defineQuery<RunStatus>('status');

/** Approvals needed for an operation under a policy; at least one wherever approval is required. */
export function quorumFor(policy: ApprovalPolicy, operation: Operation): number {
  return Math.max(1, policy.quorum[operation] ?? 1);
}

/** Approver allow-list for an operation (including role members), lowercased. */
export function approversFor(policy: ApprovalPolicy, operation: Operation): string[] {
  const ids = [
    ...(policy.approvers[operation] ?? []),
    ...(policy.roles?.[operation] ?? []).flatMap((role) => role.approvers),
  ].map((id) => id.toLowerCase());
  return [...new Set(ids)];
}

/** Whether a person may ask for an operation under a policy. */
export function mayRequest(
  policy: ApprovalPolicy,
  operation: RequestOperation,
  aadObjectId: string,
): boolean {
  const allowed = (policy.requesters?.[operation] ?? []).map((id) => id.toLowerCase());
  return allowed.includes(ANY_MEMBER) || allowed.includes(aadObjectId.toLowerCase());
}

/** Tenant ids are GUIDs: equal ignoring case, and never equal when either is missing. */
export function sameTenant(a: string | undefined, b: string | undefined): boolean {
  return Boolean(a && b && a.toLowerCase() === b.toLowerCase());
}
