/**
 * `fleetRotate`: rotates many accounts, one `rotateKey` child per account under the account's
 * workflow id, with bounded concurrency sized to ARM's write budget, continue-as-new for
 * large fleets, and a summary of every account's outcome.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  patched,
  setHandler,
  startChild,
  workflowInfo,
  ChildWorkflowFailure,
} from '@temporalio/workflow';
import { validateAccountRef, workflowIdFor, type AccountRef } from '../shared/accounts';
import { statusQuery, type RunStatus } from '../shared/approval';
import { ValidationError } from '../shared/names';
import type { FleetOutcome, FleetRotateInput, RunContext, RunResult } from '../shared/runbooks';
import { searchAttributesFor } from '../shared/start';
import { summaryLine } from '../shared/status';
import { childSearchAttributes } from './children';
import { rotateKey } from './rotate-key';
import { upsertKnown } from './run';
import { SA } from '../shared/runbooks';
import { chat } from './proxies';
import { invalidResult } from './runbook';
import { establishTrust, type TrustedContext } from './trust';

/**
 * Rotations in flight. The worker paces ARM requests to the subscription's buckets itself, so
 * this only has to cover a rotation's latency: one rotation writes ARM once and takes ~2 s
 * against Azure, so 40 in flight spend the burst of 200 writes at ~20/s and then keep the
 * 10/s refill busy, with the rest waiting in the worker's pacing, not in 429s.
 */
export const DEFAULT_FLEET_CONCURRENCY = 40;
/** The most rotations a fleet runs at once. */
export const MAX_FLEET_CONCURRENCY = 100;
/** The default before the worker paced ARM itself; fleets started then keep it on replay. */
const UNPACED_FLEET_CONCURRENCY = 8;
/**
 * Accounts handled per run before continuing as new, to keep the history small (about five
 * events per account; Temporal also suggests continuing as new past a few thousand events,
 * which is honoured too). Every continue-as-new drains the children in flight first, a pause
 * of one rotation's time, so runs are made long.
 */
export const ACCOUNTS_PER_RUN = 1_000;
/** The per-run count before pacing; older fleets keep it on replay. */
const UNPACED_ACCOUNTS_PER_RUN = 200;

/** Rotates the keys of many accounts and reports each outcome. */
export async function fleetRotate(input: FleetRotateInput): Promise<RunResult> {
  const outcomes: FleetOutcome[] = [...(input.carried ?? [])];
  const paced = patched('paced-fleet-concurrency');
  const fallback = paced ? DEFAULT_FLEET_CONCURRENCY : UNPACED_FLEET_CONCURRENCY;
  const perRun = input.accountsPerRun ?? (paced ? ACCOUNTS_PER_RUN : UNPACED_ACCOUNTS_PER_RUN);
  const concurrency = Math.max(1, Math.min(input.concurrency ?? fallback, MAX_FLEET_CONCURRENCY));
  let trust: TrustedContext;
  try {
    trust = await establishTrust('fleetRotate', workflowInfo().workflowId, input);
  } catch (error) {
    return invalidResult(error);
  }
  // Fleets started before the worker owned the policy hand theirs on; new ones hand on the proof.
  const child: RunContext = trust.startProof
    ? { requester: trust.requester, startProof: trust.startProof, uiBaseUrl: input.uiBaseUrl }
    : { requester: input.requester, policy: input.policy, uiBaseUrl: input.uiBaseUrl };
  const total = outcomes.length + input.accounts.length;
  const status: RunStatus = {
    workflowId: workflowInfo().workflowId,
    runId: workflowInfo().runId,
    operation: 'fleetRotate',
    account: input.accounts[0] ??
      input.carried?.[0]?.account ?? { subscriptionId: '', resourceGroup: '', name: '' },
    requester: trust.requester,
    stage: 'running',
    summary: summaryLine('fleetRotate', undefined, { accounts: total }),
    approval: { state: 'not-required', quorum: 0, approvers: [], decisions: [] },
    steps: [],
  };
  setHandler(statusQuery, () => ({ ...status, result: summarise(outcomes, total) }));
  upsertKnown([{ key: SA.stage, value: 'running' }]);

  const queue = [...input.accounts];
  const inFlight = new Map<string, Promise<void>>();
  let started = 0;
  while (queue.length > 0) {
    if (started >= perRun || workflowInfo().continueAsNewSuggested) break;
    const raw = queue.shift()!;
    started++;
    const id = `${started}`;
    inFlight.set(
      id,
      rotateOne(raw, child).then((outcome) => {
        outcomes.push(outcome);
        inFlight.delete(id);
      }),
    );
    if (inFlight.size >= concurrency) await condition(() => inFlight.size < concurrency);
  }
  await condition(() => inFlight.size === 0);
  if (queue.length > 0) {
    await condition(allHandlersFinished);
    return continueAsNew<typeof fleetRotate>({ ...input, accounts: queue, carried: outcomes });
  }
  const result = summarise(outcomes, total);
  status.stage = 'done';
  status.result = result;
  upsertKnown([{ key: SA.stage, value: 'done' }]);
  if (trust.conversation) {
    try {
      await chat.sendChatText({ conversation: trust.conversation, text: result.message });
    } catch (error) {
      log.warn('The fleet summary could not be sent', { error: (error as Error).message });
    }
  }
  await condition(allHandlersFinished);
  return result;
}

async function rotateOne(raw: AccountRef, context: RunContext): Promise<FleetOutcome> {
  let account: AccountRef;
  try {
    account = validateAccountRef(raw);
  } catch (error) {
    const message = error instanceof ValidationError ? error.message : String(error);
    return { account: raw, outcome: 'invalid', message };
  }
  const workflowId = workflowIdFor(account);
  try {
    const child = await startChild(rotateKey, {
      workflowId,
      args: [{ account, ...context }],
      typedSearchAttributes: childSearchAttributes(searchAttributesFor('rotate', account, context.requester)),
      staticSummary: `${summaryLine('rotate', account)} · fleet`,
    });
    const result = await child.result();
    return { account, outcome: result.outcome, message: result.message };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) {
      return {
        account,
        outcome: 'blocked',
        message: `${account.name} is busy with run ${workflowId}; skipped.`,
      };
    }
    if (error instanceof ChildWorkflowFailure) {
      return { account, outcome: 'failed', message: error.cause?.message ?? error.message };
    }
    throw error;
  }
}

function summarise(outcomes: FleetOutcome[], total: number): RunResult {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o.outcome, (counts.get(o.outcome) ?? 0) + 1);
  const parts = [...counts.entries()].map(([k, n]) => `${n} ${k}`).join(', ');
  const allGood = outcomes.length === total && outcomes.every((o) => o.outcome === 'succeeded');
  return {
    outcome: allGood ? 'succeeded' : outcomes.length < total ? 'pending' : 'failed',
    message: `Fleet rotation of ${total} account(s): ${parts || 'nothing done yet'}.`,
    steps: [],
    remaining: [],
    fleet: [...outcomes],
  };
}
