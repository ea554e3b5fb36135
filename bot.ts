/**
 * The bot's entry point (`npm run bot`, beside `worker.ts`): reads the configuration once, connects
 * to Temporal with the same options the worker uses, and serves the Teams endpoint with JSON logs,
 * the payload codec, and `/metrics`, `/livez`, `/readyz` on a separate port.
 */
import { DefaultAzureCredential } from '@azure/identity';
import { Client, Connection } from '@temporalio/client';
import { createAzureClients } from './src/activities/azure-clients';
import { createProxyAgent } from './src/activities/proxy-agent';
import { createArmAccountResolver } from './src/bot/accounts';
import { createCmkBot } from './src/bot/bot';
import { createRunService } from './src/bot/run-service';
import { startBotServer, type BotServer } from './src/bot/server';
import { createProofSigner } from './src/bot/signing';
import { createDataConverter } from './src/codec/data-converter';
import { resolvePayloadKeys } from './src/codec/keys';
import { ConfigError, loadConfig } from './src/config';
import { parseDurationMs } from './src/shared/duration';
import { createLogger, logCallbackOf } from './src/telemetry/logger';
import { createMetrics, registerApprovalBacklog } from './src/telemetry/metrics';
import { startOpsServer, type OpsServer } from './src/telemetry/ops-server';
import { onFirstSignal } from './src/telemetry/process';
import { startConfiguredTracing } from './src/telemetry/configured-tracing';

/** A running bot process: the endpoint, its operations endpoint, and its orderly stop. */
export interface BotProcess {
  server: BotServer;
  ops: OpsServer;
  /** Drains: no new requests, requests in flight answered, card edits finished; then disconnects. */
  stop(): Promise<void>;
}

/** The bot process (`npm run bot`): config → Temporal client, account resolver, bot, endpoint. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<BotProcess> {
  const config = loadConfig(env, ['temporal', 'azure', 'bot', 'policy', 'signing', 'codec']);
  const logger = createLogger({ name: 'cmk-bot', level: config.telemetry.logLevel });
  const log = logCallbackOf(logger);
  const metrics = createMetrics('bot');
  const tracing = await startConfiguredTracing(config.telemetry, 'cmk-bot');
  const credential = new DefaultAzureCredential();
  const keys = await resolvePayloadKeys(config.codec, () => ({ credential }));
  // The worker's connection options (TEMPORAL_* and the envconfig profile), as they were read.
  const connection = await Connection.connect(config.temporal.connection);
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: createDataConverter(keys),
    ...(tracing ? { interceptors: { workflow: tracing.clientInterceptors } } : {}),
  });
  // The worker's ARM clients: the bot's reads go through the same proxy and the same
  // header-corrected pacing of the subscription's read bucket.
  const agent = await createProxyAgent(config.azure.proxy);
  const azure = createAzureClients(config.azure, { credential, ...(agent ? { agent } : {}) });
  const handler = createCmkBot({
    runs: createRunService({
      client,
      taskQueue: config.temporal.taskQueue,
      namespace: config.temporal.namespace,
      uiBaseUrl: config.temporal.uiBaseUrl,
    }),
    resolver: createArmAccountResolver({
      subscriptionIds: config.azure.subscriptionIds,
      storage: (subscriptionId) => azure.storage(subscriptionId),
    }),
    subscriptionIds: config.azure.subscriptionIds,
    policy: config.policy,
    signer: createProofSigner(config.signing),
    uiBaseUrl: config.temporal.uiBaseUrl,
    log,
    metrics,
  });
  registerApprovalBacklog(
    metrics,
    async (query) => (await client.workflow.count(query)).count,
    parseDurationMs(config.policy.deadline, 'CMK_APPROVAL_DEADLINE'),
  );
  const server = await startBotServer({ bot: config.bot, handler, log, metrics });
  const ops = await startOpsServer({
    port: config.telemetry.metricsPort,
    host: config.telemetry.metricsHost,
    log: logger,
    metrics: () => metrics.registry.metrics(),
    ready: async () => {
      await connection.workflowService.getSystemInfo({});
      return undefined;
    },
  });
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      await server.close();
      await server.settled();
      await ops.close();
      await connection.close();
      await tracing?.shutdown();
      logger.info('cmk-runbook bot stopped');
      logger.flush();
    })());
  onFirstSignal((signal) => {
    logger.info({ signal }, 'stopping: answering requests in flight and finishing card edits');
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  });
  return { server, ops, stop };
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `${error instanceof ConfigError ? error.message : `cmk-runbook bot failed: ${(error as Error).message}`}\n`,
    );
    process.exit(1);
  });
}
