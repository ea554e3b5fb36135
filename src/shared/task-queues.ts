/**
 * The task queues a rate is enforced on: Temporal's matching service dispatches a queue's
 * activities at most at the rate its workers declare (`maxTaskQueueActivitiesPerSecond`),
 * whichever worker polls it, so a rate on a queue is one budget for every worker process.
 * Workflows schedule ARM writes on their subscription's queue; every worker polls the queue of
 * every subscription its configuration names (CMK_SUBSCRIPTION_IDS).
 */

/** ARM's write refill per subscription (writes/s, ARM's documented token bucket: 200 + 10/s). */
export const ARM_WRITE_REFILL_PER_SECOND = 10;

/**
 * The default rate of a subscription's write queue: a little under ARM's refill, so the bucket
 * refills faster than the queue spends it and ARM's burst stays in reserve to absorb the clumps
 * in which the server dispatches and the drift between its clock and ARM's.
 */
export const DEFAULT_ARM_WRITES_PER_SECOND = 9;

/**
 * The priority (Temporal's `priorityKey`: lower goes first when a queue has a backlog; 3 when
 * unset) of a run's writes on the rate-held queues: a run someone started and waits on in chat
 * goes before the rotations of a fleet or a schedule (child runs), which nobody watches write by
 * write. A fleet's backlog of a thousand writes would otherwise hold a chat run's write for up to
 * 100 s at ARM's refill.
 */
export const WRITE_PRIORITY = { interactive: 2, background: 4 } as const;

/** The queue of `subscriptionId`'s ARM writes, under the runbooks' task queue `base`. */
export function armWriteQueue(base: string, subscriptionId: string): string {
  return `${base}/arm-writes/${subscriptionId.toLowerCase()}`;
}

/**
 * Key Vault's documented limit on key creates (a rotation is one), per vault and region per
 * 10 seconds: 20 for software keys and 10 for HSM keys of any size
 * (learn.microsoft.com/azure/key-vault/general/service-limits).
 */
export const KEY_VAULT_CREATES_PER_10S = { software: 20, hsm: 10 } as const;

/**
 * The default rate the server holds each vault's creates to (software keys; HSM keys at half):
 * a little under Key Vault's 20 per 10 s. A backlog leaves the server's limiter one create every
 * 1/1.95 s, so 20 span 9.74 s and the 21st comes a quarter second after any 10-second window
 * that starts at one of them closes, fixed or sliding, whatever the dispatch jitter below that.
 * Only the second of rate the limiter holds after a quiet spell can put one create too many into
 * a backlog's first window; Key Vault answers it 429 with Retry-After, which the SDK waits out.
 */
export const DEFAULT_KEY_VAULT_CREATES_PER_SECOND = 1.95;

/**
 * Key Vault's limit for a subscription in one region, as a multiple of a vault's: five times, for
 * every transaction type (learn.microsoft.com/azure/key-vault/general/overview-throttling). Keys
 * spread over many vaults are bound by it: 100 software creates per 10 s, not 20 per vault.
 */
export const KEY_VAULT_SUBSCRIPTION_MULTIPLE = 5;

/** The rate the whole queue of creates is held to for a per-vault rate: a subscription's share of it. */
export function keyVaultCreatesInAll(perVault: number): number {
  return perVault * KEY_VAULT_SUBSCRIPTION_MULTIPLE;
}

/**
 * The queue of the runbooks' Key Vault key creates (the rotation's new version), under the
 * runbooks' task queue `base`. Every worker polls it; the server paces it per vault: each create
 * carries its vault as its fairness key, and the queue's per-fairness-key rate limit
 * (`UpdateTaskQueueConfig`, which the worker sets when it starts) holds each key to the vault's rate.
 */
export function keyVaultCreateQueue(base: string): string {
  return `${base}/key-vault-creates`;
}

/**
 * The fairness key and weight a create on `vaultName` is dispatched under: the vault (its name
 * is unique in Azure's DNS), at full rate for software keys and half for HSM keys, whose create
 * limit is half (the server scales a key's rate limit by its weight).
 */
export function keyVaultFairness(
  vaultName: string,
  hsm: boolean,
): { fairnessKey: string; fairnessWeight: number } {
  return {
    fairnessKey: vaultName.toLowerCase(),
    fairnessWeight: hsm ? KEY_VAULT_CREATES_PER_10S.hsm / KEY_VAULT_CREATES_PER_10S.software : 1,
  };
}
