/**
 * The bot's HTTP endpoint, whichever SDK carries the bot: `POST /api/messages` (a JSON activity,
 * at most 1 MiB, authenticated by the transport) and `GET /healthz`. Without credentials it takes
 * requests from this machine only, and refuses to start on any other address. HTTP concerns that
 * do not depend on the SDK live here; `bot.ts` at the repository root starts it from config.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ConfigError, isLoopbackHost, type BotConfig } from '../config';
import { isTrustedServiceUrl } from '../shared/chat';
import { UntrustedServiceUrl } from '../shared/refusals';
import { createLogger, logCallbackOf } from '../telemetry/logger';
import { countRefusal, type CmkMetrics } from '../telemetry/metrics';
import { listenOn } from '../telemetry/process';
import type { BotLog } from './bot';
import type { ChatTransport, CmkBot, InboundAnswer, InboundHandler } from './chat-transport';
import { createChatTransport, type ChatTransportOptions } from './transports';

/** What {@link startBotServer} serves. */
export interface BotServerOptions {
  bot: BotConfig;
  /** The bot the transport hands commands and card actions to (`createCmkBot`). */
  handler: CmkBot;
  /** Defaults to the transport `bot` is configured for, created with `transportOptions`. */
  transport?: ChatTransport;
  transportOptions?: ChatTransportOptions;
  log?: BotLog;
  /** Activities refused at the endpoint (an untrusted service URL) are counted here when given. */
  metrics?: Pick<CmkMetrics, 'refusals'>;
}

/** A running bot endpoint. */
export interface BotServer {
  /** Base URL, e.g. http://127.0.0.1:3978; messages go to `${url}/api/messages`. */
  url: string;
  /** Resolves once the work started after answers (edits for everyone) has finished; it never rejects. */
  settled(): Promise<void>;
  /** Stops accepting requests and waits for those in flight (at most `graceInMs`, default 10 s). Idempotent. */
  close(graceInMs?: number): Promise<void>;
}

const MAX_BODY_BYTES = 1024 * 1024;
/** How long {@link BotServer.close} lets requests in flight finish unless told otherwise. */
const DEFAULT_CLOSE_GRACE_MS = 10_000;

/** What serving one request needs. */
interface EndpointContext {
  bot: BotConfig;
  authOn: boolean;
  handle: InboundHandler;
  log: BotLog;
  metrics?: Pick<CmkMetrics, 'refusals'>;
  /** Work started after answers (edits for everyone), until it ends. */
  afterAnswers: Set<Promise<void>>;
}

