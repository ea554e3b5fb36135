/**
 * What a person may do to a run besides deciding: withdraw it (`cancel`) before it changes
 * anything, or have another card of it (the answer to `status`) follow it to its end. Both come
 * signed by the bot; the validators refuse with a sentence the bot shows, and a refusal leaves
 * nothing in the run's history.
 */
import { setHandler, workflowInfo } from '@temporalio/workflow';
import {
  approversFor,
  cancelUpdate,
  followUpdate,
  sameTenant,
  type CancelInput,
  type FollowInput,
  type Stage,
} from '../shared/approval';
import { isTrustedServiceUrl } from '../shared/chat';
import { ProofNotValid, verifyRunActionProof, type RunAction, type RunActionClaims } from '../shared/proof';
import {
  CancelNotAllowed,
  FollowRefused,
  NotInTenant,
  RunActionProofInvalid,
  RunNotCancellable,
  StaleCard,
} from '../shared/refusals';
import { OPERATION_TITLES, type Operation } from '../shared/runbooks';
import type { Run } from './run';

/** Stages before any change in Azure: the only ones in which a run may be withdrawn. */
const CANCELLABLE_STAGES: readonly Stage[] = ['preflight', 'awaiting-approval'];

/**
 * Registers `cancel` and `follow` on a run. `policyOperation` names the operation whose
 * approvers may cancel (a configure that is really a key change is governed by change-key's).
 */
export function acceptRunActions(run: Run, policyOperation: () => Operation): void {
  setHandler(
    cancelUpdate,
    (input: CancelInput) => {
      run.cancel({ aadObjectId: input.aadObjectId.toLowerCase(), name: input.name });
      const state = run.status.approval.state;
      if (state === 'pending' || state === 'lapsed') run.setApprovalState('cancelled');
      return run.status;
    },
    {
      validator: (input: CancelInput) => validateCancel(run, policyOperation(), input),
      description: 'Withdraw the run before it changes anything (requester or approver).',
    },
  );
  setHandler(
    followUpdate,
    (input: FollowInput) => {
      run.follow({ conversation: input.conversation, messageId: input.messageId });
      return run.status;
    },
    {
      validator: (input: FollowInput) => validateFollow(run, input),
      description: 'Keep one more card of this run (e.g. an answer to status) up to date.',
    },
  );
}

function validateCancel(run: Run, operation: Operation, input: CancelInput): void {
  const what = `${OPERATION_TITLES[run.operation]} on ${run.account.name}`;
  if (!run.isTrusted) throw new RunNotCancellable(`${what} is still starting; try again in a moment.`);
  const cancelled = run.status.cancelled;
  if (cancelled) throw new RunNotCancellable(`${what} was already cancelled by ${cancelled.by.name}.`);
  if (run.status.result) {
    throw new RunNotCancellable(`${what} has already ended (${run.status.result.outcome}).`);
  }
  if (!CANCELLABLE_STAGES.includes(run.status.stage)) {
    throw new RunNotCancellable(
      `${what} is already changing Azure, so it cannot be withdrawn halfway; it will finish (or put the account back) and its card will say how it ended.`,
    );
  }
  const claims = verifiedAction(run, 'cancel', input);
  const who = claims.sub;
  const requester = run.context.requester;
  if (who === requester.aadObjectId.toLowerCase()) return;
  if (approversFor(run.context.policy, operation).includes(who)) return;
  throw new CancelNotAllowed(
    `Only ${requester.name || 'the person who asked for it'} or an approver of ${OPERATION_TITLES[operation]} may cancel ${what}.`,
  );
}

function validateFollow(run: Run, input: FollowInput): void {
  if (!run.isTrusted) throw new FollowRefused('The run is still starting; ask for its status again.');
  const claims = verifiedAction(run, 'follow', input);
  if (claims.msg !== input.messageId || JSON.stringify(claims.conv) !== JSON.stringify(input.conversation)) {
    throw new RunActionProofInvalid('This card is not the one the bot signed for.');
  }
  if (!isTrustedServiceUrl(input.conversation?.serviceUrl, run.context.trustedServiceUrls ?? [])) {
    throw new FollowRefused(
      `The card's conversation is behind ${String(input.conversation?.serviceUrl)}, a connector this worker does not send to (CMK_TRUSTED_SERVICE_URLS).`,
    );
  }
}

/** The action's signed claims: signed by the bot for this run, this person and this tenant. */
function verifiedAction(
  run: Run,
  action: RunAction,
  input: { aadObjectId: string; name: string; tenantId?: string; proof?: string },
): RunActionClaims {
  const keys = run.context.botKeys;
  if (!keys) {
    throw new RunActionProofInvalid(
      'This run was started before actions were signed by the bot, so it takes none; wait for it to end.',
    );
  }
  if (!input || typeof input.aadObjectId !== 'string') {
    throw new RunActionProofInvalid('An action on a run needs your Entra object id.');
  }
  let claims: RunActionClaims;
  try {
    claims = verifyRunActionProof(input.proof, keys, Date.now());
  } catch (error) {
    if (!(error instanceof ProofNotValid)) throw error;
    throw new RunActionProofInvalid(
      error.problem === 'missing'
        ? `This ${action} is not signed by the bot; use the bot in Teams.`
        : `This ${action}'s signature is not valid (${error.message}); try again in Teams.`,
    );
  }
  const info = workflowInfo();
  if (claims.wf !== info.workflowId || claims.run !== info.runId) {
    throw new StaleCard('That was signed for another run of this account; ask for its status again.');
  }
  const matches =
    claims.act === action &&
    claims.sub === input.aadObjectId.toLowerCase() &&
    claims.name === (input.name ?? '') &&
    sameTenant(claims.tid, input.tenantId);
  if (!matches)
    throw new RunActionProofInvalid(`This ${action} says something other than what the bot signed.`);
  if (!sameTenant(claims.tid, run.context.policy.tenantId)) {
    throw new NotInTenant(
      'You signed in from another tenant; this run takes actions only from its own tenant.',
    );
  }
  return claims;
}
