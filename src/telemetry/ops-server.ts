/**
 * The operations endpoint of the worker and the bot, on its own port (never the bot's public
 * one): `GET /metrics` (Prometheus text), `GET /livez` (the process is alive) and `GET /readyz`
 * (it can do its work: the worker polls, the bot reaches Temporal).
 */
import { createServer, type Server } from 'node:http';
import { listenOn } from './process';
import type { CmkLogger } from './logger';

/** Why a process is not ready, or undefined when it is. */
export type ReadinessCheck = () => Promise<string | undefined> | string | undefined;

/** What {@link startOpsServer} serves. */
export interface OpsServerOptions {
  port: number;
  host: string;
  /** The Prometheus text of everything the process exposes. */
  metrics: () => Promise<string>;
  ready: ReadinessCheck;
  log?: CmkLogger;
}

/** A running operations endpoint. */
export interface OpsServer {
  url: string;
  close(): Promise<void>;
}

/** The Prometheus text exposition format's content type. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Starts the endpoint; resolves once it listens. */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const answer = async (): Promise<void> => {
      if (req.method !== 'GET') {
        res.writeHead(405, { allow: 'GET' }).end();
        return;
      }
      switch (path) {
        case '/metrics':
          res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE }).end(await options.metrics());
          return;
        case '/livez':
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
          return;
        case '/readyz': {
          const reason = await Promise.resolve(options.ready()).catch(
            (error: unknown) => (error as Error).message,
          );
          res
            .writeHead(reason === undefined ? 200 : 503, { 'content-type': 'application/json' })
            .end(
              JSON.stringify(reason === undefined ? { status: 'ready' } : { status: 'not ready', reason }),
            );
          return;
        }
        default:
          res.writeHead(404).end();
      }
    };
    answer().catch((error: unknown) => {
      options.log?.error({ err: error, path }, 'operations endpoint failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  const url = await listenOn(server, options.port, options.host);
  options.log?.info({ url }, 'metrics and health on /metrics, /livez, /readyz');
  return {
    url,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
