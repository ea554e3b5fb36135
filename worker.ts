/**
 * The Temporal worker: connects, registers the runbook workflows (prebuilt bundle when
 * `npm run build` made one, bundled on the fly in development) and the activities built once
 * from config; logs JSON through one logger (Temporal's Core included), serves metrics and
 * health, seals payloads with the codec, and drains cleanly on the first SIGINT/SIGTERM.
 */
import { existsSync } from 'node:fs';
import { DefaultAzureCredential } from '@azure/identity';
import { temporal } from '@temporalio/proto';
import type { DataConverter } from '@temporalio/common';
import {
  makeTelemetryFilterString,
  NativeConnection,
  Runtime,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import { ConfigError, loadConfig, type Config } from './src/config';
import { createActivitiesFromConfig, type ActivityTiming } from './src/activities';
import { createSettingsActivities, type WorkerTrust } from './src/activities/settings';
import { WriteQueueRate } from './src/activities/write-queue-rate';
import { workflowStackTraces } from './src/workflow-threads';
import { createChatPort } from './src/bot/chat-port';
import { createChatTransport } from './src/bot/transports';
import { createDataConverter } from './src/codec/data-converter';
import { resolvePayloadKeys } from './src/codec/keys';
import type { ChatPort } from './src/shared/chat';
import { activityOutcomeLog } from './src/telemetry/activity-log';
import { freePort, onFirstSignal } from './src/telemetry/process';
import {
  createLogger,
  logCallbackOf,
  temporalLevelOf,
  TemporalPinoLogger,
  type CmkLogger,
} from './src/telemetry/logger';
import { createMetrics } from './src/telemetry/metrics';
import { startOpsServer } from './src/telemetry/ops-server';
import { startConfiguredTracing } from './src/telemetry/configured-tracing';
import type { Tracing } from './src/telemetry/tracing';
import { bundleWorkflows, PREBUILT_BUNDLES } from './src/workflow-bundle';
import {
  armWriteQueue,
  DEFAULT_KEY_VAULT_CREATES_PER_SECOND,
  keyVaultCreatesInAll,
  keyVaultCreateQueue,
} from './src/shared/task-queues';

/** What {@link createCmkWorker} needs; everything is injected so tests use the same factory. */
export interface CmkWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: object;
  /** The policy, bot keys and chat service URLs runs trust; runs read them through `loadRunSettings`. */
  trust: WorkerTrust;
  /** The codec and failure converter every client of the namespace shares ({@link createDataConverter}). */
  dataConverter: DataConverter;
  /** Tracing interceptors and sink; the bundle then must carry the tracing workflow interceptors. */
  tracing?: Tracing;
  /** A prebuilt bundle (tests share one per run); otherwise the prebuilt file or the sources. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Extra worker options (tuning); extra activity interceptors run inside the worker's own. */
  options?: Partial<WorkerOptions>;
  /**
   * The subscriptions whose ARM write queues this worker polls (every one the configuration
   * names, so no run waits on a queue nobody polls) and the rate Temporal's server holds each
   * queue to, one budget for all workers (src/shared/task-queues.ts).
   */
  armWrites: {
    subscriptionIds: readonly string[];
    perSecond: number;
    /**
     * Steers each write queue's rate from what is left in ARM's bucket, so a fleet spends ARM's
     * burst; without it the queues keep `perSecond`. Its floor is `perSecond` (checked).
     */
    rate?: WriteQueueRate;
  };
  /**
   * The rate per vault (software keys; HSM keys at half) the server holds the queue of Key Vault
   * creates to; default {@link DEFAULT_KEY_VAULT_CREATES_PER_SECOND}.
   */
  keyVaultCreates?: { perSecond: number };
}

/**
 * The runbooks' worker and the activity-only workers of the paced queues it also polls; runs,
 * stops and reports state as one.
 */
