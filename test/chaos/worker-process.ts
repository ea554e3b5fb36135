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
import { NativeConnection } from '@temporalio/worker';
import { createActivities, createAzureClients } from '../../src/activities';
import { loadConfig } from '../../src/config';
import { TEAMS_SERVICE_URLS, type ChatPort } from '../../src/shared/chat';
import { createCmkWorker } from '../../worker';
import { FAST_TIMING } from '../helpers/stack';
import { testDataConverter } from '../helpers/codec';

/**
 * Chat is not what this suite tests: cards get ids and go nowhere. An edit takes a moment, as a
 * call into Teams does, so the suite can still kill the worker after the last Azure activity (the
 * outcome card is edited after it) before the run closes, on a fast machine too.
 */
const silentChat: ChatPort = {
  postCard: async () => `msg-${process.pid}-${Date.now()}`,
  updateCard: () => new Promise<void>((resolve) => setTimeout(resolve, 400)),
  sendText: async () => undefined,
};

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

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
    options: { shutdownGraceTime: '100ms', stickyQueueScheduleToStartTimeout: '1s' },
  });
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  // The suite holds stdin open; when it is gone (killed or timed out) this worker goes too.
  lines.once('close', () => process.exit(1));
  while ((await once(lines, 'line'))[0] !== 'go');
  const running = worker.run();
  process.stdout.write('polling\n');
  await running;
  await connection.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`chaos worker failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
