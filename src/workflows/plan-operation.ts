/**
 * `planOperation`: the plan of an operation on one account, and what its approval would need,
 * without running it. Its id is never the account's, so it takes no lock; it posts nothing and
 * changes nothing. The start is the bot's, signed for a preview of that account (a preview's
 * proof cannot start a run), and the requester must be allowed to ask for the operation.
 */
import { approversFor, quorumFor } from '../shared/approval';
import { approvalRequired } from '../shared/approval-rules';
import {
  PLANNABLE_OPERATIONS,
  planTargetOf,
  type PlanOperationInput,
  type PlanPreview,
} from '../shared/preview';
import { Refusal } from '../shared/refusals';
import { ValidationError } from '../shared/names';
import { azure } from './proxies';
import { failureOf } from './runbook';
import { establishTrustOn } from './trust';

/** Plans `input.request` on `input.account` and returns the plan with its approval. */
export async function planOperation(input: PlanOperationInput): Promise<PlanPreview> {
  let started;
  try {
    if (!(PLANNABLE_OPERATIONS as readonly string[]).includes(input.operation))
      throw new ValidationError('operation', `one of ${PLANNABLE_OPERATIONS.join(', ')}`, input.operation);
    started = await establishTrustOn(input.operation, input.account, planTargetOf, input);
  } catch (error) {
    if (error instanceof Refusal || error instanceof ValidationError)
      return { refusal: { type: error.name, message: error.message } };
    throw error;
  }
  const { account, trust } = started;
  let plan;
  try {
    plan = await azure.inspect.executeWithOptions({ summary: `Plan ${input.operation} of ${account.name}` }, [
      { account, request: input.request },
    ]);
  } catch (error) {
    const failure = failureOf(error);
    return { failure: { type: failure.errorType ?? 'Error', message: failure.message } };
  }
  const operation = plan.approvalOperation ?? input.operation;
  const policy = trust.policy;
  return {
    plan,
    approval: {
      required: approvalRequired(plan, operation, policy),
      operation,
      quorum: quorumFor(policy, operation),
      approvers: approversFor(policy, operation),
    },
  };
}