/** Starts the endpoint; the transport answers requests whose token does not validate with 401 itself. */
export async function startBotServer(options: BotServerOptions): Promise<BotServer> {
  const { bot } = options;
  const log: BotLog = options.log ?? logCallbackOf(createLogger({ name: 'cmk-bot', level: 'warn' }));
  const transport =
    options.transport ?? (await createChatTransport(bot, { log, ...options.transportOptions }));
  const context: EndpointContext = {
    bot,
    authOn: Boolean(bot.appId),
    handle: transport.inbound(options.handler),
    log,
    ...(options.metrics ? { metrics: options.metrics } : {}),
    afterAnswers: new Set(),
  };
  if (!context.authOn) checkLocalOnly(bot.host, log);
  const server: Server = createServer((req, res) => {
    serve(context, req, res).catch((error: unknown) => {
      log('error', 'request failed', { error: (error as Error).message });
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const url = await listenOn(server, bot.port, bot.host);
  log('info', `cmk-runbook bot (${transport.sdk}) listening on ${url}/api/messages`);
  const { afterAnswers } = context;
  return {
    url,
    async settled() {
      while (afterAnswers.size) await Promise.all([...afterAnswers]);
    },
    close: closerOf(server),
  };
}

/** Without credentials the bot is unauthenticated: it may listen on loopback only, and says so. */
function checkLocalOnly(host: string, log: BotLog): void {
  if (!isLoopbackHost(host)) {
    throw new ConfigError([
      `CMK_BOT_HOST: without MicrosoftAppId the bot is unauthenticated and may listen on loopback only (127.0.0.1, ::1 or localhost), not ${host}; set MicrosoftAppId and MicrosoftAppPassword to listen there`,
    ]);
  }
  log('warn', `MicrosoftAppId is not set: authentication is OFF, listening on ${host} only (local use)`);
}

/** Serves one request: health, or an activity that passed the checks, handed to the transport. */
async function serve(context: EndpointContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method === 'GET' && path === '/healthz') {
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ status: 'ok', auth: context.authOn }));
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
  const refused = refusalOf(req, context.authOn);
  if (refused) {
    context.log('warn', 'refused a request', { path, reason: refused.reason });
    res.writeHead(refused.status, { 'content-type': 'text/plain; charset=utf-8' }).end(refused.reason);
    return;
  }
  const body = await readActivity(req, res);
  if (!body || !trustsServiceUrl(context, body, res)) return;
  const answer = await context.handle({ method: req.method, headers: req.headers, body });
  await write(res, answer);
  if (answer.afterAnswer) startAfterAnswer(context, answer.afterAnswer);
}

/** The request's JSON object, or undefined once a 400 (413 for a body too large) has said why there is none. */
async function readActivity(
  req: IncomingMessage,
  res: ServerResponse,
): Promise<Record<string, unknown> | undefined> {
  let body: unknown;
  try {
    body = JSON.parse((await readBody(req)).toString('utf8'));
  } catch (error) {
    res.writeHead(error instanceof BodyTooLarge ? 413 : 400).end((error as Error).message);
    return undefined;
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    res.writeHead(400).end('The body is not an activity.');
    return undefined;
  }
  return body as Record<string, unknown>;
}

/** Whether the activity comes from a trusted service URL; if not, it is refused (403), counted and logged. */
function trustsServiceUrl(
  { bot, metrics, log }: EndpointContext,
  body: Record<string, unknown>,
  res: ServerResponse,
): boolean {
  const serviceUrl = body.serviceUrl;
  if (isTrustedServiceUrl(serviceUrl, bot.trustedServiceUrls)) return true;
  const refusal = new UntrustedServiceUrl(
    'The activity names a service URL this bot does not trust (CMK_TRUSTED_SERVICE_URLS).',
  );
  countRefusal(metrics, refusal, 'activity');
  log('warn', 'refused an activity from an untrusted service URL', { serviceUrl: String(serviceUrl) });
  res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end(refusal.message);
  return false;
}

/** Starts the work that follows an answer, kept until it ends; a failure is logged, never thrown. */
function startAfterAnswer({ afterAnswers, log }: EndpointContext, afterAnswer: () => Promise<void>): void {
  const work: Promise<void> = afterAnswer()
    .catch((error: unknown) =>
      log('warn', 'work after an answer failed', { error: (error as Error).message }),
    )
    .finally(() => afterAnswers.delete(work));
  afterAnswers.add(work);
}

/** The server's close, idempotent: every call after the first returns the first one's promise. */
function closerOf(server: Server): BotServer['close'] {
  let closing: Promise<void> | undefined;
  return (graceInMs = DEFAULT_CLOSE_GRACE_MS) =>
    (closing ??= new Promise<void>((resolve, reject) => {
      // Requests in flight finish (a click's decision is answered); idle keep-alive sockets go now.
      const force = setTimeout(() => server.closeAllConnections(), graceInMs);
      server.close((error) => {
        clearTimeout(force);
        if (error) reject(error);
        else resolve();
      });
      server.closeIdleConnections();
    }));
}

/**
 * Requests refused before they are read. Bot Framework posts JSON, so nothing else is taken. In
 * local mode (no authentication) only this machine may talk to the bot: the Host must be a
 * loopback name (a DNS-rebound page cannot pass) and a browser's Origin header is refused, so a
 * web page cannot drive the bot with blind cross-origin requests.
 */
function refusalOf(req: IncomingMessage, authOn: boolean): { status: number; reason: string } | undefined {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    return { status: 415, reason: 'The bot takes application/json only.' };
  }
  if (authOn) return undefined;
  if (req.headers.origin !== undefined) {
    return { status: 403, reason: 'Local mode refuses requests from web pages (an Origin header was sent).' };
  }
  const hostname = hostnameOf(req.headers.host);
  if (!hostname || !isLoopbackHost(hostname)) {
    return {
      status: 403,
      reason: 'Local mode answers requests addressed to this machine (a loopback Host) only.',
    };
  }
  return undefined;
}

/** The host name of a Host header, without its port. */
function hostnameOf(host: string | undefined): string | undefined {
  if (!host) return undefined;
  const match = /^(\[[^\]]+\]|[^:]+)(:\d+)?$/.exec(host.trim());
  return match?.[1];
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

/** A body over {@link MAX_BODY_BYTES}: answered 413, the rest of it read and dropped. */
class BodyTooLarge extends Error {
  constructor() {
    super(`The body is larger than the ${MAX_BODY_BYTES / 1024 / 1024} MiB the bot accepts.`);
  }
}

/**
 * The request's body; {@link BodyTooLarge} as soon as it passes the limit. The rest is still read
 * (and dropped) rather than the socket reset, so the client gets the answer instead of a reset.
 */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      if (tooLarge) return;
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) {
        chunks.push(chunk);
        return;
      }
      tooLarge = true;
      chunks.length = 0;
      reject(new BodyTooLarge());
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
