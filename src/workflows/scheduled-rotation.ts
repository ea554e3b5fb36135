/**
 * `scheduledRotation`: what a Temporal Schedule starts. It runs `rotateKey` as a child under
 * the account's own workflow id, so it never overlaps a chat-started run; a busy account is
 * reported, not waited for.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { executeChild } from '@temporalio/workflow';
import { validateAccountRef, workflowIdFor } from '../shared/accounts';
import type { RunResult } from '../shared/runbooks';
import {
  SCHEDULE_REQUESTER,
  searchAttributesFor,
  startTargetOf,
  type ScheduledRotationInput,
} from '../shared/start';
import { summaryLine } from '../shared/status';
import { rotateKey } from './rotate-key';
import { childSearchAttributes } from './children';
import { invalidResult } from './runbook';
import { establishTrust } from './trust';

/** One scheduled rotation of one account. */
export async function scheduledRotation(input: ScheduledRotationInput): Promise<RunResult> {
  let account;
  let trust;
  try {
    account = validateAccountRef(input.account);
    trust = await establishTrust('scheduleRotation', startTargetOf(account), {
      requester: input.owner ?? SCHEDULE_REQUESTER,
      conversation: input.conversation,
      startProof: input.startProof,
      policy: input.policy,
      uiBaseUrl: input.uiBaseUrl,
    });
  } catch (error) {
    return invalidResult(error);
  }
  const requester = trust.requester;
  const workflowId = workflowIdFor(account);
  // Schedules set up before the worker owned the policy hand theirs on; new ones hand on the proof.
  const context = trust.startProof
    ? { requester, conversation: trust.conversation, startProof: trust.startProof }
    : { requester, policy: input.policy, conversation: input.conversation };
  try {
    return await executeChild(rotateKey, {
      workflowId,
      args: [{ account, ...context, uiBaseUrl: input.uiBaseUrl, confirmWithin: input.confirmWithin }],
      // RequestedBy says how the run came (a schedule), whoever owns the schedule.
      typedSearchAttributes: childSearchAttributes(
        searchAttributesFor('rotate', account, SCHEDULE_REQUESTER),
      ),
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
