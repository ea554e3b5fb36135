/**
 * A runbook worker in its own process, so the chaos suite can SIGKILL it. It builds the real
 * activities over the production client factory against the local Azure named by the
 * environment (HTTPS_PROXY, NODE_EXTRA_CA_CERTS, AZURE_*). It warms up (imports, clients, bundle),
 * prints "ready", and starts polling only when "go" arrives on stdin, so a spare can take over
 * from a killed worker at once.
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { ClientSecretCredential } from '@azure/identity';
import type { Context } from '@temporalio/activity';
import { NativeConnection, type ActivityInterceptorsFactory } from '@temporalio/worker';
import { createActivities, createAzureClients } from '../../src/activities';
import { loadConfig } from '../../src/config';
import { TEAMS_SERVICE_URLS, type ChatPort } from '../../src/shared/chat';
import { DEFAULT_ARM_WRITES_PER_SECOND } from '../../src/shared/task-queues';
import { createCmkWorker } from '../../worker';
import { FAST_TIMING } from '../helpers/stack';
import { testDataConverter } from '../helpers/codec';
import { CHAT_ACTIVITIES } from './chat-activities';

/** Chat is not what this suite tests: cards get ids and go nowhere. */
const silentChat: ChatPort = {
  postCard: async () => `msg-${process.pid}-${Date.now()}`,
  updateCard: async () => undefined,
  sendText: async () => undefined,
};

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/**
 * Runs the suite asked to stop at a boundary: `hold <runId> <n>` on stdin means that once this
 * worker has completed n Azure activities of that run, every later activity of the run waits here
 * until the process is killed. The boundary is then a state the suite can see and kill in, not a
 * window of a few milliseconds between the last Azure call and the run's end. An interceptor, so
 * the activities the worker adds itself (the run's settings) count as the history counts them.
 */
const holds = new Map<string, number>();
const completed = new Map<string, number>();
const holding = (runId: string): boolean =>
  holds.has(runId) && (completed.get(runId) ?? 0) >= holds.get(runId)!;

/**
 * `hold-in <runId> <activityType>`: that activity of the run does its work against Azure, then
 * its answer waits here (the worker prints `held <activityType>`) until `release <runId>` comes:
 * the middle of a step, where Azure has changed and Temporal has not heard so yet.
 */
const holdsIn = new Map<string, string>();
const releases = new Map<string, () => void>();
const released = (runId: string): Promise<void> =>
  new Promise((resolve) => {
    releases.set(runId, resolve);
  });

const holdAtBoundary: ActivityInterceptorsFactory = (ctx: Context) => ({
  inbound: {
    async execute(input, next) {
      // Runs of one account share a workflow id, so a run is known by its run id.
      const runId = ctx.info.workflowExecution?.runId ?? '';
      if (holding(runId)) await new Promise(() => undefined);
      const result = await next(input);
      if (holdsIn.get(runId) === ctx.info.activityType) {
        holdsIn.delete(runId);
        const go = released(runId);
        process.stdout.write(`held ${ctx.info.activityType}\n`);
        await go;
      }
      if (!CHAT_ACTIVITIES.includes(ctx.info.activityType))
        completed.set(runId, (completed.get(runId) ?? 0) + 1);
      return result;
    },
  },
});

async function main(): Promise<void> {
  const tenantId = required('AZURE_TENANT_ID');
  const credential = new ClientSecretCredential(
    tenantId,
    required('AZURE_CLIENT_ID'),
    required('AZURE_CLIENT_SECRET'),
  );
  const azure = createAzureClients(
    {
      tenantId,
      subscriptionIds: required('CMK_SUBSCRIPTION_IDS').split(','),
      armEndpoint: 'https://management.azure.com',
    },
    { credential, retry: { maxRetries: 2, retryDelayInMs: 20, maxRetryDelayInMs: 200 } },
  );
  const activities = createActivities({ azure, chat: silentChat, tenantId, timing: FAST_TIMING });
  // The policy and bot key come from the environment, read as the production worker reads them.
  const config = loadConfig(process.env, ['policy', 'verifying']);
  const connection = await NativeConnection.connect({ address: required('CMK_CHAOS_TEMPORAL_ADDRESS') });
  const worker = await createCmkWorker({
    connection,
    namespace: 'default',
    taskQueue: required('CMK_CHAOS_TASK_QUEUE'),
    activities,
    trust: {
      policy: config.policy,
      botKeys: config.verifying.botKeys,
      trustedServiceUrls: TEAMS_SERVICE_URLS,
    },
    workflowBundle: { codePath: required('CMK_TEST_WORKFLOW_BUNDLE') },
    dataConverter: testDataConverter,
    armWrites: {
      subscriptionIds: required('CMK_SUBSCRIPTION_IDS').split(','),
      perSecond: DEFAULT_ARM_WRITES_PER_SECOND,
    },
    options: {
      shutdownGraceTime: '100ms',
      stickyQueueScheduleToStartTimeout: '1s',
      interceptors: { activity: [holdAtBoundary] },
    },
  });
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  // The suite holds stdin open; when it is gone (killed or timed out) this worker goes too.
  lines.once('close', () => process.exit(1));
  while ((await once(lines, 'line'))[0] !== 'go');
  lines.on('line', (line: string) => {
    const [verb, runId, arg] = line.split(' ');
    if (verb === 'hold' && runId && arg) holds.set(runId, Number(arg));
    if (verb === 'hold-in' && runId && arg) holdsIn.set(runId, arg);
    if (verb === 'release' && runId) releases.get(runId)?.();
  });
  const running = worker.run();
  process.stdout.write('polling\n');
  await running;
  await connection.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`chaos worker failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
