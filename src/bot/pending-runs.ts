/**
 * `pending`: the runs waiting for one approver — running, approval pending, the person among
 * the run's approvers, not its requester and not yet decided — read from each run's own status.
 */
import type { Client } from '@temporalio/client';
import { statusQuery, type RunStatus } from '../shared/approval';

/** How many runs the card lists at most. */
const MAX_PENDING = 20;

/** Whether the run waits for this person's decision now. */
function waitsOn(status: RunStatus, aadObjectId: string): boolean {
  const me = aadObjectId.toLowerCase();
  const a = status.approval;
  return (
    a.state === 'pending' &&
    !status.result &&
    a.approvers.some((id) => id.toLowerCase() === me) &&
    status.requester.aadObjectId.toLowerCase() !== me &&
    !a.decisions.some((d) => d.approverAadId.toLowerCase() === me)
  );
}

/** Runs waiting on `aadObjectId`, soonest deadline first. */
export async function listPendingFor(client: Client, aadObjectId: string): Promise<RunStatus[]> {
  const found: RunStatus[] = [];
  const runs = client.workflow.list({ query: 'ExecutionStatus = "Running" AND ApprovalStatus = "pending"' });
  for await (const run of runs) {
    if (!run.workflowId.startsWith('cmk')) continue;
    const status = await client.workflow
      .getHandle(run.workflowId, run.runId)
      .query(statusQuery)
      .catch(() => undefined);
    if (status && waitsOn(status, aadObjectId)) found.push(status);
    if (found.length >= MAX_PENDING) break;
  }
  return found.sort((x, y) => (x.approval.deadline ?? '').localeCompare(y.approval.deadline ?? ''));
}
