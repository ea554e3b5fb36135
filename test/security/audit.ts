/**
 * The audit the security suite ends with: every destructive Azure write in the request log must
 * fall inside a run whose history shows a quorum of accepted approvals from allowed approvers
 * (not the requester) before the write.
 */
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { LocalAzure, RequestLogEntry } from '../../src/local-azure';
import { approversFor, quorumFor, type DecideInput } from '../../src/shared/approval';
import type { Operation, RunResult } from '../../src/shared/runbooks';
import { WORKFLOW_TYPES } from '../../src/shared/runbooks';
import type { InputByOperation } from '../../src/shared/start';
import type { Row } from '../chaos/support';

/** Writes that change what data an account can reach or that cannot be undone. */
const DESTRUCTIVE =
  /^(storageAccounts\.update|roleAssignments\.delete|vaults\.delete|vaults\.purgeDeleted|keys\.(update|delete|purge))$/;

/** Destructive writes Azure accepted (access-policy removals included). */
export function destructiveWrites(local: LocalAzure): RequestLogEntry[] {
  return local.requestLog
    .writes()
    .filter(
      (e) =>
        e.status < 300 &&
        (DESTRUCTIVE.test(e.operation) ||
          (e.operation === 'vaults.updateAccessPolicy' && /\/accesspolicies\/remove$/i.test(e.path))),
    );
}

interface RunFacts {
  label: string;
  names: string[];
  startedAt: number;
  closedAt: number;
  /** Times at which the run had a quorum of valid approvals, earliest first. */
  quorumAt?: number;
}

const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined): number =>
  t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : Number.POSITIVE_INFINITY;

async function factsOf(client: Client, workflowId: string, runId: string): Promise<RunFacts> {
  const events = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
  const started = events[0]?.workflowExecutionStartedEventAttributes;
  const type = started?.workflowType?.name ?? '';
  const operation = (Object.keys(WORKFLOW_TYPES) as Operation[]).find((o) => WORKFLOW_TYPES[o] === type);
  const input = defaultPayloadConverter.fromPayload<InputByOperation['configure']>(
    started!.input!.payloads![0]!,
  );
  const last = events.at(-1);
  const resultPayload = last?.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0];
  const result = resultPayload ? defaultPayloadConverter.fromPayload<RunResult>(resultPayload) : undefined;
  const names = [
    input.account?.name,
    'vault' in input ? input.vault?.name : undefined,
    result?.plan?.vault?.name,
    result?.plan?.key?.vaultName,
  ].filter((n): n is string => typeof n === 'string' && n.length > 0);
  const facts: RunFacts = {
    label: `${type} ${input.account?.name ?? ''}`,
    names: [...new Set(names.map((n) => n.toLowerCase()))],
    startedAt: ms(events[0]?.eventTime),
    closedAt: last?.workflowExecutionCompletedEventAttributes ? ms(last.eventTime) : Number.POSITIVE_INFINITY,
  };
  if (!operation) return facts;
  const allowed = approversFor(input.policy, operation);
  const approvers = new Set<string>();
  for (const e of events) {
    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
    if (accepted?.meta?.updateId === undefined || accepted.input?.name !== 'decide') continue;
    const decision = defaultPayloadConverter.fromPayload<DecideInput>(accepted.input.args!.payloads![0]!);
    const who = decision.approverAadId.toLowerCase();
    if (decision.verdict !== 'approve' || !allowed.includes(who)) continue;
    if (who === input.requester.aadObjectId.toLowerCase()) continue;
    approvers.add(who);
    if (approvers.size >= quorumFor(input.policy, operation) && facts.quorumAt === undefined)
      facts.quorumAt = ms(e.eventTime);
  }
  return facts;
}

/**
 * One row per destructive write: pass when a run on the same account or vault was open at that
 * moment and had reached its quorum of approvals before it.
 */
export async function auditDestructiveWrites(
  local: LocalAzure,
  client: Client,
  workflowIds: string[],
): Promise<Row[]> {
  const runs: RunFacts[] = [];
  for (const workflowId of new Set(workflowIds)) {
    for await (const run of client.workflow.list({ query: `WorkflowId = "${workflowId}"` }))
      runs.push(await factsOf(client, workflowId, run.runId));
  }
  return destructiveWrites(local).map((write) => {
    const at = Date.parse(write.at);
    const where = `${write.host}${write.path}`.toLowerCase();
    const run = runs.find(
      (r) =>
        r.names.some((n) => new RegExp(`(/|^)${n}(\\.|/|$)`).test(where)) &&
        r.startedAt <= at &&
        at <= r.closedAt &&
        r.quorumAt !== undefined &&
        r.quorumAt <= at,
    );
    return {
      case: `${write.method} ${write.operation} ${write.path.split('/').at(-1) ?? ''}`,
      expected: 'a run on it with quorum approval before the write',
      got: run ? `${run.label}: quorum ${new Date(run.quorumAt!).toISOString()}` : 'no approved run',
      pass: run !== undefined,
    };
  });
}
