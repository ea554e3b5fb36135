/**
 * The trust every test stack shares: one Ed25519 key pair per test process standing in for the
 * bot's (its public key configured on every test worker), the tenant the test people belong to,
 * and helpers that sign starts and decisions exactly as the bot does after a command or a click.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type {
  Client,
  WorkflowHandle,
  WorkflowHandleWithFirstExecutionRunId,
  WorkflowStartOptions,
} from '@temporalio/client';
import type { WorkerTrust } from '../../src/activities/settings';
import { createProofSigner } from '../../src/bot/signing';
import { keyIdOf, type SigningConfig } from '../../src/config';
import {
  ANY_MEMBER,
  REQUEST_ENV_SUFFIX,
  REQUEST_OPERATIONS,
  decideUpdate,
  statusQuery,
  type ApprovalPolicy,
  type CancelInput,
  type DecideInput,
  type Person,
  type RequestOperation,
  type RunStatus,
} from '../../src/shared/approval';
import { TEAMS_SERVICE_URLS, type ConversationRef } from '../../src/shared/chat';
import type { BotPublicKey } from '../../src/shared/proof';
import { OPERATION_ENV_SUFFIX, OPERATIONS, type Operation } from '../../src/shared/runbooks';
import {
  proofTargetOf,
  startOptionsFor,
  startTargetOf,
  type InputByOperation,
  type ScheduledRotationInput,
  type StartOptions,
} from '../../src/shared/start';
import type { AccountRef } from '../../src/shared/accounts';

/** The Entra tenant of every test person. */
export const TEST_TENANT = '7e57e57e-0000-4000-8000-00000000c0de';

/** The service URL test conversations carry: Teams' public connector, trusted by default. */
export const TEST_SERVICE_URL = 'https://smba.trafficmanager.net/teams/';

const pair = generateKeyPairSync('ed25519');
const x = String(pair.publicKey.export({ format: 'jwk' }).x);

/** The bot signing key of the test process (the bot in bot tests signs with it too). */
export const TEST_SIGNING: SigningConfig = { privateKey: pair.privateKey, kid: keyIdOf(x) };

/** Its public half, as a worker is configured with it. */
export const TEST_BOT_KEY: BotPublicKey = { kid: TEST_SIGNING.kid, x };

/** Signs as the test bot. */
export const testSigner = createProofSigner(TEST_SIGNING);

/** Every request operation open to every member of the test tenant. */
export function anyMemberMayRequest(): Partial<Record<RequestOperation, string[]>> {
  return Object.fromEntries(REQUEST_OPERATIONS.map((op) => [op, [ANY_MEMBER]]));
}

/** A worker's trust for a policy: the test bot key and Teams' connectors plus any given. */
export function workerTrust(policy: ApprovalPolicy, extraServiceUrls: string[] = []): WorkerTrust {
  return {
    policy,
    botKeys: [TEST_BOT_KEY],
    trustedServiceUrls: [...TEAMS_SERVICE_URLS, ...extraServiceUrls],
  };
}

/** A conversation reference as the bot captures it: with the connector's service URL. */
export function inTeams(conversation: ConversationRef | undefined): ConversationRef | undefined {
  if (!conversation) return undefined;
  return 'serviceUrl' in conversation ? conversation : { ...conversation, serviceUrl: TEST_SERVICE_URL };
}

/**
 * Start options for a runbook as the bot makes them: its input without any policy (the worker
 * holds that) and with a start proof for the requester, operation, target and conversation.
 */
export async function signedStartOptions<O extends Operation>(
  operation: O,
  input: InputByOperation[O],
  taskQueue: string,
  { tenantId = TEST_TENANT, issuedAtMs }: { tenantId?: string; issuedAtMs?: number } = {},
): Promise<StartOptions<O>> {
  const { policy: _ignored, ...rest } = input;
  const conversation = inTeams(rest.conversation);
  const unsigned = { ...rest, ...(conversation ? { conversation } : {}) } as InputByOperation[O];
  const options = startOptionsFor(operation, unsigned, taskQueue);
  const target = proofTargetOf(unsigned, options.workflowId);
  const startProof = await testSigner.signStart({
    operation,
    target,
    requester: unsigned.requester,
    tenantId,
    conversation,
    ...(issuedAtMs === undefined ? {} : { issuedAtMs }),
  });
  return { ...options, args: [{ ...unsigned, startProof }] };
}

/** Starts a runbook as the bot does after a command. */
export async function startSigned<O extends Operation>(
  client: Client,
  operation: O,
  input: InputByOperation[O],
  taskQueue: string,
  extra: Pick<WorkflowStartOptions, 'workflowTaskTimeout' | 'typedSearchAttributes' | 'memo'> & {
    /** The server's clock when it is not the machine's (time-skipping tests). */
    issuedAtMs?: number;
  } = {},
): Promise<WorkflowHandleWithFirstExecutionRunId> {
  const { issuedAtMs, ...more } = extra;
  const { workflowType, ...options } = await signedStartOptions(operation, input, taskQueue, {
    ...(issuedAtMs === undefined ? {} : { issuedAtMs }),
  });
  return client.workflow.start(workflowType, { ...options, ...more });
}

