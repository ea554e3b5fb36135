/**
 * The shape every single-account runbook shares: validate → preflight → plan → approval →
 * re-check → change → confirm, ending in a `RunResult` for every outcome (never a thrown
 * workflow failure for domain outcomes) once all update handlers have finished.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
  isCancellation,
} from '@temporalio/workflow';
import { validateAccountRef } from '../shared/accounts';
import type { OperationRequest } from '../shared/activities';
import { ValidationError } from '../shared/names';
import { Refusal } from '../shared/refusals';
import { startTargetOf } from '../shared/start';
import { summaryLine } from '../shared/status';
import type { EncryptionSettings, Plan } from '../shared/plan';
import { SA, type Operation, type RunContext, type RunOutcome, type RunResult } from '../shared/runbooks';
import { ApprovalGate, blockedMessage, cancelledMessage } from './approval-gate';
import { PATCHES, inForce } from './patches';
import { azure } from './proxies';
import { Run, upsertKnown } from './run';
import { acceptRunActions } from './run-actions';
import { StepGuard, StepNotApproved } from './step-guard';
import { establishTrust } from './trust';
import type { AccountRef } from '../shared/accounts';
import type { RunSubject } from '../shared/approval';

/** What the change part of a runbook reports when it succeeds. */
export interface ChangeOutcome {
  message: string;
  encryption?: EncryptionSettings;
  outcome?: RunOutcome;
}

/**
 * A run on something other than one storage account (a key's rotation policy): how cards name
 * it, what its start proof names, and how it is inspected. `account` only names it in the status.
 */
export interface RunbookTarget {
  account: AccountRef;
  subject: RunSubject;
  proofTarget: string;
  inspect: (recheck: boolean) => Promise<Plan>;
}

/** One runbook: its operation, account, context, what to inspect, and the change itself. */
export interface RunbookSpec {
  operation: Operation;
  input: RunContext & { account?: AccountRef };
  /** Set for runs that act on something other than `input.account`. */
  target?: RunbookTarget;
  /** The run's one-line summary; by default the operation and `input.account` ({@link summaryLine}). */
  summary?: string;
  /** Checks the rest of the input (names, durations) before any call to Azure. */
  validate?: () => void;
  request: OperationRequest;
  /** Makes the change on the approved, re-checked plan; `guard.before(step)` before each destructive step. */
  change: (run: Run, plan: Plan, guard: StepGuard) => Promise<ChangeOutcome>;
}

/** Activity failure types that mean the input was wrong: the run ends `invalid`. */
const INVALID_INPUT_ERROR_TYPES = ['InvalidInput', 'ValidationError'];

/** Runs a runbook to a `RunResult`. */
export async function runRunbook(spec: RunbookSpec): Promise<RunResult> {
  let account: AccountRef;
  try {
    account = spec.target?.account ?? validateAccountRef(spec.input.account);
    spec.validate?.();
  } catch (error) {
    return invalidResult(error);
  }
  const summary = spec.summary ?? summaryLine(spec.operation, spec.input.account);
  const run = new Run(spec.operation, account, spec.input, summary);
  // Registered before the start is verified, so an early cancel is refused with a sentence
  // rather than as an unknown update; the governing operation is the plan's, as the gate's.
  acceptRunActions(run, () => run.status.plan?.approvalOperation ?? run.operation);
  if (spec.target) run.status.subject = spec.target.subject;
  try {
    const target = spec.target?.proofTarget ?? startTargetOf(account);
    run.trust(await establishTrust(spec.operation, target, spec.input));
  } catch (error) {
    return run.refuse(invalidResult(error));
  }
  const gate = new ApprovalGate(run);
  gate.byEffect = inForce(PATCHES.destructiveByEffect);
  const result = await execute(spec, run, gate, account);
  // Asked whatever the outcome, so every new run records which rules it ends by.
  const failedRunFails = inForce(PATCHES.failedRunFails);
  await condition(allHandlersFinished);
  // A failed run is a failed workflow, so the Temporal UI counts it; the result travels as the
  // failure's details. Runs that completed `failed` before this replay as they did.
  if (result.outcome === 'failed' && failedRunFails) {
    throw ApplicationFailure.create({
      type: result.errorType ?? 'RunFailed',
      message: result.message,
      nonRetryable: true,
      details: [result],
    });
  }
  return result;
}

