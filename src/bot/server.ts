/**
 * The bot's HTTP endpoint: `POST /api/messages` (Bot Framework, JWT-checked when credentials
 * are configured) and `GET /healthz`. Without credentials it binds to loopback only.
 * `npm run bot` starts it from config.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ActivityHandler, CloudAdapter } from 'botbuilder';
import { Client, Connection } from '@temporalio/client';
import { StorageManagementClient } from '@azure/arm-storage';
import { DefaultAzureCredential } from '@azure/identity';
import { ConfigError, loadConfig, type BotConfig } from '../config';
import { createArmAccountResolver } from './accounts';
import { createRunService } from './run-service';
import { CmkTeamsBot, type BotLog } from './teams-bot';
import { createBotAdapter, type BotAdapterOptions } from './transport';

/** What {@link startBotServer} serves. */
export interface BotServerOptions {
  bot: BotConfig;
  handler: ActivityHandler;
  /** Defaults to {@link createBotAdapter} over `bot` with `adapterOptions`. */
  adapter?: CloudAdapter;
  adapterOptions?: BotAdapterOptions;
  log?: BotLog;
}

/** A running bot endpoint. */
export interface BotServer {
  /** Base URL, e.g. http://127.0.0.1:3978; messages go to `${url}/api/messages`. */
  url: string;
  close(): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Starts the endpoint. A request whose authentication fails before the bot's turn begins is
 * answered 401 — including forged signatures and wrong algorithms, which botbuilder reports as 500.
 */
export async function startBotServer(options: BotServerOptions): Promise<BotServer> {
  const { bot, handler } = options;
  const log: BotLog = options.log ?? ((level, message, fields) => console[level](message, fields ?? ''));
  const adapter = options.adapter ?? createBotAdapter(bot, options.adapterOptions);
  adapter.onTurnError = async (ctx, error) => {
    log('error', 'bot turn failed', { error: error.message, activityType: ctx.activity.type });
    if (ctx.activity.type === 'message')
      await ctx.sendActivity('Something went wrong on my side; it has been logged.');
  };
  const authOn = Boolean(bot.appId);
  const host = authOn ? bot.host : '127.0.0.1';
  if (!authOn)
    log('warn', 'MicrosoftAppId is not set: authentication is OFF, listening on 127.0.0.1 only (local use)');

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
    const shim = new ResponseShim();
    let turnStarted = false;
    await adapter.process(
      { body: body as Record<string, unknown>, headers: req.headers, method: req.method },
      shim,
      async (ctx) => {
        turnStarted = true;
        await handler.run(ctx);
      },
    );
    if (authOn && !turnStarted && shim.statusCode === 500) {
      log('warn', 'rejected a request whose token did not validate', { path });
      shim.statusCode = 401;
      shim.body = 'Unauthorized';
    }
    shim.flush(res);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(bot.port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  log('info', `cmk-runbook bot listening on ${url}/api/messages`);
  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** The response object `adapter.process` writes to, flushed to node's response at the end. */
class ResponseShim {
  readonly socket = null;
  statusCode = 200;
  body: unknown;
  private readonly headers: Record<string, string> = {};

  status(code: number): this {
    this.statusCode = code;
    return this;
  }
  send(body?: unknown): this {
    this.body = body;
    return this;
  }
  header(name: string, value: unknown): this {
    this.headers[name.toLowerCase()] = String(value);
    return this;
  }
  end(): this {
    return this;
  }
  flush(res: ServerResponse): void {
    if (this.body === undefined || this.body === null) {
      res.writeHead(this.statusCode, this.headers).end();
      return;
    }
    const text = typeof this.body === 'string' ? this.body : JSON.stringify(this.body);
    const type = typeof this.body === 'string' ? 'text/plain; charset=utf-8' : 'application/json';
    res.writeHead(this.statusCode, { 'content-type': type, ...this.headers }).end(text);
  }
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
  const handler = new CmkTeamsBot({
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
