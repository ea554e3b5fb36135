/**
 * The runbook test stack: a Temporal server (the run's dev server or a time-skipping one), a
 * worker on a unique task queue with the project's worker factory and the shared bundle, the
 * Azure the activities act on, and a chat recorder standing in for Teams.
 */
import type { Client, WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { createCmkWorker } from '../../worker';
import type { CmkActivities } from '../../src/shared/activities';
import type { ApprovalPolicy, Person } from '../../src/shared/approval';
import type { ChatPort } from '../../src/shared/chat';
import type { Operation, RunResult } from '../../src/shared/runbooks';
import { startOptionsFor, type InputByOperation } from '../../src/shared/start';
import { ClientSecretCredential } from '@azure/identity';
import { createActivities, createAzureClients, type ActivityTiming } from '../../src/activities';
import { startLocalAzure, type LocalAzure, type LocalAzureOptions } from '../../src/local-azure';
import type { AccountRef } from '../../src/shared/accounts';
import { AzureDouble } from '../workflows/azure-double';
import { ChatRecorder } from '../workflows/chat-recorder';
import { ChatRecorder as TeamsRecorder } from './chat-recorder';
import { testEnv, uniqueId, workflowBundle } from './temporal';

/** People in the tests, by Entra object id. */
export const PEOPLE = {
  requester: { aadObjectId: '11111111-1111-4111-8111-111111111111', name: 'Rita Requester' },
  alice: { aadObjectId: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', name: 'Alice Approver' },
  bob: { aadObjectId: 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', name: 'Bob Approver' },
  mallory: { aadObjectId: 'cccccccc-cccc-4ccc-8ccc-cccccccccccc', name: 'Mallory Outsider' },
} as const satisfies Record<string, Person>;

/** A policy where Alice and Bob approve everything, one approval each, with the given deadline. */
export function testPolicy(overrides: Partial<ApprovalPolicy> = {}): ApprovalPolicy {
  const both = [PEOPLE.alice.aadObjectId, PEOPLE.bob.aadObjectId];
  return {
    approvers: {
      configure: both,
      rotate: both,
      changeKey: both,
      revoke: both,
      disable: both,
      setRotationPolicy: both,
      fleetRotate: both,
    },
    quorum: {},
    deadline: '1h',
    ...overrides,
  };
}

/** What tests get from {@link startStack}. */
export interface Stack {
  env: TestWorkflowEnvironment;
  client: Client;
  taskQueue: string;
  azure: AzureDouble;
  chat: ChatRecorder;
  /** Starts a runbook the way the bot does (account workflow id, conflict policy FAIL). */
  start<O extends Operation>(
    operation: O,
    input: InputByOperation[O],
  ): Promise<WorkflowHandleWithFirstExecutionRunId>;
  /** Stops the worker (in-flight activities are cancelled) and starts a fresh one. */
  restartWorker(): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link startStack}. */
export interface StackOptions {
  /** A time-skipping environment; the run's dev server otherwise. */
  env?: TestWorkflowEnvironment;
}

/** A worker that can be stopped and started again on the same task queue. */
interface RestartableWorker {
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function startWorker(
  env: TestWorkflowEnvironment,
  taskQueue: string,
  activities: object,
): Promise<RestartableWorker> {
  const bundle = await workflowBundle();
  let worker: Worker;
  let running: Promise<void>;
  const launch = async (): Promise<void> => {
    worker = await createCmkWorker({
      connection: env.nativeConnection,
      namespace: env.namespace ?? 'default',
      taskQueue,
      activities,
      workflowBundle: bundle,
      options: { shutdownGraceTime: '100ms' },
    });
    running = worker.run();
  };
  await launch();
  const stop = async (): Promise<void> => {
    worker.shutdown();
    await running;
  };
  return {
    stop,
    async restart() {
      await stop();
      await launch();
    },
  };
}

/** Starts a runbook the way the bot does; without registered search attributes on time-skipping servers. */
function starter(env: TestWorkflowEnvironment, taskQueue: string, timeSkipping: boolean) {
  return async <O extends Operation>(
    operation: O,
    input: InputByOperation[O],
  ): Promise<WorkflowHandleWithFirstExecutionRunId> => {
    const { workflowType, ...opts } = startOptionsFor(operation, input, taskQueue);
    return env.client.workflow.start(
      workflowType,
      timeSkipping ? { ...opts, typedSearchAttributes: [] } : opts,
    );
  };
}

/** Starts a worker with the in-memory Azure's activities on a unique task queue. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const env = options.env ?? (await testEnv());
  const taskQueue = uniqueId('tq-runbooks');
  const azure = new AzureDouble();
  const chat = new ChatRecorder();
  const worker = await startWorker(env, taskQueue, azure.activities(chatActivities(chat)));
  return {
    env,
    client: env.client,
    taskQueue,
    azure,
    chat,
    start: starter(env, taskQueue, options.env !== undefined),
    restartWorker: () => worker.restart(),
    close: () => worker.stop(),
  };
}

/** Short activity waits so tests stay fast; the code paths are the production ones. */
export const FAST_TIMING: ActivityTiming = {
  grantPollMs: 25,
  grantTimeoutMs: 30_000,
  probePollMs: 25,
  lroPollMs: 10,
  rotationPollMs: 25,
  heartbeatMs: 100,
};

/** The seeded demo subscription and resource groups of the local Azure. */
export const LOCAL = {
  subscriptionId: '3f1c9a2e-7b64-4d0e-a5c8-0000000000a1',
  storageGroup: 'rg-storage',
  keysGroup: 'rg-keys',
} as const;

/** The full stack: the local Azure, the real activities and SDK clients, a worker, a Teams recorder. */
export interface LocalStack {
  env: TestWorkflowEnvironment;
  client: Client;
  taskQueue: string;
  local: LocalAzure;
  chat: TeamsRecorder;
  start<O extends Operation>(
    operation: O,
    input: InputByOperation[O],
  ): Promise<WorkflowHandleWithFirstExecutionRunId>;
  restartWorker(): Promise<void>;
  /** A new storage account on Microsoft-managed keys in the demo subscription. */
  newAccount(prefix?: string): AccountRef;
  /** A unique vault name. */
  vaultName(prefix?: string): string;
  close(): Promise<void>;
}

/** Starts the local Azure, the real activities over the production client factory, and a worker. */
export async function startLocalStack(
  options: LocalAzureOptions & { env?: TestWorkflowEnvironment; timing?: Partial<ActivityTiming> } = {},
): Promise<LocalStack> {
  const { env: given, timing, ...azureOptions } = options;
  const env = given ?? (await testEnv());
  const local = await startLocalAzure({
    roleAssignmentPropagationMs: 150,
    revocationPropagationMs: 100,
    ...azureOptions,
  });
  const { tenantId, clientId, clientSecret } = local.credentials;
  const credential = new ClientSecretCredential(tenantId, clientId, clientSecret, { agent: local.agent });
  const azure = createAzureClients(
    { tenantId, subscriptionIds: local.subscriptionIds, armEndpoint: 'https://management.azure.com' },
    { credential, agent: local.agent, retry: { maxRetries: 2, retryDelayInMs: 20, maxRetryDelayInMs: 200 } },
  );
  const chat = new TeamsRecorder();
  const activities = createActivities({ azure, chat, tenantId, timing: { ...FAST_TIMING, ...timing } });
  const taskQueue = uniqueId('tq-local');
  const worker = await startWorker(env, taskQueue, activities);
  const suffix = (): string => Math.random().toString(36).slice(2, 10);
  return {
    env,
    client: env.client,
    taskQueue,
    local,
    chat,
    start: starter(env, taskQueue, given !== undefined),
    restartWorker: () => worker.restart(),
    newAccount: (prefix = 'st') => {
      const ref = {
        subscriptionId: LOCAL.subscriptionId,
        resourceGroup: LOCAL.storageGroup,
        name: `${prefix}${suffix()}`.slice(0, 24),
      };
      local.state.addStorageAccount(ref);
      return ref;
    },
    vaultName: (prefix = 'kv') => `${prefix}-${suffix()}`,
    async close() {
      await worker.stop();
      await local.close();
    },
  };
}

/** The chat activities over a ChatPort, as the real activities build them. */
function chatActivities(
  port: ChatPort,
): Pick<CmkActivities, 'postRunCard' | 'updateRunCard' | 'sendChatText'> {
  return {
    postRunCard: ({ conversation, status }) => port.postCard(conversation, status),
    updateRunCard: ({ conversation, messageId, status }) => port.updateCard(conversation, messageId, status),
    sendChatText: ({ conversation, text }) => port.sendText(conversation, text),
  };
}

/** Waits for a run's result. */
export function resultOf(handle: WorkflowHandle): Promise<RunResult> {
  return handle.result() as Promise<RunResult>;
}