export interface CmkWorker {
  /** Every task queue polled: the runbooks' first, then the paced ones. */
  readonly taskQueues: string[];
  /**
   * How Key Vault creates are paced: `per vault and subscription` when the server took the queue's
   * per-vault rate and its rate for the whole queue, otherwise why not (a server without task
   * queue configuration); they then run unpaced and Key Vault's 429s, which the clients wait out,
   * are the only brake.
   */
  readonly keyVaultPacing: string;
  /** How ARM writes are paced: `steered …` when the server took the queues' rate, or why not. */
  readonly armWritePacing: string;
  run(): Promise<void>;
  shutdown(): void;
  getState(): ReturnType<Worker['getState']>;
}

/** Creates the worker for the runbooks' task queue and one for each subscription's ARM write queue. */
export async function createCmkWorker(opts: CmkWorkerOptions): Promise<CmkWorker> {
  if (opts.armWrites.rate && opts.armWrites.rate.floor !== opts.armWrites.perSecond)
    throw new Error(
      `the write queues' steering falls back to ${opts.armWrites.rate.floor}/s, not the configured ${opts.armWrites.perSecond}/s`,
    );
  const main = await createRunbookWorker(opts);
  const { interceptors: extra, shutdownGraceTime } = opts.options ?? {};
  const activity = [activityOutcomeLog, ...(extra?.activity ?? [])];
  const activityWorker = (taskQueue: string, options: Partial<WorkerOptions> = {}): Promise<Worker> =>
    Worker.create({
      connection: opts.connection,
      namespace: opts.namespace,
      taskQueue,
      activities: opts.activities,
      dataConverter: opts.dataConverter,
      maxConcurrentActivityTaskPolls: 2,
      interceptors: {
        activity: [...(opts.tracing?.workerOptions.interceptors?.activity ?? []), ...activity],
      },
      ...(shutdownGraceTime !== undefined ? { shutdownGraceTime } : {}),
      ...options,
    });
  const paced: Worker[] = [];
  const armWritePacing = opts.armWrites.rate
    ? await opts.armWrites.rate.start(pacedSubscriptions(opts), (subscriptionId, perSecond) =>
        setQueueRate(opts, armWriteQueue(opts.taskQueue, subscriptionId), perSecond),
      )
    : `the workers' rate only (${opts.armWrites.perSecond}/s)`;
  for (const subscriptionId of pacedSubscriptions(opts)) {
    // The server holds the queue to this rate whichever worker polls it: one budget.
    const rate = { maxTaskQueueActivitiesPerSecond: opts.armWrites.perSecond };
    paced.push(await activityWorker(armWriteQueue(opts.taskQueue, subscriptionId), rate));
  }
  const creates = keyVaultCreateQueue(opts.taskQueue);
  const keyVaultPacing = await paceKeyVaultCreates(
    opts,
    creates,
    opts.keyVaultCreates?.perSecond ?? DEFAULT_KEY_VAULT_CREATES_PER_SECOND,
  );
  paced.push(await activityWorker(creates));
  return combineWorkers([main, ...paced], { keyVaultPacing, armWritePacing });
}

/**
 * Changes the configuration the server keeps for `taskQueue`'s activities, whichever worker polls
 * it (a rate set so takes precedence over the rate the workers declare); kept until set again.
 */
async function configureActivityQueue(
  opts: CmkWorkerOptions,
  taskQueue: string,
  change: Pick<
    temporal.api.workflowservice.v1.IUpdateTaskQueueConfigRequest,
    'updateQueueRateLimit' | 'updateFairnessKeyRateLimitDefault'
  >,
): Promise<void> {
  await opts.connection.workflowService.updateTaskQueueConfig({
    namespace: opts.namespace,
    identity: `cmk-runbook worker ${process.pid}`,
    taskQueue,
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    ...change,
  });
}

/** Sets the rate the server holds `taskQueue`'s activities to, whichever worker polls it. */
async function setQueueRate(opts: CmkWorkerOptions, taskQueue: string, perSecond: number): Promise<void> {
  await configureActivityQueue(opts, taskQueue, {
    updateQueueRateLimit: {
      rateLimit: { requestsPerSecond: perSecond },
      reason: "what is left in ARM's write bucket (CMK_ARM_WRITES_PER_SECOND when it is low)",
    },
  });
}

