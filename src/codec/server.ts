/**
 * The codec server: `POST /encode` and `POST /decode` in the Temporal UI's and CLI's format
 * (`{payloads:[{metadata,data}]}`, base64), so the UI shows runs in clear while the server stores
 * ciphertext. Every request must present a token (`Authorization: Bearer …`, or the token as the
 * first path segment for a UI that cannot send headers); browsers are allowed only from the UI's
 * origins; only the configured namespace is served. `npm run codec-server` starts it from config.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { DefaultAzureCredential } from '@azure/identity';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { ConfigError, loadConfig } from '../config';
import { createLogger, type CmkLogger } from '../telemetry/logger';
import { listenOn, onFirstSignal } from '../telemetry/process';
import { AesGcmPayloadCodec } from './aes-gcm-codec';
import { resolvePayloadKeys } from './keys';

/** What {@link startCodecServer} serves. */
export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Accepted tokens (CMK_CODEC_SERVER_TOKENS); at least one. */
  tokens: readonly string[];
  /** Origins allowed to call from a browser, e.g. the Temporal UI's http://localhost:8233. */
  corsOrigins: readonly string[];
  /** The namespace whose payloads this server opens (the UI sends it as X-Namespace). */
  namespace: string;
  port?: number;
  host?: string;
  log?: CmkLogger;
}

/** A running codec server. */
export interface CodecServer {
  /** Base URL, e.g. http://127.0.0.1:8888. */
  url: string;
  /** The URL to give the Temporal UI (`--ui-codec-endpoint`): the base URL with the first token in the path. */
  uiEndpoint: string;
  close(): Promise<void>;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;

function fromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')]),
    ),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [
        k,
        Buffer.from(v ?? new Uint8Array()).toString('base64'),
      ]),
    ),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

function sameToken(given: string, tokens: readonly string[]): boolean {
  const a = Buffer.from(given);
  return tokens.some((t) => {
    const b = Buffer.from(t);
    return a.length === b.length && timingSafeEqual(a, b);
  });
}

/** How long a browser may reuse the answer to a CORS preflight, in seconds. */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/** Starts the codec server; resolves once it listens. */
export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  if (!options.tokens.length)
    throw new Error('the codec server needs at least one token (CMK_CODEC_SERVER_TOKENS)');
  const { log } = options;
  const origins = new Set(options.corsOrigins.map((o) => o.replace(/\/$/, '')));
  const server: Server = createServer((req, res) => {
    serve(options, origins, req, res).catch((error: unknown) => {
      log?.error({ err: error }, 'codec request failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const url = await listenOn(server, options.port ?? 0, options.host ?? '127.0.0.1');
  log?.info({ url, origins: [...origins], namespace: options.namespace }, 'codec server listening');
  return {
    url,
    uiEndpoint: `${url}/${encodeURIComponent(options.tokens[0]!)}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** Serves one request: CORS, then the token, the route and the namespace, then the payloads. */
async function serve(
  options: CodecServerOptions,
  origins: ReadonlySet<string>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  if (!allowOrigin(origins, req, res)) return;
  if (req.method === 'OPTIONS') {
    res
      .writeHead(204, {
        'access-control-allow-methods': 'POST, OPTIONS',
        'access-control-allow-headers': 'authorization, content-type, x-namespace',
        'access-control-max-age': String(PREFLIGHT_MAX_AGE_SECONDS),
      })
      .end();
    return;
  }
  const { token, action } = routeOf(req);
  if (!token || !sameToken(token, options.tokens)) {
    options.log?.warn(
      { path: action ?? 'unknown', origin: req.headers.origin },
      'codec request without a valid token refused',
    );
    res.writeHead(401, { 'www-authenticate': 'Bearer' }).end('unauthorized');
    return;
  }
  if (req.method !== 'POST' || (action !== 'encode' && action !== 'decode')) {
    res.writeHead(404).end();
    return;
  }
  const namespace = req.headers['x-namespace'];
  if (namespace !== undefined && namespace !== options.namespace) {
    res.writeHead(403).end(`this codec server serves namespace ${options.namespace} only`);
    return;
  }
  const payloads = await readPayloads(req, res);
  if (!payloads) return;
  const { codec } = options;
  const result = action === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
  res
    .writeHead(200, { 'content-type': 'application/json' })
    .end(JSON.stringify({ payloads: result.map(toJson) }));
}

/** A browser's request is served to the UI's origins only (403 otherwise), with CORS headers. */
function allowOrigin(origins: ReadonlySet<string>, req: IncomingMessage, res: ServerResponse): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (!origins.has(origin)) {
    res.writeHead(403).end('origin not allowed');
    return false;
  }
  res.setHeader('access-control-allow-origin', origin);
  res.setHeader('access-control-allow-credentials', 'true');
  res.setHeader('vary', 'Origin');
  return true;
}

/** The token (a Bearer header, else the first of two path segments) and the action the path names. */
function routeOf(req: IncomingMessage): { token?: string; action?: string } {
  const segments = (req.url ?? '/').split('?')[0]!.split('/').filter(Boolean);
  let token = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (segments.length === 2) token ??= decodeURIComponent(segments.shift()!);
  const action = segments.length === 1 ? segments[0] : undefined;
  return { ...(token ? { token } : {}), ...(action ? { action } : {}) };
}

/** The request's payloads, or undefined once a 413 (too large) or a 400 (not payloads) has been sent. */
async function readPayloads(req: IncomingMessage, res: ServerResponse): Promise<Payload[] | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      res.writeHead(413).end();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { payloads?: JsonPayload[] };
    if (!Array.isArray(body.payloads)) throw new Error('body must be {"payloads": [...]}');
    return body.payloads.map(fromJson);
  } catch (error) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end((error as Error).message);
    return undefined;
  }
}

/** Entry point (`npm run codec-server`): the payload keys and the server's settings from config. */
export async function main(env: NodeJS.ProcessEnv = process.env): Promise<CodecServer> {
  const config = loadConfig(env, ['temporal', 'codec', 'codecServer']);
  const log = createLogger({ name: 'cmk-codec-server', level: config.telemetry.logLevel });
  const keys = await resolvePayloadKeys(config.codec, () => ({ credential: new DefaultAzureCredential() }));
  if (!keys.length)
    throw new Error('CMK_PAYLOAD_ENCRYPTION=off: there is nothing for a codec server to open');
  const server = await startCodecServer({
    codec: new AesGcmPayloadCodec(keys),
    tokens: config.codecServer.tokens,
    corsOrigins: config.codecServer.corsOrigins,
    namespace: config.temporal.namespace,
    port: config.codecServer.port,
    host: config.codecServer.host,
    log,
  });
  onFirstSignal(() => {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  return server;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(
      `${error instanceof ConfigError ? error.message : `codec server failed: ${(error as Error).message}`}\n`,
    );
    process.exit(1);
  });
}
