/**
 * The production worker, wired exactly as `worker.ts` wires it (config from env, Azure clients
 * with DefaultAzureCredential, the Teams chat port), except that it loads the bench run's
 * prebuilt workflow bundle so a restart does not re-bundle. Run as a child so its RSS is its own.
 */
import { ConfigError, loadConfig } from '../src/config';
import { createActivitiesFromConfig } from '../src/activities';
import { createChatPort } from '../src/bot/chat-port';
import { createChatTransport } from '../src/bot/transports';
import { connectToTemporal, createCmkWorker } from '../worker';

/** This file, for spawning it as the worker child process. */
export const BENCH_WORKER_ENTRY = __filename;

async function main(): Promise<void> {
  const config = loadConfig(process.env, ['temporal', 'azure', 'bot', 'policy', 'verifying']);
  const codePath = process.env.CMK_BENCH_WORKFLOW_BUNDLE;
  const connection = await connectToTemporal(config.temporal);
  const trustedServiceUrls = config.bot.trustedServiceUrls;
  const chat = createChatPort(await createChatTransport(config.bot), { trustedServiceUrls });
  const worker = await createCmkWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    activities: await createActivitiesFromConfig(config, chat),
    trust: { policy: config.policy, botKeys: config.verifying.botKeys, trustedServiceUrls },
    options: { maxCachedWorkflows: config.temporal.maxCachedWorkflows },
    ...(codePath ? { workflowBundle: { codePath } } : {}),
  });
  const stop = (): void => worker.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await worker.run();
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `${error instanceof ConfigError ? error.message : `bench worker failed: ${(error as Error).message}`}\n`,
    );
    process.exit(1);
  });
}
