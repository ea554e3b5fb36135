/**
 * `fleetRotate`: rotates many accounts with one plan, one approval and one progress card. The
 * plan lists which selected accounts rotate and which are skipped (and why); after quorum and a
 * re-check, each account gets a `rotateKey` child under its own workflow id, with bounded
 * concurrency sized to ARM's write budget and continue-as-new for large fleets; the card shows
 * progress as it goes and every account's outcome at the end. Fleets started before the plan
 * and approval existed replay on their old path.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { statusQuery, type RunStatus } from '../shared/approval';
import type { FleetOutcome, FleetRotateInput, RunContext, RunResult } from '../shared/runbooks';
import { SA } from '../shared/runbooks';
import { summaryLine } from '../shared/status';
import { planFleet } from './planned-fleet';
import { rotateBatch, summarise } from './fleet-rotation';
import { FLEET_PLAN_PATCH, PACED_FLEET_PATCH, PATCHES, inForce } from './patches';
import { chat } from './proxies';
import { upsertKnown } from './run';
import { invalidResult } from './runbook';
import { establishTrust, type TrustedContext } from './trust';

/**
 * Rotations in flight. The server paces each subscription's ARM write queue, spending ARM's
 * burst of 200 writes while ARM's bucket holds them and then its 10/s refill
 * (src/activities/write-queue-rate.ts), so this only has to cover a rotation's latency: a
 * rotation takes ~3-5 s against Azure (its key create, its ARM write, its probe), so 100 in
 * flight reach ~20/s, spend the burst in about 20 s and then keep the refill busy.
 */
export const DEFAULT_FLEET_CONCURRENCY = 100;
/** The most rotations a fleet runs at once. */
export const MAX_FLEET_CONCURRENCY = 100;
/** The default before the write queue spent ARM's burst; fleets started then keep it on replay. */
const QUEUED_FLEET_CONCURRENCY = 40;
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
  const paced = inForce(PACED_FLEET_PATCH);
  const fallback = !paced
    ? UNPACED_FLEET_CONCURRENCY
    : inForce(PATCHES.burstFleetConcurrency)
      ? DEFAULT_FLEET_CONCURRENCY
      : QUEUED_FLEET_CONCURRENCY;
  const sizing = {
    perRun: input.accountsPerRun ?? (paced ? ACCOUNTS_PER_RUN : UNPACED_ACCOUNTS_PER_RUN),
    concurrency: Math.max(1, Math.min(input.concurrency ?? fallback, MAX_FLEET_CONCURRENCY)),
  };
  if (inForce(FLEET_PLAN_PATCH)) return planFleet(input, sizing);
  return unplannedFleet(input, sizing);
}

/** Fleets started before plans and approvals: trust, rotate, report in one message. */
async function unplannedFleet(
  input: FleetRotateInput,
  sizing: { perRun: number; concurrency: number },
): Promise<RunResult> {
  const outcomes: FleetOutcome[] = [...(input.carried ?? [])];
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
  const { rest } = await rotateBatch({
    accounts: input.accounts,
    context: child,
    ...sizing,
    onOutcome: (o) => outcomes.push(o),
  });
  if (rest.length > 0) {
    await condition(allHandlersFinished);
    return continueAsNew<typeof fleetRotate>({ ...input, accounts: rest, carried: outcomes });
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