async function execute(
  spec: RunbookSpec,
  run: Run,
  gate: ApprovalGate,
  account: AccountRef,
): Promise<RunResult> {
  const inspect = (recheck = false): Promise<Plan> =>
    spec.target
      ? spec.target.inspect(recheck)
      : azure.inspect.executeWithOptions({ summary: `Inspect ${account.name} (${spec.operation})` }, [
          { account, request: spec.request, ...(recheck ? { recheck } : {}) },
        ]);
  try {
    await run.setStage('preflight');
    const plan = await run.step(
      'preflight',
      'Preflight',
      () => inspect(),
      (p) => `${p.steps.length} step(s) planned`,
    );
    run.setPlan(plan);
    if (plan.vault) upsertKnown([{ key: SA.vault, value: plan.vault.name.toLowerCase() }]);
    if (run.cancelRequested)
      return run.finish({ outcome: 'cancelled', message: cancelledMessage(run), plan });
    if (plan.blockers.length) return run.finish({ outcome: 'blocked', message: blockedMessage(plan), plan });

    const approval = await gate.approve(plan);
    if (approval.outcome === 'approved') run.recordStep('approval', 'Approval', 'done');
    if (approval.outcome !== 'approved' && approval.outcome !== 'not-required') {
      return run.finish({ outcome: approval.outcome, message: approval.message, plan: approval.plan });
    }
    const current = await gate.confirmCurrent(approval.plan, () => inspect(true));
    if (current.outcome !== 'approved' && current.outcome !== 'not-required') {
      return run.finish({ outcome: current.outcome, message: current.message, plan: current.plan });
    }
    // The last moment a withdrawal counts: from here on Azure changes.
    if (run.cancelRequested) {
      return run.finish({ outcome: 'cancelled', message: cancelledMessage(run), plan: current.plan });
    }
    run.setPlan(current.plan);
    await run.setStage('running');
    const guard = new StepGuard(gate, run, () => inspect(true), current.plan);
    const done = await spec.change(run, current.plan, guard);
    return run.finish({
      outcome: done.outcome ?? 'succeeded',
      message: done.message,
      encryption: done.encryption,
    });
  } catch (error) {
    // What the failed run changed is put back first, whatever ends it.
    const undone = await run.compensation.compensate();
    if (isCancellation(error)) throw await cancelledInTemporal(run, error);
    if (error instanceof StepNotApproved)
      return run.finish({ outcome: error.outcome, message: error.message, plan: error.plan });
    const failure = failureOf(error);
    if (undone.complete) return run.finish({ ...failure, encryption: run.status.plan?.before });
    return run.finish({
      ...failure,
      message: `${failure.message} ${undone.failures.join(' ')}`,
      ...(undone.actual ? { encryption: undone.actual } : {}),
    });
  }
}

/**
 * A run cancelled in Temporal (UI, CLI or client) still says so on its cards and in its status
 * before it ends as cancelled: the last card edit runs outside the cancelled scope.
 */
async function cancelledInTemporal(run: Run, cancellation: unknown): Promise<unknown> {
  const changed = run.status.steps.some(
    (s) => s.status === 'done' && s.id !== 'preflight' && s.id !== 'approval',
  );
  const message = changed
    ? `Cancelled in Temporal while ${run.status.stage === 'confirming' ? 'confirming' : 'changing'} ${run.account.name}; the steps on this card show what was done.`
    : `Cancelled in Temporal before any change; ${run.account.name} is as it was.`;
  await CancellationScope.nonCancellable(async () => {
    if (run.status.approval.state === 'pending') run.setApprovalState('cancelled');
    await run.finish({ outcome: 'cancelled', message });
  });
  return cancellation;
}

/** Maps a failure to a result: non-retryable activity failures keep their message (it says what to do). */
export function failureOf(error: unknown): { outcome: RunOutcome; message: string; errorType?: string } {
  if (error instanceof ValidationError)
    return { outcome: 'invalid', message: error.message, errorType: error.name };
  if (error instanceof ActivityFailure) {
    const cause = error.cause;
    if (cause instanceof ApplicationFailure) {
      const type = cause.type ?? 'Error';
      return {
        outcome: INVALID_INPUT_ERROR_TYPES.includes(type) ? 'invalid' : 'failed',
        message: cause.message,
        errorType: type,
      };
    }
    return { outcome: 'failed', message: cause?.message ?? error.message, errorType: cause?.name };
  }
  throw error;
}

/** A run that ends before it starts: bad input, or a start the worker does not trust. */
export function invalidResult(error: unknown): RunResult {
  if (!(error instanceof ValidationError) && !(error instanceof Refusal)) throw error;
  return {
    outcome: 'invalid',
    message: error instanceof Refusal ? error.message : `Nothing was started: ${error.message}`,
    steps: [],
    remaining: [],
    errorType: error.name,
  };
}
