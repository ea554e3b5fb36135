/**
 * `scheduledRotation`: what a Temporal Schedule starts. It runs `rotateKey` as a child under
 * the account's own workflow id, so it never overlaps a chat-started run; a tick that finds the
 * account busy tries again within its period rather than skipping it. The child reads the
 * worker's policy (and approvals conversation) when it starts, not when the schedule was set up.
 *
 * Schedules of accounts that share a key rotate it once per period: each tick takes its turn
 * on the key through a `keyRotationTurn` child under the key's own workflow id (one turn at a
 * time, as Temporal allows one open workflow per id), and a turn adopts a version of the key
 * made within the period instead of rotating again.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { executeChild, sleep, workflowInfo } from '@temporalio/workflow';
import { workflowIdFor, type AccountRef } from '../shared/accounts';
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
import { PATCHES, inForce } from './patches';
import { azureLong } from './proxies';
import { rotateKey } from './rotate-key';
import { invalidResult } from './runbook';
import { establishTrustOn } from './trust';
import { rulesMemo } from '../shared/rules';

/** One scheduled rotation of one account. */
export async function scheduledRotation(input: ScheduledRotationInput): Promise<RunResult> {
  let started;
  try {
    started = await establishTrustOn('scheduleRotation', input.account, startTargetOf, {
      requester: input.owner ?? SCHEDULE_REQUESTER,
      conversation: input.conversation,
      startProof: input.startProof,
      policy: input.policy,
      uiBaseUrl: input.uiBaseUrl,
    });
  } catch (error) {
    return invalidResult(error);
  }
  const { account, trust } = started;
  const requester = trust.requester;
  // Schedules set up before the worker owned the policy hand theirs on; new ones hand on the proof.
  const context: RunContext = trust.startProof
    ? { requester, conversation: trust.conversation, startProof: trust.startProof }
    : { requester, policy: input.policy, conversation: input.conversation };
  // Asked on every tick, not only a busy one, so each new run records which rules it runs by.
  const retriesWhenBusy = inForce(PATCHES.busyTickRetries);
  let rotate = (): Promise<RunResult | Busy> => rotateOnce(account, context, input);
  if (input.everyMs && inForce(PATCHES.keyOncePerPeriod)) {
    const [key] = await azureLong.keysInUse.executeWithOptions(
      { summary: `Read which key ${account.name} uses` },
      [{ accounts: [account] }],
    );
    const adoptSince = new Date(workflowInfo().startTime.getTime() - input.everyMs).toISOString();
    // Not on a customer-managed key: its own rotation says so; no key to take a turn on.
    if (key) rotate = () => rotateInKeyTurn(key, { account, context, input, adoptSince });
  }

  let result = await rotate();
  if (result !== 'busy' && result !== 'key-busy') return result;
  if (!input.everyMs || !retriesWhenBusy) return busy(account, input);
  // Retry until the next tick would be due: a busy account waits, it is not skipped for a whole period.
  const retryEvery = busyRetryEveryMs(input.everyMs);
  const giveUpAt = workflowInfo().startTime.getTime() + input.everyMs - retryEvery;
  // Another account's turn on the key lasts one rotation: look again soon, not a tenth of a period later.
  const waitFor = (r: Busy): number =>
    r === 'key-busy' ? Math.min(retryEvery, KEY_TURN_RETRY_MS) : retryEvery;
  while ((result === 'busy' || result === 'key-busy') && Date.now() + waitFor(result) <= giveUpAt) {
    await sleep(waitFor(result));
    result = await rotate();
  }
  return result === 'busy' || result === 'key-busy' ? busy(account, input) : result;
}

/** The account is held by another run (`busy`), or its key by another account's turn (`key-busy`). */
type Busy = 'busy' | 'key-busy';

/** How soon a tick looks again when another account's rotation holds the key. */
const KEY_TURN_RETRY_MS = 5_000;

/** What a turn on a key rotates: one account, adopting a version made since `adoptSince`. */
export interface KeyRotationTurnInput {
  account: AccountRef;
  context: RunContext;
  input: ScheduledRotationInput;
  adoptSince: string;
}

/**
 * `keyRotationTurn`: one scheduled rotation's turn on a key, under the key's workflow id, so
 * accounts that share the key rotate one after another and the later ones adopt the version
 * the first made. `null` when the account itself was busy.
 */
export async function keyRotationTurn(turn: KeyRotationTurnInput): Promise<RunResult | null> {
  const result = await rotateOnce(turn.account, turn.context, turn.input, turn.adoptSince);
  return result === 'busy' ? null : result;
}

/** Runs the account's rotation in a turn on its key; `key-busy` while another account has the turn. */
async function rotateInKeyTurn(key: string, turn: KeyRotationTurnInput): Promise<RunResult | Busy> {
  try {
    const result = await executeChild(keyRotationTurn, {
      workflowId: `key-rotation/${key}`,
      args: [turn],
      staticSummary: `Scheduled rotation turn on ${key} for ${turn.account.name}`,
      memo: rulesMemo(),
    });
    return result ?? 'busy';
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return 'key-busy';
    throw error;
  }
}

/** Runs the rotation as the account's run; `busy` when another run holds the account. */
async function rotateOnce(
  account: AccountRef,
  context: RunContext,
  input: ScheduledRotationInput,
  adoptSince?: string,
): Promise<RunResult | 'busy'> {
  try {
    return await executeChild(rotateKey, {
      workflowId: workflowIdFor(account),
      args: [
        {
          account,
          ...context,
          uiBaseUrl: input.uiBaseUrl,
          confirmWithin: input.confirmWithin,
          ...(adoptSince ? { adoptSince } : {}),
        },
      ],
      // RequestedBy says how the run came (a schedule), whoever owns the schedule.
      typedSearchAttributes: childSearchAttributes(
        searchAttributesFor('rotate', account, SCHEDULE_REQUESTER),
      ),
      staticSummary: `${summaryLine('rotate', account)} · scheduled`,
      memo: rulesMemo(),
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
