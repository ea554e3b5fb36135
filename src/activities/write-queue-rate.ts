/**
 * Lets a subscription's server-paced write queue spend ARM's write burst.
 *
 * The queue's rate is the server's, one budget for every worker (src/shared/task-queues.ts), but
 * the server's limiter holds at most one second of it: at the configured 9/s the queue never
 * spends the 200 writes ARM's bucket holds when full, and 1,000 writes take 111 s where ARM
 * allows 80. ARM tells every caller how full the bucket is
 * (`x-ms-ratelimit-remaining-subscription-writes`); each worker reads it from its writes' answers
 * through its {@link ArmBudget} (which takes off its own writes still in flight, and adds the
 * refill since, as it lets each write through: a fleet's first write after a quiet spell raises
 * the rate a second before ARM answers it) and sets the queue's rate (`UpdateTaskQueueConfig`)
 * from it: the configured rate plus what the bucket holds above a reserve (none by default),
 * spread over a few seconds. Every worker reads the same bucket, so they set about the same
 * rate, and the server keeps the last one set. A drained bucket or a 429 brings the rate
 * down to the configured one at once; any other change is of a fifth or more (from the configured
 * rate, of half) and waits a second after the previous one, so each worker changes a queue's rate
 * at most about once a second. The worker's ArmBudget still paces its own writes, so a rate set
 * too high by a worker that saw a fuller bucket, or a change the server did not take, costs no 429s.
 */
import type { ArmBucketKind } from './arm-budget';

/** How the rate follows the bucket; the defaults suit ARM's documented 200 + 10/s. */
export interface WriteQueueRateTuning {
  /** Writes left in ARM's bucket that the queue does not spend ahead of its configured rate. */
  reserve: number;
  /** The bucket above the reserve is spent over this many seconds (on top of the configured rate). */
  spendSeconds: number;
  /** The highest rate set, writes/s. */
  ceiling: number;
  /** A change waits this long after the queue's previous one, unless it is down to the configured rate. */
  changeAfterMs: number;
}

/**
 * No reserve: the belief already takes off the worker's writes in flight, and the configured rate
 * sits under ARM's refill, which leaves other callers their share when the bucket is low. Every
 * write a reserve holds back is still in the bucket when a fleet ends, a tenth of a second lost:
 * a reserve of 10 left 22–32 writes unspent at the end of 1,000 rotations, none leaves ~12.
 */
export const WRITE_QUEUE_RATE_TUNING: WriteQueueRateTuning = {
  reserve: 0,
  spendSeconds: 3,
  ceiling: 100,
  changeAfterMs: 1_000,
};

/** Sets the rate the server holds `subscriptionId`'s write queue to. */
export type SetWriteQueueRate = (subscriptionId: string, perSecond: number) => Promise<void>;

interface QueueState {
  /** The rate last set (or being set). */
  rate: number;
  changedAt: number;
  /** A change being sent; the next waits for it. */
  sending?: Promise<void>;
  /** The latest rate wanted while a change was being sent. */
  wanted?: number;
  /** The last change failed: the server may hold another rate, so the next one is sent whatever it is. */
  unsure?: boolean;
}

/** See the module comment; one per worker process, fed by its ArmBudget. */
export class WriteQueueRate {
  private readonly queues = new Map<string, QueueState>();
  private setRate?: SetWriteQueueRate;

  constructor(
    /** The configured rate (CMK_ARM_WRITES_PER_SECOND): the queue's rate when the bucket is low. */
    readonly floor: number,
    private readonly tuning: WriteQueueRateTuning = WRITE_QUEUE_RATE_TUNING,
    private readonly onError: (error: Error) => void = () => undefined,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The rate for a bucket believed to hold `tokens` writes. */
  rateFor(tokens: number): number {
    const { reserve, spendSeconds, ceiling } = this.tuning;
    const above = Math.max(0, tokens - reserve);
    return Math.min(ceiling, Math.round((this.floor + above / spendSeconds) * 10) / 10);
  }

  /**
   * Sets each subscription's queue to the configured rate and steers them from then on. Resolves
   * `steered` or, when the server does not take a queue's rate, why not (the queues then keep
   * the rate the workers declare when they poll).
   */
  async start(subscriptionIds: readonly string[], setRate: SetWriteQueueRate): Promise<string> {
    try {
      for (const subscriptionId of subscriptionIds) await setRate(subscriptionId, this.floor);
    } catch (error) {
      return `the workers' rate only: the Temporal server did not take the queue's rate (${(error as Error).message})`;
    }
    for (const subscriptionId of subscriptionIds)
      this.queues.set(subscriptionId.toLowerCase(), { rate: this.floor, changedAt: -Infinity });
    this.setRate = setRate;
    return "steered by what is left in ARM's write bucket";
  }

  /** The ArmBudget's observer: it now believes `subscriptionId`'s `kind` bucket holds `tokens`. */
  readonly observe = (subscriptionId: string, kind: ArmBucketKind, tokens: number): void => {
    const id = subscriptionId.toLowerCase();
    const queue = this.queues.get(id);
    if (kind !== 'writes' || !queue) return;
    const rate = this.rateFor(tokens);
    if (queue.sending) {
      queue.wanted = rate;
      return;
    }
    this.steer(id, queue, rate);
  };

  /** The rate last set for `subscriptionId`'s queue (diagnostics and tests). */
  rateOf(subscriptionId: string): number | undefined {
    return this.queues.get(subscriptionId.toLowerCase())?.rate;
  }

  private steer(subscriptionId: string, queue: QueueState, rate: number): void {
    // Each change rewrites the queue's configuration on the server, which hands it to every
    // partition: changes of a fifth or more, at most one a second, except the fall to the
    // configured rate (a drained bucket or a 429), which goes at once. A bucket hovering at the
    // reserve, as a long fleet keeps it, fills at 1/s under the configured 9/s, so the rate
    // rises again about every 5 s (a fifth more: 5.4 writes above the reserve), not every second;
    // every write the queue leaves in the bucket when a fleet ends is a tenth of a second lost.
    const toFloor = rate === this.floor && queue.rate !== this.floor;
    const worth = queue.unsure || Math.abs(rate - queue.rate) >= Math.max(1, queue.rate * 0.2);
    if (!toFloor && (!worth || this.now() - queue.changedAt < this.tuning.changeAfterMs)) return;
    queue.rate = rate;
    queue.changedAt = this.now();
    queue.sending = this.setRate!(subscriptionId, rate)
      .then(
        () => {
          queue.unsure = false;
        },
        (error: unknown) => {
          queue.unsure = true;
          this.onError(error as Error);
        },
      )
      .finally(() => {
        queue.sending = undefined;
        const wanted = queue.wanted;
        queue.wanted = undefined;
        if (wanted !== undefined) this.steer(subscriptionId, queue, wanted);
      });
  }
}
