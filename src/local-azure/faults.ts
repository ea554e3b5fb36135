/** Faults injected at run time: latency, random 5xx, 429 storms and failures of chosen routes. */

/** A failure of requests whose `METHOD path` matches. */
export interface RouteFault {
  method?: string;
  /** A RegExp, or its source, matched against the request path (query excluded). */
  pathPattern: string | RegExp;
  status: number;
  code: string;
  message?: string;
  /** How many matching requests fail; unlimited when absent. */
  times?: number;
  /** Sent as Retry-After (seconds) on 429/503, so SDK clients retry. */
  retryAfterSeconds?: number;
  /**
   * How the connection fails instead of an error answer (`status` and `code` are then unused):
   * - `lost`: the request is carried out, then the connection drops before the answer — a write
   *   Azure applied whose caller never heard so.
   * - `reset`: the connection is reset before the request reaches the service, which never
   *   sees it (ECONNRESET at the client, as a front end or NAT dropping a connection gives; the
   *   SDK's retry policy treats it as transient: core-rest-pipeline's `exponentialRetryStrategy`
   *   retries ECONNRESET, ETIMEDOUT, ECONNREFUSED, ENOTFOUND and ESOCKETTIMEDOUT).
   * - `late`: the request is carried out and its answer sent `delayMs` later — an answer slower
   *   than the caller waits for. ARM lets a synchronous write take up to 60 s before it answers
   *   (Azure Resource Manager async operations: "if the operation doesn't complete in 60 seconds
   *   … returns 202"), and the SDK clients here set no per-request timeout, so what gives up is
   *   the activity's start-to-close timeout; its retry runs while the late answer is in flight.
   */
  answer?: 'lost' | 'reset' | 'late';
  /** With `answer: 'late'`: how long the answer is held after the request was carried out. */
  delayMs?: number;
}

/** Extra latency for requests to one service (and method): Azure is not equally fast everywhere. */
export interface LatencyRule {
  service: 'arm' | 'keyvault' | 'blob' | 'entra';
  /** `GET`, `PATCH`, …; or `write` for any method but GET and HEAD. All methods when absent. */
  method?: string;
  ms: number;
}

/** The fault settings. */
export interface FaultSettings {
  /** Extra latency of every request that no {@link LatencyRule} matches. */
  latencyMs?: number;
  /** Per-service latencies; the first rule that matches a request wins. */
  latencies?: LatencyRule[];
  /** Share (0..1) of requests answered 503 ServiceUnavailable. */
  errorRate?: number;
  /** Share (0..1) of requests answered 429 with Retry-After. */
  throttleRate?: number;
  routes?: RouteFault[];
}

/** What a request should suffer, decided before it reaches its service. */
export interface FaultDecision {
  status: number;
  code: string;
  message: string;
  retryAfterSeconds?: number;
  /** Carry the request out, then drop the connection instead of answering. */
  answerLost?: boolean;
  /** Reset the connection without carrying the request out. */
  reset?: boolean;
  /** Carry the request out and send its answer this many ms later. */
  lateMs?: number;
}

/** Injected faults, changeable at run time via `set` and `reset` (or the admin endpoint). */
export class Faults {
  private settings: FaultSettings = {};
  private remaining = new Map<RouteFault, number>();

  /** Replaces the fault settings. */
  set(settings: FaultSettings): void {
    this.settings = { ...settings, routes: [...(settings.routes ?? [])] };
    this.remaining = new Map(this.settings.routes?.map((r) => [r, r.times ?? Infinity]));
  }

  /** Removes every fault. */
  reset(): void {
    this.set({});
  }

  /** The configured extra latency of one request. */
  latencyMs(service?: string, method?: string): number {
    const m = method?.toUpperCase();
    const rule = this.settings.latencies?.find(
      (r) =>
        r.service === service &&
        (!r.method || (r.method === 'write' ? m !== 'GET' && m !== 'HEAD' : r.method.toUpperCase() === m)),
    );
    return rule?.ms ?? this.settings.latencyMs ?? 0;
  }

  /** The fault for one request, if any (route faults first, then the random rates). */
  decide(method: string, path: string): FaultDecision | undefined {
    for (const r of this.settings.routes ?? []) {
      if (r.method && r.method.toUpperCase() !== method) continue;
      const re = typeof r.pathPattern === 'string' ? new RegExp(r.pathPattern, 'i') : r.pathPattern;
      if (!re.test(path)) continue;
      const left = this.remaining.get(r) ?? 0;
      if (left <= 0) continue;
      this.remaining.set(r, left - 1);
      return {
        status: r.status,
        code: r.code,
        message: r.message ?? `Injected fault ${r.code}.`,
        ...(r.retryAfterSeconds !== undefined ? { retryAfterSeconds: r.retryAfterSeconds } : {}),
        ...(r.answer === 'lost' ? { answerLost: true } : {}),
        ...(r.answer === 'reset' ? { reset: true } : {}),
        ...(r.answer === 'late' ? { lateMs: r.delayMs ?? 60_000 } : {}),
      };
    }
    if (Math.random() < (this.settings.throttleRate ?? 0)) {
      return { status: 429, code: 'TooManyRequests', message: 'Injected throttling.', retryAfterSeconds: 1 };
    }
    if (Math.random() < (this.settings.errorRate ?? 0)) {
      return { status: 503, code: 'ServiceUnavailable', message: 'Injected service error.' };
    }
    return undefined;
  }
}