/**
 * Paces the queue of Key Vault creates across all workers: its per-fairness-key rate (each
 * create's fairness key is its vault) holds every vault to `perSecond`, and its rate as a whole
 * holds all creates to a subscription's limit ({@link keyVaultCreatesInAll}), five times a
 * vault's. One queue serves every subscription, so several subscriptions share one subscription's
 * rate: slower than Azure allows them, never faster. The settings are the queue's, kept by the
 * server; every worker sets the same ones when it starts. Returns `per vault and subscription`,
 * or why the server did not take them.
 */
async function paceKeyVaultCreates(
  opts: CmkWorkerOptions,
  taskQueue: string,
  perSecond: number,
): Promise<string> {
  try {
    await configureActivityQueue(opts, taskQueue, {
      updateFairnessKeyRateLimitDefault: {
        rateLimit: { requestsPerSecond: perSecond },
        reason: "Key Vault's create limit per vault (CMK_KEY_VAULT_CREATES_PER_SECOND)",
      },
      updateQueueRateLimit: {
        rateLimit: { requestsPerSecond: keyVaultCreatesInAll(perSecond) },
        reason: "Key Vault's create limit per subscription and region, five times a vault's",
      },
    });
    return 'per vault and subscription';
  } catch (error) {
    return `unpaced: the Temporal server did not take the queue's rates (${(error as Error).message})`;
  }
}

/** The subscriptions whose ARM write queues the worker polls: each configured one, once, in lower case. */
function pacedSubscriptions(opts: CmkWorkerOptions): string[] {
  return [...new Set(opts.armWrites.subscriptionIds.map((s) => s.toLowerCase()))];
}

/** Runs, stops and reports `workers` as one; when one stops, the others are stopped too. */
function combineWorkers(
  workers: Worker[],
  pacing: Pick<CmkWorker, 'keyVaultPacing' | 'armWritePacing'>,
): CmkWorker {
  return {
    taskQueues: workers.map((w) => w.options.taskQueue),
    ...pacing,
    async run() {
      const runs = workers.map((w) =>
        w.run().finally(() => {
          for (const other of workers) if (other.getState() === 'RUNNING') other.shutdown();
        }),
      );
      const outcomes = await Promise.allSettled(runs);
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      if (failed) throw failed.reason;
    },
    shutdown() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
    getState() {
      return workers.map((w) => w.getState()).find((s) => s !== 'RUNNING') ?? 'RUNNING';
    },
  };
}

/**
 * The worker of the runbooks' own task queue: workflows and every activity. Its settings tell runs
 * which write queues it polls, so a run schedules a write only on a queue a worker serves.
 */
async function createRunbookWorker(opts: CmkWorkerOptions): Promise<Worker> {
  const prebuilt = opts.tracing ? PREBUILT_BUNDLES.traced : PREBUILT_BUNDLES.plain;
  const source: Pick<WorkerOptions, 'workflowBundle'> = opts.workflowBundle
    ? { workflowBundle: opts.workflowBundle }
    : existsSync(prebuilt)
      ? { workflowBundle: { codePath: prebuilt } }
      : { workflowBundle: await bundleQuietly(Boolean(opts.tracing)) };
  const traced = opts.tracing?.workerOptions;
  const { interceptors: extra, ...options } = opts.options ?? {};
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    activities: { ...opts.activities, ...createSettingsActivities(opts.trust, pacedSubscriptions(opts)) },
    dataConverter: opts.dataConverter,
    ...source,
    interceptors: {
      ...traced?.interceptors,
      activity: [...(traced?.interceptors?.activity ?? []), activityOutcomeLog, ...(extra?.activity ?? [])],
    },
    ...(traced ? { sinks: traced.sinks } : {}),
    ...options,
  });
}

