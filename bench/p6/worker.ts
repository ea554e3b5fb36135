/**
 * A P6 activity worker process: ARM writes (a PATCH of a storage account's tags) through the
 * production Azure SDK client with the worker's own pacing off, so the only pacing is Temporal's:
 * `P6_MODE=queue` sets the task queue's server-enforced rate (`maxTaskQueueActivitiesPerSecond`),
 * `P6_MODE=worker` this process's own (`maxActivitiesPerSecond`).
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { createAzureClients } from '../../src/activities/azure-clients';
import { createProxyAgent } from '../../src/activities/proxy-agent';
import { loadConfig } from '../../src/config';
import type { RateActivities, WriteTarget } from './workflows';

/** This file, for spawning it. */
export const P6_WORKER_ENTRY = __filename;

async function main(): Promise<void> {
  const config = loadConfig(process.env, ['temporal', 'azure']);
  const agent = await createProxyAgent(config.azure.proxy);
  const azure = createAzureClients(config.azure, { ...(agent ? { agent } : {}), armBudget: false });
  const activities: RateActivities = {
    async armWrite(t: WriteTarget) {
      await azure
        .storage(t.subscriptionId)
        .storageAccounts.update(t.resourceGroup, t.name, { tags: { p6: String(Date.now()) } });
    },
  };
  const rate = Number(process.env.P6_RATE);
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue: process.env.P6_QUEUE!,
    activities,
    maxConcurrentActivityTaskExecutions: 100,
    ...(process.env.P6_MODE === 'queue'
      ? { maxTaskQueueActivitiesPerSecond: rate }
      : { maxActivitiesPerSecond: rate }),
  });
  process.once('SIGTERM', () => worker.shutdown());
  await worker.run();
  await connection.close();
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`p6 worker failed: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
