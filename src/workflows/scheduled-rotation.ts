/**
 * `scheduledRotation`: what a Temporal Schedule starts. It runs `rotateKey` as a child under
 * the account's own workflow id, so it never overlaps a chat-started run; a tick that finds the
 * account busy tries again within its period rather than skipping it. The child reads the
 * worker's policy (and approvals conversation) when it starts, not when the schedule was set up.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { executeChild, patched, sleep, workflowInfo } from '@temporalio/workflow';
import { validateAccountRef, workflowIdFor, type AccountRef } from '../shared/accounts';
import { formatDuration } from '../shared/duration';
import type { RunContext, RunResult } from '../shared/runbooks';
import {
  SCHEDULE_REQUESTER,
  busyRetryEveryMs,
  searchAttributesFor,
  startTargetOf,
  type ScheduledRotationInput,
} from '../shared/start';
import { summaryLine } from '../shared/status';
import { childSearchAttributes } from './children';
import { PATCHES } from './patches';
import { rotateKey } from './rotate-key';
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
  // Schedules set up before the worker owned the policy hand theirs on; new ones hand on the proof.
  const context: RunContext = trust.startProof
    ? { requester, conversation: trust.conversation, startProof: trust.startProof }
    : { requester, policy: input.policy, conversation: input.conversation };
  const rotate = (): Promise<RunResult | 'busy'> => rotateOnce(account, context, input);
  // Asked on every tick, not only a busy one, so each new run records which rules it runs by.
  const retriesWhenBusy = patched(PATCHES.busyTickRetries);

  let result = await rotate();
  if (result !== 'busy') return result;
  if (!input.everyMs || !retriesWhenBusy) return busy(account, input);
  // Retry until the next tick would be due: a busy account waits, it is not skipped for a whole period.
  const retryEvery = busyRetryEveryMs(input.everyMs);
  const giveUpAt = workflowInfo().startTime.getTime() + input.everyMs - retryEvery;
  while (result === 'busy' && Date.now() + retryEvery <= giveUpAt) {
    await sleep(retryEvery);
    result = await rotate();
  }
  return result === 'busy' ? busy(account, input) : result;
}

/** Runs the rotation as the account's run; `busy` when another run holds the account. */
async function rotateOnce(
  account: AccountRef,
  context: RunContext,
  input: ScheduledRotationInput,
): Promise<RunResult | 'busy'> {
  try {
    return await executeChild(rotateKey, {
      workflowId: workflowIdFor(account),
      args: [{ account, ...context, uiBaseUrl: input.uiBaseUrl, confirmWithin: input.confirmWithin }],
      // RequestedBy says how the run came (a schedule), whoever owns the schedule.
      typedSearchAttributes: childSearchAttributes(
        searchAttributesFor('rotate', account, SCHEDULE_REQUESTER),
      ),
      staticSummary: `${summaryLine('rotate', account)} · scheduled`,
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return 'busy';
    throw error;
  }
}

/** The result of a tick that found the account busy until its period ran out (or never retried). */
function busy(account: AccountRef, input: ScheduledRotationInput): RunResult {
  const workflowId = workflowIdFor(account);
  const message = input.everyMs
    ? `${account.name} was busy with run ${workflowId} for this whole period (${formatDuration(input.everyMs)}); this scheduled rotation was skipped and the next one will try again.`
    : `${account.name} is busy with run ${workflowId}; this scheduled rotation was skipped and the next one will try again.`;
  return { outcome: 'blocked', message, steps: [], remaining: [], errorType: 'AccountBusy' };
}
