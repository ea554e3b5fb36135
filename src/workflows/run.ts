/**
 * A run's visible state: the `status` query, the chat cards (its own, posted once and then
 * edited, and every card it was asked to follow), the `CmkStage`/`ApprovalStatus`/`CmkOutcome`
 * search attributes and the steps it did. Every runbook has one.
 */
import type { SearchAttributePair } from '@temporalio/common';
import {
  log,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { AccountRef } from '../shared/accounts';
import {
  quorumFor,
  statusQuery,
  approversFor,
  type ApprovalState,
  type Person,
  type RunStatus,
  type Stage,
} from '../shared/approval';
import { teamsMessageLink, type CardAudience, type ConversationRef } from '../shared/chat';
import type { Plan, StepId } from '../shared/plan';
import type { Operation, RunContext, RunResult, StepResult } from '../shared/runbooks';
import { SA } from '../shared/runbooks';
import { outcomeDetails, runUrl } from '../shared/status';
import { RULES_ONLY } from '../shared/rules';
import { Compensation } from './compensation';
import { heldByRules } from './patches';
import { chat } from './proxies';
import type { TrustedContext } from './trust';

/** A card in some conversation that the run edits whenever its state changes. */
export interface FollowedCard {
  conversation: ConversationRef;
  messageId: string;
  audience?: CardAudience;
}

/**
 * Cards a run follows besides its own. Each edit is one activity, so a run asked to follow more
 * lets go of the oldest: the newest `status` answers are the ones people are looking at.
 */
export const MAX_FOLLOWED_CARDS = 10;

/** The live state of one runbook execution; the gate and the runbook steps change it. */
export class Run {
  /** What the `status` query returns and every card is drawn from. */
  readonly status: RunStatus;
  /** What a failure leaves in Azure; reported in the result. */
  readonly remaining: string[] = [];
  /** Undos of the changes made so far, run in reverse if the run fails after them. */
  readonly compensation = new Compensation(this);
  private messageId?: string;
  private trusted?: TrustedContext;
  private readonly followed: FollowedCard[] = [];
  /** The request posted to the approvals conversation, once approval was first asked for. */
  private approvalsCard?: FollowedCard;

  /**
   * Starts the `status` query at once, showing what was asked; who asked and which policy applies
   * are settled by {@link trust} once the start is verified.
   */
  constructor(
    readonly operation: Operation,
    readonly account: AccountRef,
    private readonly asked: Pick<RunContext, 'requester' | 'uiBaseUrl' | 'quiet'>,
    summary: string,
  ) {
    const info = workflowInfo();
    this.status = {
      workflowId: info.workflowId,
      runId: info.runId,
      operation,
      account,
      requester: asked.requester,
      stage: 'preflight',
      summary,
      approval: { state: 'not-required', quorum: 0, approvers: [], decisions: [] },
      steps: [],
      uiUrl: asked.uiBaseUrl
        ? runUrl(asked.uiBaseUrl, info.namespace, info.workflowId, info.runId)
        : undefined,
    };
    setHandler(statusQuery, () => this.status);
  }

  /** What the run trusts: the verified requester and conversation, and the worker's policy. */
  get context(): TrustedContext {
    if (!this.trusted) throw new Error('The run used its context before its start was verified.');
    return this.trusted;
  }

  /** True once the start is verified (before that, nobody can act on the run). */
  get isTrusted(): boolean {
    return this.trusted !== undefined;
  }

  /** Settles the run's context once its start is verified; the status shows its policy from now on. */
  trust(context: TrustedContext): void {
    this.trusted = context;
    const approval = this.status.approval;
    this.status.requester = context.requester;
    approval.quorum = quorumFor(context.policy, this.operation);
    approval.approvers = approversFor(context.policy, this.operation);
    if (context.policyHash) this.status.policyHash = context.policyHash;
  }

  /** Ends a run whose start was refused: the result is shown to queries only, never posted. */
  refuse(result: RunResult): RunResult {
    this.status.result = result;
    this.status.stage = 'done';
    upsertKnown([{ key: SA.stage, value: 'done' }]);
    upsertOutcome(result);
    return result;
  }

  /** Sets the plan the card shows. */
  setPlan(plan: Plan): void {
    this.status.plan = plan;
  }

  /** Moves to a stage: search attribute and card follow. */
  async setStage(stage: Stage): Promise<void> {
    this.status.stage = stage;
    upsertKnown([{ key: SA.stage, value: stage }]);
    await this.publish();
  }

  /** Records the approval state in the `ApprovalStatus` search attribute. */
  setApprovalState(state: ApprovalState): void {
    this.status.approval.state = state;
    upsertKnown([{ key: SA.approval, value: state }]);
  }

  /** Records that a person withdrew the run; the runbook ends it `cancelled` at its next step. */
  cancel(by: Person): void {
    this.status.cancelled = { by, at: new Date().toISOString() };
  }

  /** True once someone withdrew the run. */
  get cancelRequested(): boolean {
    return this.status.cancelled !== undefined;
  }

  /** Edits one more card at every change from now on (the newest {@link MAX_FOLLOWED_CARDS}). */
  follow(card: FollowedCard): void {
    if (card.messageId === this.messageId) return;
    const same = this.followed.findIndex((c) => c.messageId === card.messageId);
    if (same >= 0) this.followed.splice(same, 1);
    this.followed.push(card);
    if (this.followed.length > MAX_FOLLOWED_CARDS) this.followed.shift();
    this.listCards();
  }

  /** Tells the bot (through the status) which cards the run edits itself. */
  private listCards(): void {
    const ids = [
      ...(this.messageId ? [this.messageId] : []),
      ...(this.approvalsCard ? [this.approvalsCard.messageId] : []),
      ...this.followed.map((c) => c.messageId),
    ];
    if (ids.length) this.status.cards = ids;
  }

  /**
   * Approvers hear of a request where they are: the first time approval is asked for, the card is
   * also posted to the configured approvals conversation (unless the request came from there),
   * @mentioning them, and the requester's card links to it. Never fails the run.
   */
  private async askApprovers(): Promise<void> {
    const approvals = this.context.approvals;
    if (!approvals || this.approvalsCard || this.status.approval.state !== 'pending') return;
    if (conversationIdOf(approvals.conversation) === conversationIdOf(this.context.conversation)) return;
    try {
      const conversation = approvals.conversation;
      const messageId = await chat.postRunCard({ conversation, status: this.status, audience: 'approvers' });
      this.approvalsCard = { conversation, messageId, audience: 'approvers' };
      this.status.approvalsRequest = { name: approvals.name, url: teamsMessageLink(conversation, messageId) };
      this.listCards();
    } catch (error) {
      log.warn('The approval request could not be posted to the approvals conversation', {
        error: (error as Error).message,
      });
    }
  }

  /** Records what a step did (shown on the card and in the result). */
  recordStep(id: StepId, title: string, status: StepResult['status'], detail?: string): void {
    this.status.steps.push({ id, title, status, detail, at: new Date().toISOString() });
  }

  /** Runs one step: records it done, or failed before rethrowing. */
  async step<T>(id: StepId, title: string, fn: () => Promise<T>, detail?: (value: T) => string): Promise<T> {
    try {
      const value = await fn();
      this.recordStep(id, title, 'done', detail?.(value));
      return value;
    } catch (error) {
      this.recordStep(id, title, 'failed', (error as Error).message);
      throw error;
    }
  }

  /**
   * Ends the run: the result goes on every card, in the query, in `CmkOutcome` and in the details
   * the Temporal UI shows; the stage becomes `done`.
   */
  async finish(
    result: Omit<RunResult, 'steps' | 'remaining'> & { remaining?: string[] },
  ): Promise<RunResult> {
    const full: RunResult = {
      ...result,
      plan: result.plan ?? this.status.plan,
      steps: this.status.steps,
      remaining: result.remaining ?? this.remaining,
    };
    this.status.result = full;
    upsertOutcome(full);
    await this.setStage('done');
    return full;
  }

  /** The chat message of the run's card, once posted (handed on when a run continues as new). */
  get cardId(): string | undefined {
    return this.messageId;
  }

  /** Continues the card an earlier run of the same chain posted, instead of posting another. */
  continueCard(messageId: string | undefined): void {
    if (messageId) this.messageId = messageId;
  }

  /**
   * Posts the card once, then updates it and every followed card; never fails the run. A quiet
   * run (a fleet's child) posts nothing: its fleet's card speaks for it.
   */
  async publish(): Promise<void> {
    if (this.asked.quiet === true) return;
    const status = this.status;
    const conversation = this.context.conversation;
    const asked = this.approvalsCard;
    await this.askApprovers();
    if (conversation) {
      try {
        if (this.messageId === undefined) {
          this.messageId = await chat.postRunCard({ conversation, status });
          this.listCards();
        } else await chat.updateRunCard({ conversation, messageId: this.messageId, status });
      } catch (error) {
        log.warn('The run card could not be posted or updated', { error: (error as Error).message });
      }
    }
    const others = [...(asked ? [asked] : []), ...this.followed];
    for (const card of others) {
      try {
        await chat.updateRunCard({ ...card, status });
      } catch (error) {
        log.warn('A followed run card could not be updated', { error: (error as Error).message });
      }
    }
  }

  /** The next publish posts a new card instead of editing this one (e.g. to ask for approval anew). */
  startNewCard(): void {
    this.messageId = undefined;
  }

  /** Sends a plain chat message to the run's conversation, if any; never fails the run. */
  async say(text: string): Promise<void> {
    const conversation = this.context.conversation;
    if (!conversation) return;
    try {
      await chat.sendChatText({ conversation, text });
    } catch (error) {
      log.warn('A chat message could not be sent', { error: (error as Error).message });
    }
  }
}

/** The Teams conversation id of a reference, for telling conversations apart. */
function conversationIdOf(conversation: ConversationRef | undefined): unknown {
  return (conversation as { conversation?: { id?: unknown } } | undefined)?.conversation?.id;
}

/**
 * Upserts only attributes the run was started with: runs started without them (e.g. on a
 * server where they are not registered) keep working instead of failing their workflow tasks.
 * Under rules that coalesce upserts, a value the run already has is not upserted again.
 */
export function upsertKnown(pairs: SearchAttributePair[]): void {
  const current = workflowInfo().typedSearchAttributes;
  if (current.get(SA.operation) === undefined) return;
  const changed = heldByRules(RULES_ONLY.coalescedSearchAttributes)
    ? pairs.filter((p) => current.get(p.key) !== p.value)
    : pairs;
  if (changed.length) upsertSearchAttributes(changed);
}

/**
 * The outcome as the Temporal UI lists it: `CmkOutcome` (on runs started with it, so older runs
 * replay unchanged) and the run's current details.
 */
export function upsertOutcome(result: Pick<RunResult, 'outcome' | 'message'>): void {
  if (workflowInfo().typedSearchAttributes.get(SA.outcome) !== undefined) {
    upsertSearchAttributes([{ key: SA.outcome, value: result.outcome }]);
  }
  setCurrentDetails(outcomeDetails(result));
}
