/**
 * The audit the security suite ends with: every destructive Azure write in the request log must
 * fall inside a run whose history shows, before the write, a quorum of decisions each signed by
 * the bot (checked here with `jose`, independently of the product's verifier) for that run, from
 * approvers the worker's recorded policy allows, none of them the requester its signed start names.
 */
import type { Client } from '@temporalio/client';
import { compactVerify } from 'jose';
import { policyHashOf } from '../../src/activities/settings';
import type { LocalAzure, RequestLogEntry } from '../../src/local-azure';
import type { RunSettings } from '../../src/shared/activities';
import { approversFor, quorumFor, type ApprovalPolicy, type DecideInput } from '../../src/shared/approval';
import { PROOF_TYPES } from '../../src/shared/proof';
import type { Operation, RunContext, RunResult } from '../../src/shared/runbooks';
import { WORKFLOW_TYPES } from '../../src/shared/runbooks';
import type { InputByOperation } from '../../src/shared/start';
import type { Row } from '../chaos/support';
import { testPublicKey } from '../helpers/trust';
import { openPayload } from '../helpers/codec';

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

/** The payload of a compact JWS of `typ` signed by the test bot key, or undefined when it is not one. */
async function signedClaims(token: unknown, typ: string): Promise<Record<string, unknown> | undefined> {
  if (typeof token !== 'string') return undefined;
  try {
    const { payload, protectedHeader } = await compactVerify(token, testPublicKey(), {
      algorithms: ['EdDSA'],
    });
    if (protectedHeader.typ !== typ) return undefined;
    return JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** The settings the run read from its worker, as its history recorded them. */
export async function recordedSettings(events: HistoryEvent[]): Promise<RunSettings | undefined> {
  const scheduled = events.find(
    (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'loadRunSettings',
  );
  if (!scheduled) return undefined;
  const completed = events.find(
    (e) =>
      Number(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? -1) === Number(scheduled.eventId),
  );
  const payload = completed?.activityTaskCompletedEventAttributes?.result?.payloads?.[0];
  return payload ? openPayload<RunSettings>(payload) : undefined;
}

type HistoryEvent = NonNullable<
  Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>['events']
>[number];

async function factsOf(
  client: Client,
  workflowId: string,
  runId: string,
  policy: ApprovalPolicy,
): Promise<RunFacts> {
  const events = (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
  const started = events[0]?.workflowExecutionStartedEventAttributes;
  const type = started?.workflowType?.name ?? '';
  const operation = (Object.keys(WORKFLOW_TYPES) as Operation[]).find((o) => WORKFLOW_TYPES[o] === type);
  const input = await openPayload<InputByOperation['configure'] & RunContext>(started!.input!.payloads![0]!);
  const last = events.at(-1);
  const resultPayload = last?.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0];
  const result = resultPayload ? await openPayload<RunResult>(resultPayload) : undefined;
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
  // The policy the run used is the worker's (its recorded hash is the configured policy's),
  // never anything its input carried; the requester is the one the bot signed the start for.
  const settings = await recordedSettings(events);
  if (
    !settings ||
    settings.policyHash !== policyHashOf(policy) ||
    policyHashOf(settings.policy) !== settings.policyHash
  )
    return facts;
  const start = await signedClaims(input.startProof, PROOF_TYPES.start);
  if (!start || typeof start.sub !== 'string') return facts;
  const approvalOperation = result?.plan?.approvalOperation ?? operation;
  const allowed = approversFor(settings.policy, approvalOperation);
  const roles = settings.policy.roles?.[approvalOperation] ?? [];
  const approvers = new Set<string>();
  for (const e of events) {
    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
    if (accepted?.meta?.updateId === undefined || accepted.input?.name !== 'decide') continue;
    const decision = await openPayload<DecideInput>(accepted.input.args!.payloads![0]!);
    const claims = await signedClaims(decision.proof, PROOF_TYPES.decision);
    if (!claims || claims.wf !== workflowId || claims.run !== runId || claims.verdict !== 'approve') continue;
    const who = String(claims.sub);
    if (claims.tid !== settings.policy.tenantId || !allowed.includes(who) || who === start.sub) continue;
    approvers.add(who);
    const rolesMet = roles.every((role) => role.approvers.some((id) => approvers.has(id.toLowerCase())));
    if (
      approvers.size >= quorumFor(settings.policy, approvalOperation) &&
      rolesMet &&
      facts.quorumAt === undefined
    )
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
  policy: ApprovalPolicy,
): Promise<Row[]> {
  const runs: RunFacts[] = [];
  for (const workflowId of new Set(workflowIds)) {
    for await (const run of client.workflow.list({ query: `WorkflowId = "${workflowId}"` }))
      runs.push(await factsOf(client, workflowId, run.runId, policy));
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
      expected: 'a run on it with a signed quorum before the write',
      got: run ? `${run.label}: signed quorum ${new Date(run.quorumAt!).toISOString()}` : 'no signed quorum',
      pass: run !== undefined,
    };
  });
}
