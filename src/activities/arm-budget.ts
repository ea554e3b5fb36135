/**
 * Paces this worker's ARM requests to the subscription's token buckets (reads 250 + 25/s,
 * writes and deletes 200 + 10/s by default, ARM's documented limits), so a fleet rotation
 * spends the budget ARM gives instead of collecting 429s and Retry-After waits. The local
 * estimate is corrected down by ARM's `x-ms-ratelimit-remaining-subscription-*` answers, which
 * also count what other callers spent.
 */
import type { PipelinePolicy, PipelineRequest } from '@azure/core-rest-pipeline';

/** One bucket: what it holds when full and what it refills per second. */
export interface BucketLimit {
  burst: number;
  perSecond: number;
}

/** ARM's buckets per subscription; see the module comment. */
export interface ArmBudgetLimits {
  reads: BucketLimit;
  writes: BucketLimit;
  deletes: BucketLimit;
}

/** ARM's documented per-subscription, per-region token buckets. */
export const ARM_LIMITS: ArmBudgetLimits = {
  reads: { burst: 250, perSecond: 25 },
  writes: { burst: 200, perSecond: 10 },
  deletes: { burst: 200, perSecond: 10 },
};

/** A bucket of ARM's: reads, writes or deletes. */
export type ArmBucketKind = keyof ArmBudgetLimits;
type Kind = ArmBucketKind;

/**
 * Told what the worker believes a bucket holds each time ARM answers with what is left in it, and
 * when the worker lets a request through while none of its others is in flight (its belief then:
 * the last answer, less what it sent since, plus the refill since).
 */
export type ArmBucketObserver = (subscriptionId: string, kind: ArmBucketKind, tokens: number) => void;

/** What the policy knows per subscription and kind. */
interface Bucket {
  subscriptionId: string;
  tokens: number;
  at: number;
  /** Requests let through so far; a response names its request by this count. */
  released: number;
  /** Requests let through through the policy and not answered yet. */
  inFlight: number;
  /** Requests waiting for a token, first come first served. */
  queue: ((seq: number) => void)[];
  pumping: boolean;
}

/** The budget one worker paces its ARM requests by; share one across every ARM client. */
export class ArmBudget {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limits: ArmBudgetLimits = ARM_LIMITS,
    private readonly now: () => number = () => performance.now(),
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((resolve) => setTimeout(resolve, ms)),
    private readonly observer?: ArmBucketObserver,
  ) {}

  /** The pipeline policy; place it per retry so every attempt is paced. */
  policy(): PipelinePolicy {
    return {
      name: 'cmkArmBudget',
      sendRequest: async (request, next) => {
        const slot = slotOf(request);
        if (!slot) return next(request);
        const seq = await this.take(slot.subscriptionId, slot.kind);
        const bucket = this.bucket(slot.subscriptionId, slot.kind);
        let response;
        try {
          response = await next(request);
        } finally {
          bucket.inFlight--;
        }
        const header = response.headers.get(`x-ms-ratelimit-remaining-subscription-${slot.kind}`);
        const remaining = response.status === 429 ? 0 : header === undefined ? NaN : Number(header);
        if (Number.isFinite(remaining)) this.observe(slot.subscriptionId, slot.kind, remaining, seq);
        return response;
      },
    };
  }

  /** Waits until the bucket has a token for one request, spends it, and returns the request's number. */
  take(subscriptionId: string, kind: Kind): Promise<number> {
    const bucket = this.bucket(subscriptionId, kind);
    const turn = new Promise<number>((resolve) => bucket.queue.push(resolve));
    void this.pump(bucket, kind);
    return turn;
  }

  /**
   * ARM answered request number `seq` with `remaining` tokens left. Requests let through after it
   * may not have reached ARM yet, so they are taken off too; the worker never believes more
   * than that (which also counts what other callers of the subscription spent).
   */
  observe(subscriptionId: string, kind: Kind, remaining: number, seq: number): void {
    const bucket = this.bucket(subscriptionId, kind);
    this.refill(bucket, kind);
    bucket.tokens = Math.min(bucket.tokens, remaining - (bucket.released - seq));
    this.observer?.(subscriptionId.toLowerCase(), kind, bucket.tokens);
  }

  /** Tokens left (negative: owed to ARM); for diagnostics and tests. */
  balance(subscriptionId: string, kind: Kind): number {
    const bucket = this.bucket(subscriptionId, kind);
    this.refill(bucket, kind);
    return bucket.tokens;
  }

  private async pump(bucket: Bucket, kind: Kind): Promise<void> {
    if (bucket.pumping) return;
    bucket.pumping = true;
    try {
      while (bucket.queue.length > 0) {
        this.refill(bucket, kind);
        if (bucket.tokens >= 1) {
          bucket.tokens -= 1;
          bucket.released += 1;
          const quiet = bucket.inFlight === 0;
          bucket.inFlight += 1;
          bucket.queue.shift()!(bucket.released);
          // A request sent after a quiet spell finds the bucket refilled, and says so now rather
          // than when ARM answers it (a write takes about a second): a queue steered by the
          // belief spends the burst from a fleet's first write, not from its first answer. While
          // requests are in flight their answers steer; a belief told at every request as well
          // steered the queue of several workers worse (each knows only its own requests).
          if (quiet) this.observer?.(bucket.subscriptionId, kind, bucket.tokens);
          continue;
        }
        await this.sleep(((1 - bucket.tokens) / this.limits[kind].perSecond) * 1000);
      }
    } finally {
      bucket.pumping = false;
    }
  }

  private bucket(subscriptionId: string, kind: Kind): Bucket {
    const key = `${subscriptionId.toLowerCase()}/${kind}`;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = {
        subscriptionId: subscriptionId.toLowerCase(),
        tokens: this.limits[kind].burst,
        at: this.now(),
        released: 0,
        inFlight: 0,
        queue: [],
        pumping: false,
      };
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  private refill(bucket: Bucket, kind: Kind): void {
    const limit = this.limits[kind];
    const now = this.now();
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.at) / 1000) * limit.perSecond);
    bucket.at = now;
  }
}

function slotOf(request: PipelineRequest): { subscriptionId: string; kind: Kind } | undefined {
  const subscriptionId = /^\/subscriptions\/([^/]+)/i.exec(new URL(request.url).pathname)?.[1];
  if (!subscriptionId) return undefined;
  const method = request.method.toUpperCase();
  const kind: Kind =
    method === 'GET' || method === 'HEAD' ? 'reads' : method === 'DELETE' ? 'deletes' : 'writes';
  return { subscriptionId, kind };
}
