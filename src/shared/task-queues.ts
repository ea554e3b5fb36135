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

/** The queue of `subscriptionId`'s ARM writes, under the runbooks' task queue `base`. */
export function armWriteQueue(base: string, subscriptionId: string): string {
  return `${base}/arm-writes/${subscriptionId.toLowerCase()}`;
}
