/**
 * The Temporal worker: connects, registers the runbook workflows (prebuilt bundle when
 * `npm run build` made one, bundled on the fly in development) and the activities built once
 * from config, and shuts down cleanly on SIGINT/SIGTERM.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { ConfigError, loadConfig, type Config } from './src/config';
import { createActivitiesFromConfig } from './src/activities';
import { createSettingsActivities, type WorkerTrust } from './src/activities/settings';
import { createChatPort } from './src/bot/chat-port';
import { createChatTransport } from './src/bot/transports';

/** What {@link createCmkWorker} needs; everything is injected so tests use the same factory. */
export interface CmkWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: object;
  /** The policy, bot keys and chat service URLs runs trust; runs read them through `loadRunSettings`. */
  trust: WorkerTrust;
  /** A prebuilt bundle (tests share one per run); otherwise the prebuilt file or the sources. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Extra worker options (tuning, interceptors). */
  options?: Partial<WorkerOptions>;
}

const PREBUILT_BUNDLE = path.join(__dirname, 'workflow-bundle.js');

/** Creates the worker for the runbooks' task queue. */
export async function createCmkWorker(opts: CmkWorkerOptions): Promise<Worker> {
  const source: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> = opts.workflowBundle
    ? { workflowBundle: opts.workflowBundle }
    : existsSync(PREBUILT_BUNDLE)
      ? { workflowBundle: { codePath: PREBUILT_BUNDLE } }
      : { workflowsPath: require.resolve('./src/workflows') };
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: { ...opts.activities, ...createSettingsActivities(opts.trust) },
    ...source,
    ...opts.options,
  });
}

/** Connects to Temporal, failing within `timeoutMs` with a message that names the setting. */
export async function connectToTemporal(
  config: Config['temporal'],
  timeoutMs = 10_000,
): Promise<NativeConnection> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `Cannot reach Temporal at ${config.address} within ${timeoutMs / 1000}s. ` +
              `Check TEMPORAL_ADDRESS (or your TEMPORAL_PROFILE) and that the server is running.`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([NativeConnection.connect(config.connection), timeout]);
  } catch (error) {
    if ((error as Error).message.startsWith('Cannot reach Temporal')) throw error;
    throw new Error(
      `Cannot connect to Temporal at ${config.address} (TEMPORAL_ADDRESS): ${(error as Error).message}`,
    );
  } finally {
    clearTimeout(timer);
  }
}

/** Entry point: `npm run worker`. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = loadConfig(env, ['temporal', 'azure', 'bot', 'policy', 'verifying']);
  const connection = await connectToTemporal(config.temporal);
  const trustedServiceUrls = config.bot.trustedServiceUrls;
  const chat = createChatPort(await createChatTransport(config.bot), { trustedServiceUrls });
  const activities = await createActivitiesFromConfig(config, chat);
  const worker = await createCmkWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    activities,
    trust: { policy: config.policy, botKeys: config.verifying.botKeys, trustedServiceUrls },
    options: { maxCachedWorkflows: config.temporal.maxCachedWorkflows },
  });
  console.log(
    `cmk-runbook worker polling "${config.temporal.taskQueue}" on ${config.temporal.address} (namespace ${config.temporal.namespace})`,
  );
  const stop = (): void => worker.shutdown();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    await worker.run();
  } finally {
    await connection.close();
    console.log('cmk-runbook worker stopped');
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(
      error instanceof ConfigError ? error.message : `cmk-runbook worker failed: ${(error as Error).message}`,
    );
    process.exit(1);
  });
}
