/**
 * The admin endpoint on the proxy's own URL (plain HTTP, loopback): read the request log and
 * state, change faults and move the clock while the emulator runs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatedClock } from './clock';
import type { Faults, FaultSettings } from './faults';
import type { RequestLog, ServiceName } from './request-log';
import type { LocalAzureState } from './state';
import { parseTarget } from './router';

/** Parts the admin endpoint can read and change. */
export interface AdminDeps {
  state: LocalAzureState;
  faults: Faults;
  log: RequestLog;
  clock: EmulatedClock;
}

function reply(res: ServerResponse, status: number, body?: unknown): void {
  const text =
    body === undefined
      ? ''
      : JSON.stringify(
          body,
          (k, v: unknown) => (k === 'privateKeyPem' || k === 'clientSecret' ? undefined : v),
          2,
        );
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/** Creates the handler for plain (non-CONNECT) requests to the proxy. */
export function createAdmin(deps: AdminDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const { path, query } = parseTarget(req.url ?? '/');
    const method = req.method ?? 'GET';
    let status = 200;
    try {
      if (!path.startsWith('/admin/')) {
        status = 403;
        return reply(res, 403, {
          error: {
            code: 'Forbidden',
            message:
              'The local Azure proxies only Azure hostnames through CONNECT; the admin API is under /admin/.',
          },
        });
      }
      if (method === 'GET' && path === '/admin/requests') {
        const filter = {
          ...(query.service ? { service: query.service as ServiceName } : {}),
          ...(query.method ? { method: query.method } : {}),
          ...(query.operation ? { operation: query.operation } : {}),
        };
        return reply(res, 200, query.writes === 'true' ? deps.log.writes(filter) : deps.log.entries(filter));
      }
      if (method === 'DELETE' && path === '/admin/requests') return (reply(res, 204), deps.log.clear());
      if (method === 'PUT' && path === '/admin/faults') {
        const settings = (await readJson(req)) as FaultSettings;
        deps.faults.set(settings);
        return reply(res, 200, settings);
      }
      if (method === 'DELETE' && path === '/admin/faults') return (deps.faults.reset(), reply(res, 204));
      if (method === 'POST' && path === '/admin/clock/advance') {
        const ms = Number((await readJson(req)).ms);
        deps.clock.advance(ms);
        return reply(res, 200, { now: deps.clock.now().toISOString() });
      }
      if (method === 'GET' && path === '/admin/clock')
        return reply(res, 200, { now: deps.clock.now().toISOString() });
      if (method === 'GET' && path === '/admin/state') return reply(res, 200, deps.state.data);
      status = 404;
      reply(res, 404, { error: { code: 'NotFound', message: `No admin route ${method} ${path}.` } });
    } catch (error) {
      status = 400;
      reply(res, 400, { error: { code: 'BadRequest', message: (error as Error).message } });
    } finally {
      deps.log.add({
        at: deps.clock.now().toISOString(),
        method,
        host: 'admin',
        path,
        query,
        service: 'admin',
        operation: `admin${path.slice('/admin'.length)}`,
        status: res.statusCode || status,
      });
    }
  };
}
