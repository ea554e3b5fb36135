/**
 * What the `decide` validator believes about a decision: only what the bot signed. The proof
 * must verify against the keys the run recorded at its start, be fresh, belong to this run and
 * say exactly what the update says; otherwise a refusal says why, in a plain sentence.
 */
import { workflowInfo } from '@temporalio/workflow';
import { sameTenant, type DecideInput } from '../shared/approval';
import { ProofNotValid, verifyDecisionProof, type BotPublicKey, type DecisionClaims } from '../shared/proof';
import { DecisionProofInvalid, StaleCard } from '../shared/refusals';

/**
 * The decision's signed claims. `keys` are the bot keys the run recorded (undefined for runs from
 * before decisions were signed: those take none); `nowMs` is the workflow's clock.
 */
export function verifiedDecision(
  input: DecideInput,
  keys: readonly BotPublicKey[] | undefined,
  nowMs: number,
): DecisionClaims {
  if (!keys) {
    throw new DecisionProofInvalid(
      'This run was started before decisions were signed by the bot, so it takes no decisions; start it again.',
    );
  }
  let claims: DecisionClaims;
  try {
    claims = verifyDecisionProof(input.proof, keys, nowMs);
  } catch (error) {
    if (!(error instanceof ProofNotValid)) throw error;
    throw new DecisionProofInvalid(refusalOf(error));
  }
  const info = workflowInfo();
  if (claims.wf !== info.workflowId || claims.run !== info.runId) {
    throw new StaleCard('This card belongs to another run of this account; refresh it.');
  }
  const matches =
    claims.sub === input.approverAadId.toLowerCase() &&
    claims.name === (input.approverName ?? '') &&
    claims.verdict === input.verdict &&
    claims.fp === input.fingerprint &&
    (claims.comment ?? '') === (input.comment ?? '') &&
    sameTenant(claims.tid, input.tenantId);
  if (!matches)
    throw new DecisionProofInvalid('This decision says something other than what the bot signed.');
  return claims;
}

function refusalOf(problem: ProofNotValid): string {
  switch (problem.problem) {
    case 'missing':
      return 'This decision is not signed by the bot; decisions are taken only from the run card in Teams.';
    case 'expired':
    case 'not-yet-valid':
      return `This decision's signature is out of date (${problem.message}); click the card again.`;
    default:
      return `This decision's signature does not verify against the bot keys this worker trusts (${problem.message}).`;
  }
}
