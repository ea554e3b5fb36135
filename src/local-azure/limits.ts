/**
 * Azure's request limits: ARM token buckets per subscription (reads 250 burst / 25 per s,
 * writes 200 / 10 per s, deletes 200 / 10 per s, each its own bucket) and Key Vault's
 * 10-second windows per vault and per subscription and region.
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

/**
 * A token bucket; `take` answers the remaining tokens or how long to wait. It refills by the
 * monotonic clock, so a step of the wall clock never takes tokens a caller pacing itself expects.
 */
export class TokenBucket {
  private tokens: number;
  private at = performance.now();

  constructor(private readonly spec: BucketSpec) {
    this.tokens = spec.burst;
  }

  /** Takes one token: `{ ok: true, remaining }` or `{ ok: false, retryAfterSeconds }`. */
  take(): { ok: true; remaining: number } | { ok: false; retryAfterSeconds: number } {
    const now = performance.now();
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

/**
 * Key Vault's per-vault limits per 10 s (learn.microsoft.com, key-vault/general/service-limits):
 * creates 20 for software keys and 10 for HSM keys of any size; all other transactions 4,000
 * for software RSA 2048, 1,000 for 3072 and 500 for 4096 (HSM: 2,000 / 500 / 250). The
 * thresholds are weighted and enforced on their sum, so each class costs `budget / limit` units
 * of one shared budget: a 4096-bit operation spends what eight 2048-bit ones do.
 */
export const KEY_VAULT_LIMITS = {
  create: { budget: 20, software: 20, hsm: 10 },
  other: {
    budget: 4000,
    software: { 2048: 4000, 3072: 1000, 4096: 500 },
    hsm: { 2048: 2000, 3072: 500, 4096: 250 },
  },
  windowMs: 10_000,
  /**
   * The subscription-wide limit of each transaction type is five times the vault's, per Azure
   * region (overview-throttling: "The subscription-wide limit for all transaction types is five
   * times per key vault limit … Don't send more than the subscription limit to the Key Vault
   * service in a single Azure region"). Spreading keys over vaults raises the bound only up to it.
   */
  subscriptionMultiple: 5,
} as const;

/** The vault a transaction is on: its name, and the subscription and region whose shared limit it also spends. */
export interface VaultScope {
  name: string;
  subscriptionId: string;
  location: string;
}

/** Which limit a throttled transaction ran into. */
export type KeyVaultLimitScope = 'vault' | 'subscription';

/** What one Key Vault transaction is: a create (or rotate) or any other, on which kind of key. */
export interface KeyVaultTransaction {
  kind: 'create' | 'other';
  /** The key's type and size; absent for operations on no key (lists). */
  key?: { hsm: boolean; size: number };
}

/** The units of its pool's budget a transaction costs. */
export function transactionCost(t: KeyVaultTransaction): number {
  const L = KEY_VAULT_LIMITS;
  if (t.kind === 'create') return L.create.budget / (t.key?.hsm ? L.create.hsm : L.create.software);
  if (!t.key) return 1;
  const table = t.key.hsm ? L.other.hsm : L.other.software;
  const limit = table[t.key.size as 2048 | 3072 | 4096] ?? table[2048];
  return L.other.budget / limit;
}

/**
 * Counts Key Vault transactions in fixed 10-second windows, per pool (creates, all others) of each
 * vault and of each subscription and region. A transaction must fit both windows; one that does
 * not is answered 429 and counts in neither (overview-throttling: "Failed requests that return a
 * 429 do not count towards the throttle limits").
 */
export class KeyVaultLimits {
  private readonly windows = new Map<string, { start: number; spent: number }>();

  /** Counts one transaction; answers the seconds to wait, and which limit, when a window is full. */
  take(
    vault: VaultScope,
    t: KeyVaultTransaction,
  ): { ok: true } | { ok: false; retryAfterSeconds: number; scope: KeyVaultLimitScope } {
    const now = performance.now();
    const cost = transactionCost(t);
    const budget = KEY_VAULT_LIMITS[t.kind].budget;
    const pools = [
      { scope: 'vault' as const, id: `vault|${vault.name.toLowerCase()}|${t.kind}`, budget },
      {
        scope: 'subscription' as const,
        id: `subscription|${vault.subscriptionId.toLowerCase()}|${regionOf(vault.location)}|${t.kind}`,
        budget: budget * KEY_VAULT_LIMITS.subscriptionMultiple,
      },
    ].map((pool) => ({ ...pool, window: this.window(pool.id, now) }));
    const full = pools.filter((p) => p.window.spent + cost > p.budget);
    if (full.length > 0) {
      const waitMs = Math.max(...full.map((p) => p.window.start + KEY_VAULT_LIMITS.windowMs - now));
      return {
        ok: false,
        retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)),
        scope: full.some((p) => p.scope === 'vault') ? 'vault' : 'subscription',
      };
    }
    for (const pool of pools) pool.window.spent += cost;
    return { ok: true };
  }

  /** The current window of `id`, a new one when the last has closed. */
  private window(id: string, now: number): { start: number; spent: number } {
    let w = this.windows.get(id);
    if (!w || now - w.start >= KEY_VAULT_LIMITS.windowMs) {
      w = { start: now, spent: 0 };
      this.windows.set(id, w);
    }
    return w;
  }
}

/** ARM's location names compare without case or spaces ("West Europe" is "westeurope"). */
function regionOf(location: string): string {
  return location.toLowerCase().replace(/\s+/g, '');
}
