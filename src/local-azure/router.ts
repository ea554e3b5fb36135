/**
 * Routes a request that arrived through the TLS tunnel to the service its hostname names, after
 * the emulated clock, injected faults and latency; then logs it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { armError, blobError, kvError, send, type Ctx, type Env } from './http';
import type { Faults } from './faults';
import { isPrivateAddress } from './network';
import type { ArmLimits } from './limits';
import type { RequestLog, ServiceName } from './request-log';
import { handleArm } from './services/arm';
import { handleBlob } from './services/blob';
import { entraFault, handleEntra } from './services/entra';
import { createKeyVaultHandler } from './services/keyvault-data';

/** Hostnames the emulator terminates TLS for; anything else is refused at CONNECT. */
export function serviceForHost(host: string): Exclude<ServiceName, 'admin'> | undefined {
  const h = host.toLowerCase();
  if (h === 'login.microsoftonline.com') return 'entra';
  if (h === 'management.azure.com') return 'arm';
  if (/^[a-z0-9-]{3,24}\.vault\.azure\.net$/.test(h)) return 'keyvault';
  if (/^[a-z0-9]{3,24}\.blob\.core\.windows\.net$/.test(h)) return 'blob';
  return undefined;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Splits a request target into a decoded path and a query with decoded keys and values. */
export function parseTarget(url: string): { path: string; query: Record<string, string> } {
  const [rawPath = '/', rawQuery = ''] = url.split('?', 2);
  const path = rawPath
    .split('/')
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    })
    .join('/')
    .replace(/\/{2,}/g, '/');
  return { path, query: Object.fromEntries(new URLSearchParams(rawQuery)) };
}

/** Everything the router needs. */
export interface RouterDeps {
  env: Env;
  faults: Faults;
  log: RequestLog;
  armLimits: ArmLimits | undefined;
  throttling: boolean;
}

/** Creates the request handler for tunnelled (TLS) requests. */
export function createRouter(
  deps: RouterDeps,
): (req: IncomingMessage, res: ServerResponse, authority: string, source: string) => Promise<void> {
  const keyVault = createKeyVaultHandler(deps.throttling);
  return async (req, res, authority, source) => {
    const { path, query } = parseTarget(req.url ?? '/');
    const host = authority.toLowerCase();
    const service = serviceForHost(host) ?? 'arm';
    const body = await readBody(req);
    const ctx: Ctx = {
      req,
      res,
      method: (req.method ?? 'GET').toUpperCase(),
      host,
      path,
      query,
      body,
      clientAddress:
        isPrivateAddress(source) || !source ? deps.env.publicAddress : source.replace(/^::ffff:/i, ''),
      service,
      operation: 'unknown',
    };
    let lost = false;
    let reset = false;
    let lateMs: number | undefined;
    try {
      deps.env.clock.runDue();
      const hostHeader = (req.headers.host ?? '').toLowerCase().replace(/:443$/, '');
      if (hostHeader && hostHeader !== host) {
        send(ctx, 421, {
          error: {
            code: 'MisdirectedRequest',
            message: `Host ${hostHeader} does not match the tunnel to ${host}.`,
          },
        });
      } else {
        const latency = deps.faults.latencyMs(service, ctx.method);
        if (latency > 0) await new Promise((r) => setTimeout(r, latency));
        const decided = deps.faults.decide(ctx.method, path);
        lost = decided?.answerLost === true;
        reset = decided?.reset === true;
        lateMs = decided?.lateMs;
        if (lost) loseAnswer(ctx);
        if (lateMs !== undefined) answerLate(ctx, lateMs);
        const fault = decided?.answerLost || lateMs !== undefined ? undefined : decided;
        if (reset) res.socket?.destroy();
        else if (fault) {
          const headers: Record<string, string> =
            fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {};
          if (service === 'keyvault')
            kvError(ctx, fault.status, fault.code, fault.message, undefined, headers);
          else if (service === 'blob') blobError(ctx, fault.status, fault.code, fault.message);
          else if (service === 'entra') entraFault(ctx, fault.status, fault.message, headers);
          else armError(ctx, fault.status, fault.code, fault.message, headers);
        } else if (service === 'entra') handleEntra(ctx, deps.env);
        else if (service === 'arm') await handleArm(ctx, deps.env, deps.armLimits);
        else if (service === 'keyvault') await keyVault(ctx, deps.env);
        else handleBlob(ctx, deps.env);
      }
    } catch (error) {
      armError(ctx, 500, 'InternalServerError', `The local Azure failed: ${(error as Error).message}`);
    }
    deps.log.add({
      at: deps.env.clock.now().toISOString(),
      method: ctx.method,
      host,
      path,
      query,
      service,
      operation: ctx.operation,
      ...(ctx.claims ? { principalId: ctx.claims.oid } : {}),
      status: reset ? 0 : (ctx.status ?? res.statusCode),
      ...(ctx.errorCode ? { errorCode: ctx.errorCode } : {}),
      ...(lost ? { answerLost: true } : {}),
      ...(reset ? { connectionReset: true } : {}),
      ...(lateMs !== undefined ? { answeredLateMs: lateMs } : {}),
    });
  };
}

/**
 * The service carries the request out as usual; its answer leaves `ms` later (headers and body
 * together), unless the caller has given up and closed the connection by then.
 */
function answerLate(ctx: Ctx, ms: number): void {
  const res = ctx.res;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  res.end = ((...args: unknown[]) => {
    setTimeout(() => {
      if (!res.socket?.destroyed) end(...args);
    }, ms).unref();
    return res;
  }) as typeof res.end;
}

/**
 * The service carries the request out as usual, but its answer never leaves: the connection is
 * dropped where the answer would be written, as when a network path fails after Azure applied a
 * write. The caller sees a reset connection and must find out from Azure's state what happened.
 */
function loseAnswer(ctx: Ctx): void {
  const res = ctx.res;
  res.writeHead = (status: number) => {
    res.statusCode = status;
    return res;
  };
  res.end = (() => {
    res.socket?.destroy();
    return res;
  }) as typeof res.end;
}
