/**
 * What a click on a run card does, independent of Teams: the card carries ids only; the
 * approver is the authenticated user the channel named, and the workflow decides whether
 * the decision counts.
 */
import type { ApprovalPolicy, RunStatus, Verdict } from '../shared/approval';
import { ApprovalClosed, Refusal, StaleCard } from '../shared/refusals';
import { memberOf } from './authorize';
import { renderErrorCard, renderRunCard, type AdaptiveCardJson } from './cards/render';
import type { Viewer } from './cards/run-view';
import type { RunService } from './run-service';
import type { ProofSigner } from './signing';

/** The verbs the run card's `Action.Execute` buttons send. */
const CARD_VERBS = ['approve', 'reject', 'refresh'] as const;

/** Ids a card action carries; nothing in it says who clicked. */
export interface CardActionData {
  workflowId: string;
  runId?: string;
  fingerprint?: string;
}

/** A click as the channel reported it. */
export interface CardAction {
  verb: string;
  data: unknown;
  /** From the authenticated activity (`from.aadObjectId`, `from.name`), never from card data. */
  user: { aadObjectId?: string; name?: string };
  /** `channelData.tenant.id` of the activity. */
  tenantId?: string;
  /** The invoke's activity id: the update id, so a repeated delivery counts once. */
  invokeId: string;
  /** The message the card is in (`replyToId`), to edit it for everyone. */
  messageId?: string;
  /** The clicker's IANA time zone, when Teams says; times on their card are in it. */
  timeZone?: string;
}

/** The clicker's card, and the status to show everyone when a decision was recorded. */
export interface CardActionResult {
  card: AdaptiveCardJson;
  /** Set when a decision was accepted: edit the message for everyone with this status. */
  broadcast?: RunStatus;
  /** Set when the click was refused: its class is the reason (metrics), its sentence is shown and logged. */
  refusal?: Refusal;
  /**
   * Set when the click could not be handled (Temporal unreachable, a timeout): nothing was
   * recorded, the clicker is told to try again, and the error is logged, never shown.
   */
  failure?: Error;
}

/** What card handling needs. */
export interface CardActionDeps {
  runs: RunService;
  /** The tenant decisions must come from (the workflow checks approvers itself). */
  policy: ApprovalPolicy;
  /** Signs each decision, so the workflow knows it came through this bot. */
  signer: ProofSigner;
}

/** Workflow ids of runs that take decisions: an account's, a key's (rotation policy) and a fleet's. */
const RUN_ID_PREFIXES = ['cmk/', 'cmk-key/', 'cmk-fleet/'];

/** Parses card data into ids; anything else in it is ignored. */
export function parseCardActionData(data: unknown): CardActionData | undefined {
  const value = data as Record<string, unknown> | undefined;
  if (!value || typeof value !== 'object') return undefined;
  const { workflowId, runId, fingerprint } = value;
  if (typeof workflowId !== 'string' || !RUN_ID_PREFIXES.some((p) => workflowId.startsWith(p)))
    return undefined;
  const parsed: CardActionData = { workflowId };
  if (typeof runId === 'string' && runId) parsed.runId = runId;
  if (typeof fingerprint === 'string' && fingerprint) parsed.fingerprint = fingerprint;
  return parsed;
}

/** The view of a run for one person: approvers who have not decided see the buttons. */
function viewerOf(status: RunStatus, aadObjectId: string | undefined, note?: string): Viewer {
  const id = aadObjectId?.toLowerCase();
  const listed = Boolean(id && status.approval.approvers.some((a) => a.toLowerCase() === id));
  const decided = status.approval.decisions.some((d) => d.approverAadId.toLowerCase() === id);
  return note ? { canDecide: listed && !decided, note } : { canDecide: listed && !decided };
}

/**
 * Handles approve/reject/refresh; refusals come back as the card with a note, never as a throw.
 * Anything else that fails is not a refusal: the clicker hears that the click was not recorded.
 */
export async function handleCardAction(deps: CardActionDeps, action: CardAction): Promise<CardActionResult> {
  try {
    return await answerCardAction(deps, action);
  } catch (error) {
    const decision = action.verb === 'approve' || action.verb === 'reject';
    const problem = decision
      ? 'Your decision could not be recorded: the runbook service did not answer. Nothing was decided; try again in a minute.'
      : 'The run could not be read: the runbook service did not answer. Try again in a minute.';
    return {
      card: renderErrorCard({ title: 'Could not record, try again', problem }),
      failure: error instanceof Error ? error : new Error(String(error)),
    };
  }
}

async function answerCardAction(deps: CardActionDeps, action: CardAction): Promise<CardActionResult> {
  const data = parseCardActionData(action.data);
  if (!data || !(CARD_VERBS as readonly string[]).includes(action.verb)) {
    const refusal = new StaleCard('This card is not one of mine or is out of date.');
    return { card: renderErrorCard({ problem: refusal.message }), refusal };
  }
  const gone = (): CardActionResult => {
    const refusal = new ApprovalClosed('This run no longer exists.');
    return { card: renderErrorCard({ problem: refusal.message }), refusal };
  };
  let member;
  try {
    member = memberOf(deps.policy, { ...action.user, tenantId: action.tenantId });
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    // Someone the bot does not know sees why, and nothing of the run.
    return {
      card: renderErrorCard({ problem: `⛔ Not recorded: ${error.message}` }),
      refusal: error,
    };
  }
  // The clicker's card: times in their time zone, when Teams said which.
  const reader = action.timeZone ? { timeZone: action.timeZone } : {};
  if (action.verb === 'refresh') {
    const current = await deps.runs.getStatus(data.workflowId, data.runId);
    if (!current) return gone();
    return { card: renderRunCard(current, viewerOf(current, member.aadObjectId), reader) };
  }
  // A decision goes straight to the workflow (its validator is the authority); the run's status
  // is read only to draw a refusal, so an accepted click costs the worker one workflow task.
  const refuse = async (refusal: Refusal): Promise<CardActionResult> => {
    const status = await deps.runs.getStatus(data.workflowId, data.runId);
    if (!status) return gone();
    const note = `⛔ Not recorded: ${refusal.message}`;
    return { card: renderRunCard(status, viewerOf(status, member.aadObjectId, note), reader), refusal };
  };
  try {
    const { runId, fingerprint } = data;
    if (!runId || !fingerprint) {
      throw new StaleCard(
        'This card does not name its run and plan, so a decision on it cannot count; refresh it.',
      );
    }
    const verdict = action.verb as Verdict;
    const proof = await deps.signer.signDecision({
      workflowId: data.workflowId,
      runId,
      fingerprint,
      verdict,
      approver: member,
      tenantId: member.tenantId,
      invokeId: action.invokeId,
    });
    const status = await deps.runs.decide(
      { workflowId: data.workflowId, runId },
      {
        approverAadId: member.aadObjectId,
        approverName: member.name,
        verdict,
        tenantId: member.tenantId,
        fingerprint,
        proof,
      },
      action.invokeId,
    );
    return { card: renderRunCard(status, viewerOf(status, member.aadObjectId), reader), broadcast: status };
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    return refuse(error);
  }
}
