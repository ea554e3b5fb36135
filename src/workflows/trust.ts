/**
 * What a run may trust, settled before it touches anything: the worker's policy and bot keys
 * (one activity, so they are recorded in the run's history) and the requester and conversation
 * the bot signed for. Nothing in a start request can widen the policy. Runs started before the
 * worker owned the policy replay with what their input carried.
 *
 * The start proof's signature is verified by the worker, in the settings activity, not here in
 * the sandbox (where pure-JS Ed25519 cost a fleet's every rotation a fifth of the worker's CPU).
 * The run trusts that verdict exactly as far as it already trusts the same activity's policy and
 * bot keys: both come from the worker's own configuration, and whoever could answer that activity
 * in the worker's place could already hand the run its own keys and policy (a task-queue poller
 * counts as the worker). The verdict is recorded in history, so a replay reads it instead of
 * re-deriving it. Everything that depends on the run rather than the signature stays here: the
 * proof's scope (operation and target, a parent's or a fleet's), its lifetime, the requester, the
 * tenant, who may ask, the conversation's service URL.
 * Runs started before this keep verifying the signature in the workflow.
 */
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import { validateAccountRef, type AccountRef } from '../shared/accounts';
import {
  mayRequest,
  sameTenant,
  REQUEST_ENV_SUFFIX,
  type ApprovalPolicy,
  type Person,
  type RequestOperation,
} from '../shared/approval';
import type { RunSettings, SettingsActivities } from '../shared/activities';
import { isTrustedServiceUrl, type ApprovalsConversation, type ConversationRef } from '../shared/chat';
import {
  checkFreshness,
  claimsOf,
  ProofNotValid,
  verifyStartProof,
  type BotPublicKey,
  type StartClaims,
} from '../shared/proof';
import { NotInTenant, RequesterNotAllowed, StartProofInvalid, UntrustedServiceUrl } from '../shared/refusals';
import { OPERATION_TITLES, type Operation, type RunContext } from '../shared/runbooks';
import { PATCHES, inForce } from './patches';

/** A run's context once its start is verified: what the gate, the card and the chat use. */
export interface TrustedContext {
  requester: Person;
  conversation?: ConversationRef;
  policy: ApprovalPolicy;
  uiBaseUrl?: string;
  /** Keys decisions must be signed with; undefined only for runs from before decisions were signed. */
  botKeys?: BotPublicKey[];
  /** sha256 of the policy, as the worker computed it. */
  policyHash?: string;
  /** The verified start proof, handed on to child runs (a schedule's or a fleet's rotations). */
  startProof?: string;
  /** The chat connectors the worker sends to; a card to follow must be behind one of them. */
  trustedServiceUrls?: readonly string[];
  /** Where approval requests are also posted, as the worker was configured when the run started. */
  approvals?: ApprovalsConversation;
  /** The subscriptions whose ARM write queues the worker polls, as it said when the run started. */
  armWriteSubscriptions?: readonly string[];
}

/** An operation and target a start proof may be signed for. */
interface ProofScope {
  op: RequestOperation;
  target: string;
  requireExpiry: boolean;
  /** The proof of the parent run's start (a schedule's or a fleet's), not of this run's own. */
  inherited?: boolean;
}

/**
 * A queued activity, not a local one: with this SDK a local activity whose result lands at a
 * workflow-task boundary can replay the next `patched` call out of step (a nondeterminism error
 * on a query of a closed run), and every run calls `patched` right after it.
 */
const settings = proxyActivities<SettingsActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', maximumAttempts: 5 },
});

/**
 * Loads the worker's settings and verifies the run's start. `operation` is what the run does
 * (`scheduleRotation` for a schedule's run), `target` what it acts on (`startTargetOf`).
 * Throws a {@link Refusal} that says why, before any call to Azure.
 */
export async function establishTrust(
  operation: Operation | 'scheduleRotation',
  target: string,
  input: RunContext,
): Promise<TrustedContext> {
  if (!inForce(PATCHES.workerOwnedPolicy)) {
    return {
      requester: input.requester,
      conversation: input.conversation,
      policy: input.policy ?? { approvers: {}, quorum: {}, deadline: '24h' },
      uiBaseUrl: input.uiBaseUrl,
    };
  }
  const loaded = inForce(PATCHES.proofVerifiedByWorker)
    ? await settings.loadRunSettings({ startProof: input.startProof })
    : await settings.loadRunSettings();
  const claims = verifiedStart(operation, target, input, loaded);
  const conversation = claims.conv;
  if (conversation && !isTrustedServiceUrl(conversation.serviceUrl, loaded.trustedServiceUrls)) {
    throw new UntrustedServiceUrl(
      `Nothing was started: the conversation's service URL ${String(conversation.serviceUrl)} is not one this worker sends to (CMK_TRUSTED_SERVICE_URLS).`,
    );
  }
  return {
    requester: { aadObjectId: claims.sub, name: claims.name },
    conversation,
    policy: loaded.policy,
    uiBaseUrl: input.uiBaseUrl,
    botKeys: loaded.botKeys,
    policyHash: loaded.policyHash,
    startProof: input.startProof,
    trustedServiceUrls: loaded.trustedServiceUrls,
    ...(loaded.approvals ? { approvals: loaded.approvals } : {}),
    ...(loaded.armWriteSubscriptions ? { armWriteSubscriptions: loaded.armWriteSubscriptions } : {}),
  };
}

