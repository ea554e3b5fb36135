/**
 * The shape every single-account runbook shares: validate → preflight → plan → approval →
 * re-check → change → confirm, ending in a `RunResult` for every outcome (never a thrown
 * workflow failure for domain outcomes) once all update handlers have finished.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  patched,
} from '@temporalio/workflow';
import { validateAccountRef } from '../shared/accounts';
import type { OperationRequest } from '../shared/activities';
import { ValidationError } from '../shared/names';
import { Refusal } from '../shared/refusals';
import { startTargetOf } from '../shared/start';
import type { EncryptionSettings, Plan } from '../shared/plan';
import { SA, type Operation, type RunContext, type RunOutcome, type RunResult } from '../shared/runbooks';
import { ApprovalGate, blockedMessage } from './approval-gate';
import { PATCHES } from './patches';
import { azure } from './proxies';
import { Run, upsertKnown } from './run';
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
  summary: string;
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
  const run = new Run(spec.operation, account, spec.input, spec.summary);
  if (spec.target) run.status.subject = spec.target.subject;
  try {
    const target = spec.target?.proofTarget ?? startTargetOf(account);
    run.trust(await establishTrust(spec.operation, target, spec.input));
  } catch (error) {
    return run.refuse(invalidResult(error));
  }
  const gate = new ApprovalGate(run);
  gate.byEffect = patched(PATCHES.destructiveByEffect);
  const result = await execute(spec, run, gate, account);
  await condition(allHandlersFinished);
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
    if (error instanceof StepNotApproved)
      return run.finish({ outcome: error.outcome, message: error.message, plan: error.plan });
    const failure = failureOf(error);
    return run.finish({ ...failure, encryption: run.status.plan?.before });
  }
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