/** What a click on the run card sends, signed as the bot signs it; run and plan from the card. */
export async function signedDecision(
  status: Pick<RunStatus, 'workflowId' | 'runId'> & { plan?: { fingerprint: string } },
  person: Person,
  verdict: 'approve' | 'reject',
  extra: {
    fingerprint?: string;
    comment?: string;
    invokeId?: string;
    tenantId?: string;
    /** The server's clock when it is not the machine's (time-skipping tests). */
    issuedAtMs?: number;
  } = {},
): Promise<DecideInput> {
  const fingerprint = extra.fingerprint ?? status.plan?.fingerprint ?? '';
  const tenantId = extra.tenantId ?? TEST_TENANT;
  const proof = await testSigner.signDecision({
    workflowId: status.workflowId,
    runId: status.runId,
    fingerprint,
    verdict,
    approver: person,
    tenantId,
    invokeId: extra.invokeId ?? `invoke-${Math.random().toString(36).slice(2)}`,
    ...(extra.comment ? { comment: extra.comment } : {}),
    ...(extra.issuedAtMs === undefined ? {} : { issuedAtMs: extra.issuedAtMs }),
  });
  return {
    approverAadId: person.aadObjectId.toLowerCase(),
    approverName: person.name,
    verdict,
    tenantId,
    fingerprint,
    proof,
    ...(extra.comment ? { comment: extra.comment } : {}),
  };
}

/** Decides on the run's current card as a person, the way the bot does after a click. */
export async function decideAs(
  handle: WorkflowHandle,
  person: Person,
  verdict: 'approve' | 'reject',
  extra: { fingerprint?: string; comment?: string; issuedAtMs?: number } = {},
): Promise<RunStatus> {
  const status = await handle.query(statusQuery);
  return handle.executeUpdate(decideUpdate, { args: [await signedDecision(status, person, verdict, extra)] });
}

/** A rotation schedule's input as the bot makes it after `schedule-rotation`: owner, account, signed. */
export async function signedScheduleInput(
  account: AccountRef,
  owner: Person,
  conversation?: ConversationRef,
): Promise<ScheduledRotationInput> {
  const inChat = inTeams(conversation);
  const startProof = await testSigner.signStart({
    operation: 'scheduleRotation',
    target: startTargetOf(account),
    requester: owner,
    tenantId: TEST_TENANT,
    conversation: inChat,
  });
  return { account, owner, startProof, ...(inChat ? { conversation: inChat } : {}) };
}

/** The test bot's public key as a Node key object, for verifying proofs independently of the product. */
export function testPublicKey(): KeyObject {
  return pair.publicKey;
}

/**
 * The environment a worker process reads the same trust from (`loadConfig` parts `policy` and
 * `verifying`): for workers the tests start as child processes.
 */
export function workerTrustEnv(policy: ApprovalPolicy): Record<string, string> {
  const env: Record<string, string> = {
    CMK_BOT_PUBLIC_KEYS: TEST_BOT_KEY.x,
    CMK_APPROVAL_TENANT_ID: policy.tenantId ?? TEST_TENANT,
    CMK_APPROVAL_DEADLINE: policy.deadline,
  };
  for (const op of OPERATIONS) {
    const suffix = OPERATION_ENV_SUFFIX[op];
    const approvers = policy.approvers[op];
    if (approvers?.length) env[`CMK_APPROVERS_${suffix}`] = approvers.join(',');
    const quorum = policy.quorum[op];
    if (quorum !== undefined) env[`CMK_QUORUM_${suffix}`] = String(quorum);
    const roles = policy.roles?.[op];
    if (roles?.length)
      env[`CMK_ROLES_${suffix}`] = roles.map((r) => `${r.name}=${r.approvers.join(',')}`).join(';');
  }
  for (const op of REQUEST_OPERATIONS) {
    const requesters = policy.requesters?.[op];
    if (requesters?.length) env[`CMK_REQUESTERS_${REQUEST_ENV_SUFFIX[op]}`] = requesters.join(',');
  }
  if (policy.alwaysApprove?.length) env.CMK_ALWAYS_APPROVE = policy.alwaysApprove.join(',');
  return env;
}

/** What `cancel <account>` sends, signed as the bot signs it, for the run in `status`. */
export async function signedCancel(
  status: Pick<RunStatus, 'workflowId' | 'runId'>,
  person: Person,
  { tenantId = TEST_TENANT, activityId }: { tenantId?: string; activityId?: string } = {},
): Promise<CancelInput> {
  const proof = await testSigner.signRunAction({
    action: 'cancel',
    workflowId: status.workflowId,
    runId: status.runId,
    person,
    tenantId,
    activityId: activityId ?? `message-${Math.random().toString(36).slice(2)}`,
  });
  return { aadObjectId: person.aadObjectId.toLowerCase(), name: person.name, tenantId, proof };
}
