/**
 * `scheduledRotation`: what a Temporal Schedule starts. It runs `rotateKey` as a child under
 * the account's own workflow id, so it never overlaps a chat-started run; a busy account is
 * reported, not waited for.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { executeChild } from '@temporalio/workflow';
import { validateAccountRef, workflowIdFor } from '../shared/accounts';
import { ValidationError } from '../shared/names';
import type { RunResult } from '../shared/runbooks';
import { SCHEDULE_REQUESTER, searchAttributesFor, type ScheduledRotationInput } from '../shared/start';
import { summaryLine } from '../shared/status';
import { rotateKey } from './rotate-key';
import { childSearchAttributes } from './children';

/** One scheduled rotation of one account. */
export async function scheduledRotation(input: ScheduledRotationInput): Promise<RunResult> {
  let account;
  try {
    account = validateAccountRef(input.account);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return { outcome: 'invalid', message: error.message, steps: [], remaining: [], errorType: error.name };
  }
  const requester = input.owner ?? SCHEDULE_REQUESTER;
  const workflowId = workflowIdFor(account);
  try {
    return await executeChild(rotateKey, {
      workflowId,
      args: [
        {
          account,
          requester,
          policy: input.policy,
          conversation: input.conversation,
          uiBaseUrl: input.uiBaseUrl,
          confirmWithin: input.confirmWithin,
        },
      ],
      typedSearchAttributes: childSearchAttributes(searchAttributesFor('rotate', account, requester)),
      staticSummary: `${summaryLine('rotate', account)} · scheduled`,
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      return {
        outcome: 'blocked',
        message: `${account.name} is busy with run ${workflowId}; this scheduled rotation was skipped and the next one will try again.`,
        steps: [],
        remaining: [],
        errorType: 'AccountBusy',
      };
    }
    throw error;
  }
}
