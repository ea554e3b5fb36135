/**
 * Sending into Teams within its rate limits: calls into one conversation are spaced out and
 * run one at a time, and 429/412/502/504 answers are retried with backoff honouring Retry-After.
 */

/** Tuning for {@link createDelivery}; tests use small values. */
export interface DeliveryOptions {
  /** Minimum time between two calls into the same conversation (Teams allows about 7 per second). */
  minIntervalInMs?: number;
  /** Attempts per call, the first included. */
  maxAttempts?: number;
  /** First backoff when the answer carries no Retry-After; doubles each attempt, with jitter. */
  baseDelayInMs?: number;
  /** Upper bound of any single wait, Retry-After included. */
  maxDelayInMs?: number;
  /** Told of every retry and the status that caused it (metrics). */
  onRetry?: (status: number) => void;
}

/** Runs chat calls per conversation, spaced and retried. */
export interface Delivery {
  run<T>(conversationKey: string, call: () => Promise<T>): Promise<T>;
}

const RETRYABLE = new Set([412, 429, 502, 504]);

/** Creates a {@link Delivery}; one per process so the spacing holds across runs. */
export function createDelivery(options: DeliveryOptions = {}): Delivery {
  const minInterval = options.minIntervalInMs ?? 150;
  const maxAttempts = options.maxAttempts ?? 5;
  const baseDelay = options.baseDelayInMs ?? 1_000;
  const maxDelay = options.maxDelayInMs ?? 30_000;
  const queues = new Map<string, { tail: Promise<unknown>; lastAt: number }>();

  const attempt = async <T>(call: () => Promise<T>): Promise<T> => {
    for (let n = 1; ; n++) {
      try {
        return await call();
      } catch (error) {
        const status = statusOf(error);
        if (n >= maxAttempts || status === undefined || !RETRYABLE.has(status)) throw error;
        options.onRetry?.(status);
        const retryAfter = retryAfterMs(error);
        const backoff = baseDelay * 2 ** (n - 1) * (0.8 + Math.random() * 0.4);
        await sleep(Math.min(maxDelay, retryAfter ?? backoff));
      }
    }
  };

  return {
    run(conversationKey, call) {
      const queue = queues.get(conversationKey) ?? { tail: Promise.resolve(), lastAt: 0 };
      const result = queue.tail.then(async () => {
        const wait = queue.lastAt + minInterval - Date.now();
        if (wait > 0) await sleep(wait);
        try {
          return await attempt(call);
        } finally {
          queue.lastAt = Date.now();
        }
      });
      queue.tail = result.catch(() => undefined);
      queues.set(conversationKey, queue);
      return result;
    },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

interface HttpishError {
  statusCode?: number;
  status?: number;
  response?: {
    status?: number;
    headers?: { get?: (name: string) => string | null | undefined } & Record<string, unknown>;
  };
}

/** HTTP status of a connector error, whatever client shape produced it. */
export function statusOf(error: unknown): number | undefined {
  const e = error as HttpishError | undefined;
  return e?.statusCode ?? e?.status ?? e?.response?.status;
}

/** Retry-After of a connector error in milliseconds (seconds or an HTTP date). */
export function retryAfterMs(error: unknown): number | undefined {
  const headers = (error as HttpishError | undefined)?.response?.headers;
  const raw = headers?.get?.('retry-after') ?? (headers?.['retry-after'] as string | undefined);
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1_000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
