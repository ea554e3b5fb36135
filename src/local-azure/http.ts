/** The request context every emulated service receives, and the responses each service speaks. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatedClock } from './clock';
import type { LocalAzureState } from './state';
import type { TokenClaims } from './tokens';
import type { ServiceName } from './request-log';

/** Shared parts of the emulator a service may use. */
export interface Env {
  state: LocalAzureState;
  clock: EmulatedClock;
  tokenKey: Buffer;
  /** The public address Azure sees for callers on this machine (their NAT's), for firewalls. */
  publicAddress: string;
}

/** One request: parsed once, answered once, logged afterwards. */
export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  host: string;
  /** Path without query, percent-decoded per segment. */
  path: string;
  /** Query with keys and values percent-decoded (the Key Vault SDK encodes `api%2Dversion`). */
  query: Record<string, string>;
  body: Buffer;
  /** The caller's address as Azure sees it: the proxy client's, or `Env.publicAddress` for a private one. */
  clientAddress: string;
  service: ServiceName;
  operation: string;
  claims?: TokenClaims;
  status?: number;
  errorCode?: string;
}

/** The parsed JSON body, or undefined when empty or not JSON. */
export function jsonBody<T = Record<string, unknown>>(ctx: Ctx): T | undefined {
  if (!ctx.body.length) return undefined;
  try {
    return JSON.parse(ctx.body.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Sends a JSON (or empty) response once. */
export function send(ctx: Ctx, status: number, body?: unknown, headers: Record<string, string> = {}): void {
  if (ctx.res.headersSent) return;
  ctx.status = status;
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  const type =
    typeof body === 'string' && text.startsWith('<') ? 'application/xml' : 'application/json; charset=utf-8';
  ctx.res.writeHead(status, {
    ...(text ? { 'content-type': type } : {}),
    'content-length': Buffer.byteLength(text).toString(),
    'x-ms-request-id': crypto.randomUUID(),
    ...headers,
  });
  ctx.res.end(text);
}

/** ARM's error envelope `{error:{code,message}}`. */
export function armError(
  ctx: Ctx,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): void {
  ctx.errorCode = code;
  send(ctx, status, { error: { code, message } }, headers);
}

/** Key Vault's error envelope `{error:{code,message,innererror:{code}}}`. */
export function kvError(
  ctx: Ctx,
  status: number,
  code: string,
  message: string,
  inner?: string,
  headers: Record<string, string> = {},
): void {
  ctx.errorCode = inner ?? code;
  send(ctx, status, { error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) } }, headers);
}

/** Blob's XML error with `x-ms-error-code`. */
export function blobError(ctx: Ctx, status: number, code: string, message: string): void {
  ctx.errorCode = code;
  const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}\nRequestId:${crypto.randomUUID()}\nTime:${new Date().toISOString()}</Message></Error>`;
  send(ctx, status, body, { 'x-ms-error-code': code });
}

/** Matches a path against a pattern; returns the named groups or undefined. */
export function route(ctx: Ctx, method: string, pattern: RegExp): Record<string, string> | undefined {
  if (ctx.method !== method) return undefined;
  const m = pattern.exec(ctx.path);
  return m ? { ...(m.groups ?? {}) } : undefined;
}

/** Re-reads an object body as a record, or undefined when the body is not a JSON object. */
export function asRecord(v: unknown): Record<string, unknown> | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
}

/** ARM's 404 for a missing resource. */
export function resourceNotFound(ctx: Ctx, type: string, name: string, rg: string): void {
  armError(
    ctx,
    404,
    'ResourceNotFound',
    `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

/** One route of a service: the method and path it answers, the operation it logs, its handler. */
export interface Route {
  method: string;
  pattern: RegExp;
  operation: string;
  handle(ctx: Ctx, env: Env, groups: Record<string, string>): void | Promise<void>;
}

/** Answers with the first route that matches; false when none does. */
export async function dispatch(ctx: Ctx, env: Env, routes: readonly Route[]): Promise<boolean> {
  for (const r of routes) {
    const groups = route(ctx, r.method, r.pattern);
    if (!groups) continue;
    ctx.operation = r.operation;
    await r.handle(ctx, env, groups);
    return true;
  }
  return false;
}
