/**
 * The bot's side of Temporal: start a runbook by type name, send a decision as an Update,
 * read a run's status and list recent runs. Never imports workflow code.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowUpdateStage, type Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { workflowIdFor } from '../shared/accounts';
import { decideUpdate, statusQuery, type DecideInput, type RunStatus } from '../shared/approval';
import { SA, WORKFLOW_TYPES } from '../shared/runbooks';
import type { RunListItem } from './cards/render';
import type { RunRequest } from './run-inputs';

/** Where runs start and how their links look. */
export interface RunServiceOptions {
  client: Client;
  taskQueue: string;
  namespace: string;
  /** Base URL of the Temporal UI, e.g. http://localhost:8233. */
  uiBaseUrl: string;
}

/** A run that was started. */
export interface StartedRun {
  workflowId: string;
  runId: string;
  uiUrl: string;
}

/** Another run holds the account's lock; its link lets the user follow it. */
export class AccountLocked extends Error {
  override readonly name = 'AccountLocked';
  constructor(
    readonly workflowId: string,
    readonly uiUrl: string,
  ) {
    super(`Another run is already working on this account (${workflowId}).`);
  }
}

/** The workflow refused a decision; the message says why in plain words. */
export class DecisionRefused extends Error {
  override readonly name = 'DecisionRefused';
}

/** Start, decide, read and list runs. */
export interface RunService {
  start(request: RunRequest): Promise<StartedRun>;
  /** Sends `decide` once per `updateId` and waits until the workflow accepted it. */
  decide(
    ref: { workflowId: string; runId?: string },
    input: DecideInput,
    updateId: string,
  ): Promise<RunStatus>;
  /** The run's status, or undefined when there is no run with that id. */
  getStatus(workflowId: string, runId?: string): Promise<RunStatus | undefined>;
  /** Most recent runs first. */
  listRuns(limit?: number): Promise<RunListItem[]>;
  uiUrl(workflowId: string, runId?: string): string;
}

/** The Temporal UI page of a run (or of the latest run of a workflow id). */
export function temporalUiUrl(base: string, namespace: string, workflowId: string, runId?: string): string {
  const root = `${base.replace(/\/$/, '')}/namespaces/${encodeURIComponent(namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${root}/${encodeURIComponent(runId)}/history` : root;
}

/** A {@link RunService} over a Temporal client. */
export function createRunService(options: RunServiceOptions): RunService {
  const { client, namespace, uiBaseUrl } = options;
  const uiUrl = (workflowId: string, runId?: string): string =>
    temporalUiUrl(uiBaseUrl, namespace, workflowId, runId);
  return {
    uiUrl,
    async start(request) {
      const workflowId = workflowIdFor(request.account);
      const requestedBy = request.input.requester.name || request.input.requester.aadObjectId;
      const attributes = [
        { key: SA.account, value: request.account.name },
        { key: SA.operation, value: request.operation },
        { key: SA.stage, value: 'preflight' },
        { key: SA.requestedBy, value: requestedBy },
        ...(request.vault ? [{ key: SA.vault, value: request.vault }] : []),
      ];
      try {
        const handle = await client.workflow.start(WORKFLOW_TYPES[request.operation], {
          taskQueue: options.taskQueue,
          workflowId,
          workflowIdConflictPolicy: 'FAIL',
          args: [request.input],
          typedSearchAttributes: new TypedSearchAttributes(attributes),
          staticSummary: request.summary,
        });
        return {
          workflowId,
          runId: handle.firstExecutionRunId,
          uiUrl: uiUrl(workflowId, handle.firstExecutionRunId),
        };
      } catch (error) {
        if (error instanceof WorkflowExecutionAlreadyStartedError) {
          const running = await client.workflow.getHandle(workflowId).describe();
          throw new AccountLocked(workflowId, uiUrl(workflowId, running.runId));
        }
        throw error;
      }
    },
    async decide(ref, input, updateId) {
      const handle = client.workflow.getHandle(ref.workflowId, ref.runId);
      try {
        const update = await handle.startUpdate(decideUpdate, {
          args: [input],
          updateId,
          waitForStage: WorkflowUpdateStage.ACCEPTED,
        });
        return await update.result();
      } catch (error) {
        throw new DecisionRefused(refusalReason(error));
      }
    },
    async getStatus(workflowId, runId) {
      try {
        return await client.workflow.getHandle(workflowId, runId).query(statusQuery);
      } catch (error) {
        if ((error as Error).name === 'WorkflowNotFoundError') return undefined;
        throw error;
      }
    },
    async listRuns(limit = 10) {
      const items: RunListItem[] = [];
      for await (const run of client.workflow.list({
        query: 'WorkflowId STARTS_WITH "cmk/" ORDER BY StartTime DESC',
        pageSize: limit,
      })) {
        const described = await client.workflow.getHandle(run.workflowId, run.runId).describe();
        const summary = (await described.staticSummary()) ?? `${run.type} · ${run.workflowId}`;
        const stage = run.typedSearchAttributes.get(SA.stage);
        items.push({
          summary,
          detail: `${run.status.name.toLowerCase()}${stage ? ` · ${stage}` : ''} · started ${run.startTime.toISOString()}`,
          uiUrl: uiUrl(run.workflowId, run.runId),
        });
        if (items.length >= limit) break;
      }
      return items;
    },
  };
}

function refusalReason(error: unknown): string {
  const err = error as Error & { cause?: Error };
  if (err.name === 'WorkflowNotFoundError' || /already completed|not found/i.test(err.message)) {
    return 'This run has already finished, so it takes no more decisions.';
  }
  return err.cause?.message || err.message;
}
