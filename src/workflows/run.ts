/**
 * A run's visible state: the `status` query, the chat card (posted once, then updated), the
 * `CmkStage`/`ApprovalStatus` search attributes and the steps it did. Every runbook has one.
 */
import type { SearchAttributePair } from '@temporalio/common';
import { log, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { AccountRef } from '../shared/accounts';
import {
  quorumFor,
  statusQuery,
  approversFor,
  type ApprovalState,
  type RunStatus,
  type Stage,
} from '../shared/approval';
import type { Plan, StepId } from '../shared/plan';
import type { Operation, RunContext, RunResult, StepResult } from '../shared/runbooks';
import { SA } from '../shared/runbooks';
import { runUrl } from '../shared/status';
import { chat } from './proxies';
import type { TrustedContext } from './trust';

/** The live state of one runbook execution; the gate and the runbook steps change it. */
export class Run {
  /** What the `status` query returns and every card is drawn from. */
  readonly status: RunStatus;
  /** What a failure leaves in Azure; reported in the result. */
  readonly remaining: string[] = [];
  private messageId?: string;
  private trusted?: TrustedContext;

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

  /** Ends the run: the result goes on the card and in the query; the stage becomes `done`. */
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

  /** Posts the card once, then updates it; skipped without a conversation, never fails the run. */
  async publish(): Promise<void> {
    const conversation = this.context.conversation;
    if (!conversation || this.asked.quiet === true) return;
    const status = this.status;
    try {
      if (this.messageId === undefined) this.messageId = await chat.postRunCard({ conversation, status });
      else await chat.updateRunCard({ conversation, messageId: this.messageId, status });
    } catch (error) {
      log.warn('The run card could not be posted or updated', { error: (error as Error).message });
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

/**
 * Upserts only attributes the run was started with: runs started without them (e.g. on a
 * server where they are not registered) keep working instead of failing their workflow tasks.
 */
export function upsertKnown(pairs: SearchAttributePair[]): void {
  const current = workflowInfo().typedSearchAttributes;
  if (current.get(SA.operation) === undefined) return;
  upsertSearchAttributes(pairs);
}
