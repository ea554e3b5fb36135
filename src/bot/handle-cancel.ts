/**
 * `cancel <account>`: withdraws the run in progress on an account. The bot signs who asks; the
 * run's own validator decides whether they may (its requester, or an approver of its operation)
 * and whether it is still early enough (nothing changed in Azure yet).
 */
import { randomUUID } from 'node:crypto';
import { workflowIdFor, type AccountRef } from '../shared/accounts';
import { NothingToCancel } from '../shared/refusals';
import { renderRunCard, type AdaptiveCardJson } from './cards/render';
import type { Member } from './authorize';
import type { RunService } from './run-service';
import type { ProofSigner } from './signing';

/** What cancelling needs from the bot. */
export interface CancelDeps {
  runs: RunService;
  signer: ProofSigner;
}

/**
 * Cancels the account's running run as `member`; returns the run's card as it now stands.
 * Throws {@link NothingToCancel} when no run is in progress, or the run's refusal.
 */
export async function cancelRun(
  deps: CancelDeps,
  member: Member,
  account: AccountRef,
  activityId: string = randomUUID(),
): Promise<AdaptiveCardJson> {
  const workflowId = workflowIdFor(account);
  const runId = await deps.runs.runningRun(workflowId);
  if (!runId) {
    throw new NothingToCancel(`No run is in progress on ${account.name}, so there is nothing to cancel.`);
  }
  const person = { aadObjectId: member.aadObjectId, name: member.name };
  const proof = await deps.signer.signRunAction({
    action: 'cancel',
    workflowId,
    runId,
    person,
    tenantId: member.tenantId,
    activityId,
  });
  const status = await deps.runs.cancel(
    { workflowId, runId },
    { ...person, tenantId: member.tenantId, proof },
    activityId,
  );
  return renderRunCard(status);
}
