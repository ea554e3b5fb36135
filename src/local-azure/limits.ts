/**
 * Azure's request limits: ARM token buckets per subscription (reads 250 burst / 25 per s,
 * writes 200 / 10 per s, deletes 200 / 10 per s, each its own bucket) and Key Vault's
 * per-vault 10-second windows.
 */

/** Size and refill of one token bucket. */
export interface BucketSpec {
  burst: number;
  refillPerSecond: number;
}

/** ARM's documented per-subscription buckets (learn.microsoft.com, request-limits-and-throttling). */
export const ARM_LIMITS = {
  reads: { burst: 250, refillPerSecond: 25 },
  writes: { burst: 200, refillPerSecond: 10 },
  deletes: { burst: 200, refillPerSecond: 10 },
} as const satisfies Record<string, BucketSpec>;

/** Which ARM bucket a request takes from. */
export type ArmBucketKind = keyof typeof ARM_LIMITS;

/** A token bucket; `take` answers the remaining tokens or how long to wait. */
export class TokenBucket {
  private tokens: number;
  private at = Date.now();

  constructor(private readonly spec: BucketSpec) {
    this.tokens = spec.burst;
  }

  /** Takes one token: `{ ok: true, remaining }` or `{ ok: false, retryAfterSeconds }`. */
  take(): { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number } {
    const now = Date.now();
    this.tokens = Math.min(
      this.spec.burst,
      this.tokens + ((now - this.at) / 1000) * this.spec.refillPerSecond,
    );
    this.at = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true, remaining: Math.floor(this.tokens) };
    }
    return {
      ok: false,
      retryAfterSeconds: Math.max(1, Math.ceil((1 - this.tokens) / this.spec.refillPerSecond)),
    };
  }
}

/** Buckets per subscription and kind, created on first use. */
export class ArmLimits {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly specs: Record<ArmBucketKind, BucketSpec> = ARM_LIMITS) {}

  /** Takes a token from the subscription's read, write or delete bucket. */
  take(subscriptionId: string, kind: ArmBucketKind): ReturnType<TokenBucket['take']> {
    const id = `${subscriptionId.toLowerCase()}|${kind}`;
    let bucket = this.buckets.get(id);
    if (!bucket) {
      bucket = new TokenBucket(this.specs[kind]);
      this.buckets.set(id, bucket);
    }
    return bucket.take();
  }
}

/** Key Vault's per-vault limits per 10 s for software RSA 2048 keys: create 20 (HSM 10), other 4,000 (HSM 2,000). */
export const KEY_VAULT_LIMITS = {
  create: 20,
  createHsm: 10,
  other: 4000,
  otherHsm: 2000,
  windowMs: 10_000,
} as const;

/** Counts Key Vault transactions per vault and class in fixed 10-second windows. */
export class KeyVaultLimits {
  private readonly windows = new Map<string, { start: number; count: number }>();

  /** Counts one transaction; answers the seconds to wait when the window is full. */
  take(
    vault: string,
    kind: keyof Omit<typeof KEY_VAULT_LIMITS, 'windowMs'>,
  ): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const now = Date.now();
    const id = `${vault.toLowerCase()}|${kind}`;
    let w = this.windows.get(id);
    if (!w || now - w.start >= KEY_VAULT_LIMITS.windowMs) {
      w = { start: now, count: 0 };
      this.windows.set(id, w);
    }
    if (w.count >= KEY_VAULT_LIMITS[kind]) {
      return {
        ok: false,
        retryAfterSeconds: Math.max(1, Math.ceil((w.start + KEY_VAULT_LIMITS.windowMs - now) / 1000)),
      };
    }
    w.count += 1;
    return { ok: true };
  }
}
