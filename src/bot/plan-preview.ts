/**
 * Runs a plan preview: the `planOperation` workflow under a `cmk-plan/…` id (never the account's
 * lock), which checks the bot's signed start, inspects Azure on the worker and returns the plan.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { PLAN_WORKFLOW, planWorkflowId, type PlanOperationInput, type PlanPreview } from '../shared/preview';
import { OPERATION_TITLES } from '../shared/runbooks';

/** A preview that takes longer than this is reported as failed rather than left waiting. */
const PREVIEW_TIMEOUT = '2 minutes';

/** Executes the preview and returns its plan, or why there is none. */
export function runPlanPreview(
  client: Client,
  taskQueue: string,
  input: PlanOperationInput,
): Promise<PlanPreview> {
  return client.workflow.execute(PLAN_WORKFLOW, {
    taskQueue,
    workflowId: planWorkflowId(input.account, randomUUID()),
    args: [input],
    workflowExecutionTimeout: PREVIEW_TIMEOUT,
    staticSummary: `Plan only · ${OPERATION_TITLES[input.operation]} · ${input.account.name}`,
  }) as Promise<PlanPreview>;
}
