/**
 * The runbook test stack: a Temporal server (the run's dev server or a time-skipping one), a
 * worker on a unique task queue with the project's worker factory and the shared bundle, the
 * Azure the activities act on, and a chat recorder standing in for Teams.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { createCmkWorker } from '../../worker';
import type { CmkActivities } from '../../src/shared/activities';
import type { ApprovalPolicy, Person } from '../../src/shared/approval';
import type { ChatPort } from '../../src/shared/chat';
import type { Operation, RunResult } from '../../src/shared/runbooks';
import { startOptionsFor, type InputByOperation } from '../../src/shared/start';
import { AzureDouble } from '../workflows/azure-double';
import { ChatRecorder } from '../workflows/chat-recorder';
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
  start<O extends Operation>(operation: O, input: InputByOperation[O]): Promise<WorkflowHandle>;
  /** Stops the worker (in-flight activities are cancelled) and starts a fresh one. */
  restartWorker(): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link startStack}. */
export interface StackOptions {
  /** A time-skipping environment; the run's dev server otherwise. */
  env?: TestWorkflowEnvironment;
}

/** Starts a worker with the test activities on a unique task queue. */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const env = options.env ?? (await testEnv());
  const taskQueue = uniqueId('tq-runbooks');
  const azure = new AzureDouble();
  const chat = new ChatRecorder();
  const activities = { ...azure.activities(chatActivities(chat)) };
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
  return {
    env,
    client: env.client,
    taskQueue,
    azure,
    chat,
    async start(operation, input) {
      const { workflowType, ...opts } = startOptionsFor(operation, input, taskQueue);
      return env.client.workflow.start(
        workflowType,
        options.env ? { ...opts, typedSearchAttributes: [] } : opts,
      );
    },
    async restartWorker() {
      worker.shutdown();
      await running;
      await launch();
    },
    async close() {
      worker.shutdown();
      await running;
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