/**
 * A start on one account: the account is validated first, then the start is verified for
 * `targetOf(account)` as {@link establishTrust} does. Throws a `ValidationError` or a {@link Refusal}.
 */
export async function establishTrustOn(
  operation: Operation | 'scheduleRotation',
  account: unknown,
  targetOf: (account: AccountRef) => string,
  input: RunContext,
): Promise<{ account: AccountRef; trust: TrustedContext }> {
  const valid = validateAccountRef(account);
  return { account: valid, trust: await establishTrust(operation, targetOf(valid), input) };
}

function verifiedStart(
  operation: Operation | 'scheduleRotation',
  target: string,
  input: RunContext,
  loaded: RunSettings,
): StartClaims {
  let claims: StartClaims;
  try {
    // The worker's verdict when it gave one (runs under `proofVerifiedByWorker`), else verified here.
    claims = loaded.start ? claimsOf(loaded.start) : verifyStartProof(input.startProof, loaded.botKeys);
    const scope = scopesFor(operation, target).find((s) => s.op === claims.op && s.target === claims.target);
    if (!scope) throw new ProofNotValid('wrong-type', `the bot signed for ${claims.op} of ${claims.target}`);
    if (!checkedWhenTheChainStarted(scope))
      checkFreshness(claims, workflowInfo().startTime.getTime(), { requireExpiry: scope.requireExpiry });
  } catch (error) {
    if (!(error instanceof ProofNotValid)) throw error;
    throw new StartProofInvalid(startRefusal(error));
  }
  if (input.requester?.aadObjectId?.toLowerCase() !== claims.sub.toLowerCase()) {
    throw new StartProofInvalid(
      'Nothing was started: the start names another requester than the one the bot signed for.',
    );
  }
  const policy = loaded.policy;
  if (!sameTenant(claims.tid, policy.tenantId)) {
    throw new NotInTenant(
      "Nothing was started: the requester's tenant is not the one this worker serves (CMK_APPROVAL_TENANT_ID).",
    );
  }
  const op = claims.op as RequestOperation;
  if (!mayRequest(policy, op, claims.sub)) {
    const title = op in OPERATION_TITLES ? OPERATION_TITLES[op as Operation] : op;
    throw new RequesterNotAllowed(
      `Nothing was started: ${claims.name || claims.sub} may not ask for ${title} (CMK_REQUESTERS_${REQUEST_ENV_SUFFIX[op] ?? op}).`,
    );
  }
  return claims;
}

/**
 * The operations and targets a start proof may name. A rotation run by a schedule or a fleet
 * (a child run) carries its parent's proof: the schedule's for its account, or the fleet's,
 * whose target is the parent's workflow id; those were checked for expiry when the parent started.
 */
function scopesFor(operation: Operation | 'scheduleRotation', target: string): ProofScope[] {
  const scopes: ProofScope[] = [{ op: operation, target, requireExpiry: operation !== 'scheduleRotation' }];
  const parent = workflowInfo().parent;
  if (operation === 'rotate' && parent) {
    scopes.push({ op: 'scheduleRotation', target, requireExpiry: false, inherited: true });
    scopes.push({ op: 'fleetRotate', target: parent.workflowId, requireExpiry: false, inherited: true });
  }
  return scopes;
}

/**
 * Whether this run acts on a start whose lifetime was already checked: a child's proof is its
 * parent's (checked when the schedule or fleet started), and a continued run's is the one its
 * chain's first run checked. Both facts come from the server (`parent`, `continuedFrom…`), not
 * from input, so a start made from outside the chain is still checked for expiry.
 */
function checkedWhenTheChainStarted(scope: ProofScope): boolean {
  const info = workflowInfo();
  const inherited = scope.inherited === true || info.continuedFromExecutionRunId !== undefined;
  return inherited && inForce(PATCHES.proofCheckedOnce);
}

function startRefusal(problem: ProofNotValid): string {
  switch (problem.problem) {
    case 'missing':
      return 'Nothing was started: the start is not signed by the bot, so it did not come from Teams. Ask in chat.';
    case 'expired':
    case 'not-yet-valid':
      return `Nothing was started: the bot's signature on the start is out of date (${problem.message}); ask again in chat.`;
    case 'wrong-type':
      return `Nothing was started: ${problem.message}, not for this run.`;
    default:
      return `Nothing was started: the start's signature does not verify against the bot keys this worker trusts (${problem.message}).`;
  }
}
