/**
 * What every activity shares: its Temporal context (heartbeats, cancellation, sleeps), the
 * classification of failures at the boundary, and bounded waits for Azure to catch up.
 */
import { setMaxListeners } from 'node:events';
import { Context } from '@temporalio/activity';
import { classifyError, type CallSubject } from './errors';

/** Poll intervals and deadlines; production defaults, tests pass small values. */
export interface ActivityTiming {
  /** First wait between checks that a new grant is effective; doubles up to 8×. */
  grantPollMs: number;
  /** How long a new grant may take to become effective before the run fails. */
  grantTimeoutMs: number;
  /** Interval between data-plane probes. */
  probePollMs: number;
  /** Interval between polls of Azure long-running operations. */
  lroPollMs: number;
  /** Interval between polls for Azure picking up a new key version. */
  rotationPollMs: number;
  /** Interval between heartbeats while waiting on one long call. */
  heartbeatMs: number;
  /**
   * How old a listing of a subscription's vaults a first preflight may reuse (0: none). Plans
   * of a fleet share a few vaults; re-checks after an approval always read fresh.
   */
  vaultListingMaxAgeMs?: number;
}

/** Defaults sized to Azure's documented propagation times. */
export const DEFAULT_TIMING: ActivityTiming = {
  grantPollMs: 2_000,
  grantTimeoutMs: 10 * 60_000,
  probePollMs: 5_000,
  lroPollMs: 2_000,
  rotationPollMs: 30_000,
  heartbeatMs: 10_000,
  vaultListingMaxAgeMs: 2_000,
};

/** Runs an activity body and classifies whatever it throws (validation, Azure, cancellation). */
export async function runActivity<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    throw classifyError(error);
  }
}

/** Awaits one Azure call and classifies its failure with what it was about. */
export async function call<T>(subject: CallSubject, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw classifyError(error, subject);
  }
}

/**
 * Requests one activity may have in flight at once, each listening to its cancellation: a
 * fleet's plan reads up to 128 keys at once, the blast radius scans 200 accounts' scopes. Node
 * warns of a listener leak past 10 per signal, which for these is no leak (each request removes
 * its listener when it ends) but reads as one in the worker's log.
 */
const REQUESTS_PER_ACTIVITY = 1_000;
const widened = new WeakSet<AbortSignal>();

/** The activity's cancellation as an Azure abort signal. */
export function abortSignal(): AbortSignal {
  const signal = Context.current().cancellationSignal;
  if (!widened.has(signal)) {
    setMaxListeners(REQUESTS_PER_ACTIVITY, signal);
    widened.add(signal);
  }
  return signal;
}

/** Records progress (never secrets); also how cancellation reaches the activity. */
export function heartbeat(details: Record<string, unknown>): void {
  Context.current().heartbeat(details);
}

/** Sleeps, but wakes with a cancellation error when the activity is cancelled. */
export function sleep(ms: number): Promise<void> {
  return Context.current().sleep(ms);
}

/** Awaits a long call while heartbeating, so a stuck worker is noticed and cancellation arrives. */
export async function withHeartbeat<T>(
  promise: Promise<T>,
  details: Record<string, unknown>,
  everyMs: number,
): Promise<T> {
  heartbeat(details);
  const timer = setInterval(() => heartbeat(details), everyMs);
  try {
    return await promise;
  } finally {
    clearInterval(timer);
  }
}

/** Retry options for {@link retryWhile}. */
export interface RetryWhileOptions {
  firstDelayMs: number;
  timeoutMs: number;
  /** Heartbeat details, with the attempt number added. */
  progress: Record<string, unknown>;
}

/**
 * Retries `fn` with doubling backoff (capped at 8× the first delay) while `transient(error)`
 * holds and the deadline allows; then rethrows the last error. Returns the value and elapsed ms.
 */
export async function retryWhile<T>(
  fn: () => Promise<T>,
  transient: (error: unknown) => boolean,
  options: RetryWhileOptions,
): Promise<{ value: T; elapsedMs: number; attempts: number }> {
  const started = Date.now();
  let delay = options.firstDelayMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await fn(), elapsedMs: Date.now() - started, attempts: attempt };
    } catch (error) {
      const elapsed = Date.now() - started;
      if (!transient(error) || elapsed + delay > options.timeoutMs) throw error;
      heartbeat({ ...options.progress, attempt, waitingMs: elapsed });
      await sleep(delay);
      delay = Math.min(delay * 2, options.firstDelayMs * 8);
    }
  }
}
