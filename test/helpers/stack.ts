/**
 * The runbook test stack: a Temporal server (the run's dev server or a time-skipping one), a
 * worker on a unique task queue with the project's worker factory and the shared bundle, the
 * Azure the activities act on, and a chat recorder standing in for Teams.
 */
import {
  WorkflowFailedError,
  type Client,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { CmkActivities } from '../../src/shared/activities';
import type { ApprovalPolicy, Person } from '../../src/shared/approval';
import type { ChatPort } from '../../src/shared/chat';
import type { Operation, RunResult } from '../../src/shared/runbooks';
import type { InputByOperation } from '../../src/shared/start';
import type { ActivityTiming, AzureClients } from '../../src/activities';
import type { LocalAzure, LocalAzureOptions } from '../../src/local-azure';
import type { AccountRef } from '../../src/shared/accounts';
import { AzureDouble } from '../workflows/azure-double';
import { ChatRecorder, localAzure, startWorker, type KitWorker } from '../kit';
import { testEnv, uniqueId } from './temporal';
import { anyMemberMayRequest, startSigned, TEST_TENANT, workerTrust } from './trust';

export { FAST_TIMING, SEEDED as LOCAL } from '../kit';

/** People in the tests, by Entra object id. */
export const PEOPLE = {
  requester: { aadObjectId: '11111111-1111-4111-8111-111111111111', name: 'Rita Requester' },
  alice: { aadObjectId: 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa', name: 'Alice Approver' },
  bob: { aadObjectId: 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb', name: 'Bob Approver' },
  mallory: { aadObjectId: 'cccccccc-cccc-4ccc-8ccc-cccccccccccc', name: 'Mallory Outsider' },
} as const satisfies Record<string, Person>;

/**
 * A policy where Alice and Bob approve everything, one approval each, anyone of the test tenant
 * may ask, with the given deadline. Tests hand it to the stack, which configures it on a worker.
 */
export function testPolicy(overrides: Partial<ApprovalPolicy> = {}): ApprovalPolicy {
  const both = [PEOPLE.alice.aadObjectId, PEOPLE.bob.aadObjectId];
  return {
    tenantId: TEST_TENANT,
    requesters: anyMemberMayRequest(),
    approvers: {
      configure: both,
      rotate: both,
      changeKey: both,
      revoke: both,
      disable: both,
      setRotationPolicy: both,
      fleetRotate: both,
      updateVersion: both,
      restoreAccess: both,
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
  /** The task queue of the worker configured with `testPolicy()`. */
  taskQueue: string;
  azure: AzureDouble;
  chat: ChatRecorder;
  /**
   * Starts a runbook the way the bot does (account workflow id, conflict policy FAIL, a signed
   * start). A `policy` in the input is configured on a worker of its own, never sent as input.
   */
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

/**
 * Workers over the same activities, one per policy a test asks for, each on its own task queue:
 * the policy is the worker's configuration, so a test that needs another policy gets a worker
 * configured with it. The one for `testPolicy()` starts at once.
 */
class PolicyWorkers {
  private readonly workers = new Map<string, Promise<KitWorker>>();

  private constructor(
    private readonly env: TestWorkflowEnvironment,
    private readonly activities: object,
    private readonly prefix: string,
  ) {}

  static async start(
    env: TestWorkflowEnvironment,
    activities: object,
    prefix: string,
  ): Promise<PolicyWorkers> {
    const workers = new PolicyWorkers(env, activities, prefix);
    await workers.taskQueueFor(testPolicy());
    return workers;
  }

  /** The task queue of the worker configured with `policy`, started on first use. */
  async taskQueueFor(policy: ApprovalPolicy): Promise<string> {
    const key = JSON.stringify(policy);
    let entry = this.workers.get(key);
    if (!entry) {
      const taskQueue = uniqueId(this.prefix);
      entry = startWorker({
        connection: this.env.nativeConnection,
        namespace: this.env.namespace ?? 'default',
        taskQueue,
        activities: this.activities,
        trust: workerTrust(policy),
      });
      this.workers.set(key, entry);
    }
    return (await entry).taskQueue;
  }

  async restart(): Promise<void> {
    for (const entry of this.workers.values()) await (await entry).restart();
  }

  async stop(): Promise<void> {
    for (const entry of this.workers.values()) await (await entry).close();
  }
}

/** Starts a runbook the way the bot does; without registered search attributes on time-skipping servers. */
function starter(env: TestWorkflowEnvironment, workers: PolicyWorkers, timeSkipping: boolean) {
  return async <O extends Operation>(
    operation: O,
    input: InputByOperation[O],
  ): Promise<WorkflowHandleWithFirstExecutionRunId> => {
    const taskQueue = await workers.taskQueueFor(input.policy ?? testPolicy());
    // A time-skipping server's clock runs ahead of this machine's; the bot signs in the server's time.
    return startSigned(
      env.client,
      operation,
      input,
      taskQueue,
      timeSkipping ? { typedSearchAttributes: [], issuedAtMs: await env.currentTimeMs() } : {},
    );
  };
}

/** Starts a worker with the in-memory Azure's activities on a unique task queue. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const env = options.env ?? (await testEnv());
  const azure = new AzureDouble();
  const chat = new ChatRecorder();
  const workers = await PolicyWorkers.start(env, azure.activities(chatActivities(chat)), 'tq-runbooks');
  return {
    env,
    client: env.client,
    taskQueue: await workers.taskQueueFor(testPolicy()),
    azure,
    chat,
    start: starter(env, workers, options.env !== undefined),
    restartWorker: () => workers.restart(),
    close: () => workers.stop(),
  };
}

/** The full stack: the local Azure, the real activities and SDK clients, a worker, a Teams recorder. */
export interface LocalStack {
  env: TestWorkflowEnvironment;
  client: Client;
  taskQueue: string;
  local: LocalAzure;
  chat: ChatRecorder;
  /** The production Azure clients the activities use, for arranging state through Azure's API. */
  azure: AzureClients;
  start<O extends Operation>(
    operation: O,
    input: InputByOperation[O],
  ): Promise<WorkflowHandleWithFirstExecutionRunId>;
  restartWorker(): Promise<void>;
  /**
   * Runs `hook` around the next call of the real `activity` (once): e.g. to change Azure after
   * a run's step finished and before its next one starts.
   */
  onNext<K extends keyof CmkActivities>(activity: K, hook: ActivityHook<K>): void;
  /** A new storage account on Microsoft-managed keys in the demo subscription. */
  newAccount(prefix?: string): AccountRef;
  /** A unique vault name. */
  vaultName(prefix?: string): string;
  close(): Promise<void>;
}

/** What {@link LocalStack.onNext} runs before and after one activity call. */
export interface ActivityHook<K extends keyof CmkActivities> {
  before?: (input: Parameters<CmkActivities[K]>[0]) => Promise<void> | void;
  after?: (
    input: Parameters<CmkActivities[K]>[0],
    output: Awaited<ReturnType<CmkActivities[K]>>,
  ) => Promise<void> | void;
}

/** The activities with one-shot hooks around them; the calls themselves are the real ones. */
function hooked(real: CmkActivities): {
  activities: CmkActivities;
  onNext: LocalStack['onNext'];
} {
  const hooks = new Map<keyof CmkActivities, ActivityHook<keyof CmkActivities>>();
  const activities = Object.fromEntries(
    (Object.keys(real) as (keyof CmkActivities)[]).map((name) => [
      name,
      async (input: never) => {
        const hook = hooks.get(name);
        hooks.delete(name);
        await hook?.before?.(input);
        const output = await (real[name] as (i: never) => Promise<never>)(input);
        await hook?.after?.(input, output);
        return output;
      },
    ]),
  ) as unknown as CmkActivities;
  return {
    activities,
    onNext: (name, hook) => void hooks.set(name, hook),
  };
}

/** Starts the local Azure, the real activities over the production client factory, and a worker. */
export async function startLocalStack(
  options: LocalAzureOptions & { env?: TestWorkflowEnvironment; timing?: Partial<ActivityTiming> } = {},
): Promise<LocalStack> {
  const { env: given, timing, ...azureOptions } = options;
  const env = given ?? (await testEnv());
  const kit = await localAzure({
    roleAssignmentPropagationMs: 150,
    revocationPropagationMs: 100,
    ...azureOptions,
  });
  const { local } = kit;
  const azure = kit.clients();
  const chat = new ChatRecorder();
  const { activities, onNext } = hooked(kit.activities({ azure, chat, ...(timing ? { timing } : {}) }));
  const workers = await PolicyWorkers.start(env, activities, 'tq-local');
  return {
    env,
    client: env.client,
    taskQueue: await workers.taskQueueFor(testPolicy()),
    local,
    chat,
    azure,
    start: starter(env, workers, given !== undefined),
    restartWorker: () => workers.restart(),
    onNext,
    newAccount: kit.newAccount,
    vaultName: kit.vaultName,
    async close() {
      await workers.stop();
      await local.close();
    },
  };
}

/** The chat activities over a ChatPort, as the real activities build them. */
export function chatActivities(
  port: ChatPort,
): Pick<CmkActivities, 'postRunCard' | 'updateRunCard' | 'sendChatText'> {
  return {
    postRunCard: ({ conversation, status }) => port.postCard(conversation, status),
    updateRunCard: ({ conversation, messageId, status }) => port.updateCard(conversation, messageId, status),
    sendChatText: ({ conversation, text }) => port.sendText(conversation, text),
  };
}

/**
 * Waits for a run's result: its return value, or for a run that failed (a failed workflow) the
 * result it carried in its failure's details.
 */
export async function resultOf(handle: Pick<WorkflowHandle, 'result'>): Promise<RunResult> {
  try {
    return (await handle.result()) as RunResult;
  } catch (error) {
    const cause = error instanceof WorkflowFailedError ? error.cause : undefined;
    const carried =
      cause instanceof ApplicationFailure ? (cause.details?.[0] as RunResult | undefined) : undefined;
    if (carried?.outcome) return carried;
    throw error;
  }
}