/**
 * Bundles the workflows from source (development, `npm start`): webpack's report of every module
 * stays out of the log; its warnings and errors, and one line with the time it took, go in.
 */
export async function bundleQuietly(tracing: boolean): Promise<{ code: string }> {
  const log = Runtime.instance().logger;
  const started = Date.now();
  const { code } = await bundleWorkflows({
    tracing,
    logger: {
      log: (level, message, meta) => {
        if (level === 'WARN' || level === 'ERROR') log.log(level, message, meta);
      },
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: (message, meta) => {
        log.warn(message, meta);
      },
      error: (message, meta) => {
        log.error(message, meta);
      },
    },
  });
  log.info('workflows bundled from source', {
    ms: Date.now() - started,
    kib: Math.round(code.length / 1024),
  });
  return { code };
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

/**
 * How long running activities may finish after a stop was asked for; then they are cancelled
 * (and retried by another worker). Container stop periods are longer (docker-compose.yml: 30 s).
 */
export const SHUTDOWN_GRACE = '10s';

/**
 * Installs Temporal's Runtime once per process: the SDK's, workflows', activities' and Core's
 * logs through `logger` at `level`; Core's Prometheus exporter on a loopback port of its own,
 * whose text the worker's `/metrics` serves; no signal handling (the worker drains on its own).
 */
export async function installRuntime(
  logger: CmkLogger,
  level: Config['telemetry']['logLevel'],
): Promise<string> {
  const corePort = await freePort();
  const temporalLevel = temporalLevelOf(level);
  Runtime.install({
    logger: new TemporalPinoLogger(logger),
    shutdownSignals: [],
    telemetryOptions: {
      logging: { filter: makeTelemetryFilterString({ core: temporalLevel, other: 'WARN' }), forward: {} },
      metrics: { prometheus: { bindAddress: `127.0.0.1:${corePort}`, useSecondsForDurations: true } },
    },
  });
  return `http://127.0.0.1:${corePort}/metrics`;
}

/**
 * What a caller of {@link main} may put in place of the configured pieces; production passes
 * none. Suites run the production start-up with these (a prebuilt bundle, a chat that goes
 * nowhere, short activity waits, activity interceptors that hold a run at a boundary).
 */
export interface WorkerOverrides {
  /** A prebuilt workflow bundle, so a restart does not re-bundle. */
  workflowBundle?: CmkWorkerOptions['workflowBundle'];
  /** The chat port, instead of the configured Teams transport. */
  chat?: ChatPort;
  /** Activity waits (poll intervals, heartbeats) on top of the defaults. */
  timing?: Partial<ActivityTiming>;
  /** Worker options on top of the configured ones; extra activity interceptors run inside the worker's own. */
  options?: Partial<WorkerOptions>;
  /** Awaited once the worker is built, before it polls. */
  beforeRun?: () => Promise<void>;
}

/** The chat port over the configured bot SDK, sending only to trusted connectors; retries counted. */
async function teamsChat(
  config: Config,
  logger: CmkLogger,
  metrics: ReturnType<typeof createMetrics>,
): Promise<ChatPort> {
  return createChatPort(await createChatTransport(config.bot, { log: logCallbackOf(logger) }), {
    trustedServiceUrls: config.bot.trustedServiceUrls,
    delivery: { onRetry: (status) => metrics.deliveryRetries.inc({ status: String(status) }) },
  });
}

/** The worker's ops endpoint: its metrics (the core's and its own) and readiness. */
function startWorkerOps(
  config: Config,
  logger: CmkLogger,
  metrics: { core: string; own: ReturnType<typeof createMetrics> },
  worker: CmkWorker,
): ReturnType<typeof startOpsServer> {
  return startOpsServer({
    port: config.telemetry.metricsPort,
    host: config.telemetry.metricsHost,
    log: logger,
    metrics: async () => {
      const core = await fetch(metrics.core).then(
        (r) => r.text(),
        () => '',
      );
      return `${core.trimEnd()}\n${await metrics.own.registry.metrics()}`;
    },
    ready: () => (worker.getState() === 'RUNNING' ? undefined : `worker is ${worker.getState()}`),
  });
}

/** Entry point: `npm run worker`. Resolves once the worker has drained and stopped. */
export async function main(
  env: NodeJS.ProcessEnv = process.env,
  overrides: WorkerOverrides = {},
): Promise<void> {
  const config = loadConfig(env, ['temporal', 'azure', 'bot', 'policy', 'verifying', 'codec']);
  const logger = createLogger({ name: 'cmk-worker', level: config.telemetry.logLevel });
  const coreMetricsUrl = await installRuntime(logger, config.telemetry.logLevel);
  const metrics = createMetrics('worker');
  const tracing = await startConfiguredTracing(config.telemetry, 'cmk-worker');
  const connection = await connectToTemporal(config.temporal);
  const keys = await resolvePayloadKeys(config.codec, () => ({ credential: new DefaultAzureCredential() }));
  const trustedServiceUrls = config.bot.trustedServiceUrls;
  const chat = overrides.chat ?? (await teamsChat(config, logger, metrics));
  const writeRate = new WriteQueueRate(config.azure.armWritesPerSecond, undefined, (error) =>
    logger.warn({ error: error.message }, "the ARM write queue's rate could not be changed"),
  );
  const activities = await createActivitiesFromConfig(config, chat, {
    metrics,
    armBucketObserver: writeRate.observe,
    ...(overrides.timing ? { timing: overrides.timing } : {}),
  });
  const worker = await createCmkWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    activities,
    trust: {
      policy: config.policy,
      botKeys: config.verifying.botKeys,
      trustedServiceUrls,
      ...(config.bot.approvals ? { approvals: config.bot.approvals } : {}),
    },
    dataConverter: createDataConverter(keys),
    ...(tracing ? { tracing } : {}),
    ...(overrides.workflowBundle ? { workflowBundle: overrides.workflowBundle } : {}),
    options: {
      maxCachedWorkflows: config.temporal.maxCachedWorkflows,
      shutdownGraceTime: SHUTDOWN_GRACE,
      ...overrides.options,
    },
    armWrites: {
      subscriptionIds: config.azure.subscriptionIds,
      perSecond: config.azure.armWritesPerSecond,
      rate: writeRate,
    },
    keyVaultCreates: { perSecond: config.azure.keyVaultCreatesPerSecond },
  });
  const ops = await startWorkerOps(config, logger, { core: coreMetricsUrl, own: metrics }, worker);
  const stackTraces = workflowStackTraces(config.temporal.workflowStackTraces);
  await overrides.beforeRun?.();
  logger.info(
    {
      taskQueues: worker.taskQueues,
      armWrites: `${worker.armWritePacing}, ${config.azure.armWritesPerSecond}/s when it is low`,
      keyVaultCreates: `${worker.keyVaultPacing}, ${config.azure.keyVaultCreatesPerSecond}/s per vault, ${keyVaultCreatesInAll(config.azure.keyVaultCreatesPerSecond)}/s in all`,
      address: config.temporal.address,
      namespace: config.temporal.namespace,
      payloadKeys: keys.map((k) => k.id),
      tracing: config.telemetry.tracing,
      workflowStackTraces: stackTraces.state,
    },
    `cmk-runbook worker polling "${config.temporal.taskQueue}"`,
  );
  if (stackTraces.note) logger.warn({ workflowStackTraces: stackTraces.state }, stackTraces.note);
  onFirstSignal((signal) => {
    logger.info({ signal }, 'stopping: no new tasks; running activities get the shutdown grace time');
    worker.shutdown();
  });
  try {
    await worker.run();
  } finally {
    await ops.close();
    await connection.close();
    await tracing?.shutdown();
    logger.info('cmk-runbook worker stopped');
    logger.flush();
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(
        `${error instanceof ConfigError ? error.message : `cmk-runbook worker failed: ${(error as Error).message}`}\n`,
      );
      process.exit(1);
    },
  );
}
