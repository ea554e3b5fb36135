/**
 * The activity proxies every runbook uses, with timeouts and retry policies per kind of call.
 * Domain errors (`NON_RETRYABLE_ERROR_TYPES`) stop retries; transient ones retry with backoff.
 */
import type { Priority, RetryPolicy } from '@temporalio/common';
import { proxyActivities, workflowInfo, type ActivityOptions } from '@temporalio/workflow';
import type { CmkActivities } from '../shared/activities';
import { NON_RETRYABLE_ERROR_TYPES } from '../shared/errors';
import { armWriteQueue, keyVaultCreateQueue, keyVaultFairness, WRITE_PRIORITY } from '../shared/task-queues';

const retry: RetryPolicy = {
  initialInterval: '1s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 8,
  nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
};

/** Reads and short ARM writes: see {@link azure}. */
const shortOptions: ActivityOptions = { startToCloseTimeout: '2m', retry };

/** Calls that point an account at a key: see {@link azurePropagation}. */
const propagationOptions: ActivityOptions = { startToCloseTimeout: '20m', heartbeatTimeout: '1m', retry };

/** Calls that wait on Azure: see {@link azureLong}. */
const longOptions: ActivityOptions = { startToCloseTimeout: '30m', heartbeatTimeout: '1m', retry };

/** Reads and short ARM writes (inspect, identity, enable, restore, disable). */
export const azure = proxyActivities<CmkActivities>(shortOptions);

/**
 * Calls that point an account at a key (enable, change-key's switch, both restores, update-version's
 * switch): Azure
 * Storage refuses them with `KeyVaultAuthenticationFailure` until a new grant has propagated,
 * which the activity waits out for up to `grantTimeoutMs` (10 minutes by default), heartbeating.
 * The timeout is above that wait, so the wait ends the attempt, not Temporal.
 */
export const azurePropagation = proxyActivities<CmkActivities>(propagationOptions);

/** Calls that wait on Azure (grant propagation, vault creation, probes, rotation confirmation). */
export const azureLong = proxyActivities<CmkActivities>(longOptions);

/** The activity proxies of each kind of call ({@link azure}, {@link azurePropagation}, {@link azureLong}). */
export interface AzureProxies {
  azure: typeof azure;
  azurePropagation: typeof azurePropagation;
  azureLong: typeof azureLong;
}

/** The runbooks' own proxies: every call on the runbooks' task queue. */
export const RUNBOOK_QUEUE: AzureProxies = { azure, azurePropagation, azureLong };

/**
 * The proxies of each kind of call, with the same timeouts, on `subscriptionId`'s ARM write
 * queue (src/shared/task-queues.ts), whose rate the server enforces across every worker. Time
 * spent waiting in the queue counts against no timeout (none is set from scheduling), so a
 * write waits its turn in the budget rather than failing. Only for a subscription a worker polls.
 */
export function armWriteQueueProxies(subscriptionId: string): AzureProxies {
  const taskQueue = armWriteQueue(workflowInfo().taskQueue, subscriptionId);
  const priority = writePriority();
  return {
    azure: proxyActivities<CmkActivities>({ ...shortOptions, taskQueue, priority }),
    azurePropagation: proxyActivities<CmkActivities>({ ...propagationOptions, taskQueue, priority }),
    azureLong: proxyActivities<CmkActivities>({ ...longOptions, taskQueue, priority }),
  };
}

/**
 * The priority of this run's writes on a rate-held queue ({@link WRITE_PRIORITY}): a child run (a
 * fleet's or a schedule's rotation) waits behind a run someone started. Activity options are not
 * part of a run's replayed commands, so runs in flight take it from their next write on.
 */
function writePriority(): Priority {
  return {
    priorityKey: workflowInfo().parent ? WRITE_PRIORITY.background : WRITE_PRIORITY.interactive,
  };
}

/**
 * {@link azureLong} on `subscriptionId`'s ARM write queue (src/shared/task-queues.ts), whose rate
 * the server enforces across every worker. Every worker polls the queue of each configured
 * subscription; should none poll it, the activity waits in the queue, unstarted, until one does.
 */
export function azureArmWrites(subscriptionId: string): ReturnType<typeof proxyActivities<CmkActivities>> {
  return armWriteQueueProxies(subscriptionId).azureLong;
}

/**
 * {@link azureLong} on the queue of Key Vault key creates (src/shared/task-queues.ts), under
 * `vaultName` as its fairness key: the server holds each vault to its create rate across every
 * worker (HSM keys to half of it). Every worker polls the queue.
 */
export function azureKeyVaultCreates(
  vaultName: string,
  hsm: boolean,
): ReturnType<typeof proxyActivities<CmkActivities>> {
  return proxyActivities<CmkActivities>({
    ...longOptions,
    // A create Key Vault throttles is retried here, through the queue, not in the SDK (3 retries
    // an attempt before): the same 32 tries in all.
    retry: { ...retry, maximumAttempts: 32 },
    taskQueue: keyVaultCreateQueue(workflowInfo().taskQueue),
    priority: { ...writePriority(), ...keyVaultFairness(vaultName, hsm) },
  });
}

/** Chat: a few quick attempts; a chat outage never fails a runbook. */
export const chat = proxyActivities<CmkActivities>({
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '1s',
    maximumAttempts: 3,
    nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES],
  },
});
