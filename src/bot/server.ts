/**
 * The bot's HTTP endpoint, whichever SDK carries the bot: `POST /api/messages` (a JSON activity,
 * at most 1 MiB, authenticated by the transport) and `GET /healthz`. Without credentials it binds
 * to loopback only. HTTP concerns that do not depend on the SDK live here. `npm run bot` starts it from config.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { StorageManagementClient } from '@azure/arm-storage';
import { DefaultAzureCredential } from '@azure/identity';
import { ConfigError, loadConfig, type BotConfig } from '../config';
import { createArmAccountResolver } from './accounts';
import { createCmkBot, type BotLog } from './bot';
import type { ChatTransport, CmkBot, InboundAnswer } from './chat-transport';
import { createRunService } from './run-service';
import { createChatTransport, type ChatTransportOptions } from './transports';

/** What {@link startBotServer} serves. */
export interface BotServerOptions {
  bot: BotConfig;
  /** The bot the transport hands commands and card actions to ({@link createCmkBot}). */
  handler: CmkBot;
  /** Defaults to the transport `bot` is configured for, created with `transportOptions`. */
  transport?: ChatTransport;
  transportOptions?: ChatTransportOptions;
  log?: BotLog;
}

/** A running bot endpoint. */
export interface BotServer {
  /** Base URL, e.g. http://127.0.0.1:3978; messages go to `${url}/api/messages`. */
  url: string;
  /** Resolves once the work started after answers (edits for everyone) has finished; it never rejects. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

/** Starts the endpoint; the transport answers requests whose token does not validate with 401 itself. */
export async function startBotServer(options: BotServerOptions): Promise<BotServer> {
  const { bot } = options;
  const log: BotLog = options.log ?? ((level, message, fields) => console[level](message, fields ?? ''));
  const transport =
    options.transport ?? (await createChatTransport(bot, { log, ...options.transportOptions }));
  const handle = transport.inbound(options.handler);
  const authOn = Boolean(bot.appId);
  const host = authOn ? bot.host : '127.0.0.1';
  if (!authOn)
    log('warn', 'MicrosoftAppId is not set: authentication is OFF, listening on 127.0.0.1 only (local use)');
  const afterAnswers = new Set<Promise<void>>();

  const server: Server = createServer((req, res) => {
    serve(req, res).catch((error: unknown) => {
      log('error', 'request failed', { error: (error as Error).message });
      if (!res.headersSent) res.writeHead(500).end();
    });
  });

  async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: 'ok', auth: authOn }));
      return;
    }
    if (path !== '/api/messages') {
      res.writeHead(404).end();
      return;
    }
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req)).toString('utf8'));
    } catch (error) {
      res.writeHead(400).end((error as Error).message);
      return;
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      res.writeHead(400).end('The body is not an activity.');
      return;
    }
    const answer = await handle({
      method: req.method,
      headers: req.headers,
      body: body as Record<string, unknown>,
    });
    await write(res, answer);
    if (answer.afterAnswer) {
      const work: Promise<void> = answer
        .afterAnswer()
        .catch((error: unknown) =>
          log('warn', 'work after an answer failed', { error: (error as Error).message }),
        )
        .finally(() => afterAnswers.delete(work));
      afterAnswers.add(work);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bot.port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  log('info', `cmk-runbook bot (${transport.sdk}) listening on ${url}/api/messages`);
  return {
    url,
    async settled() {
      while (afterAnswers.size) await Promise.all([...afterAnswers]);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** Writes a transport's answer; resolves once it has been handed to the socket. */
function write(res: ServerResponse, answer: InboundAnswer): Promise<void> {
  const { status, body } = answer;
  return new Promise((resolve) => {
    if (body === undefined || body === null) {
      res.writeHead(status).end(resolve);
      return;
    }
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const type = typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
    res.writeHead(status, { 'content-type': type }).end(text, resolve);
  });
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Entry point (`npm run bot`): config → Temporal client, account resolver, bot, endpoint. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<BotServer> {
  const config = loadConfig(env, ['temporal', 'azure', 'bot', 'policy']);
  const connection = await Connection.connect({
    address: config.temporal.address,
    ...(config.temporal.connection.tls !== undefined ? { tls: config.temporal.connection.tls } : {}),
    ...(config.temporal.connection.apiKey ? { apiKey: config.temporal.connection.apiKey } : {}),
    ...(config.temporal.connection.metadata ? { metadata: config.temporal.connection.metadata } : {}),
  });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const credential = new DefaultAzureCredential();
  const endpoint = config.azure.armEndpoint;
  const handler = createCmkBot({
    runs: createRunService({
      client,
      taskQueue: config.temporal.taskQueue,
      namespace: config.temporal.namespace,
      uiBaseUrl: config.temporal.uiBaseUrl,
    }),
    resolver: createArmAccountResolver({
      subscriptionIds: config.azure.subscriptionIds,
      storage: (subscriptionId) => new StorageManagementClient(credential, subscriptionId, { endpoint }),
    }),
    subscriptionIds: config.azure.subscriptionIds,
    policy: config.policy,
    uiBaseUrl: config.temporal.uiBaseUrl,
    log: (level, message, fields) => console[level](message, fields ? JSON.stringify(fields) : ''),
  });
  const server = await startBotServer({ bot: config.bot, handler });
  const stop = (): void => {
    void server.close().then(() => connection.close());
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return server;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(
      error instanceof ConfigError ? error.message : `cmk-runbook bot failed: ${(error as Error).message}`,
    );
    process.exit(1);
  });
}
