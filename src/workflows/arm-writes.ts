/**
 * Where a runbook's ARM writes go: on the write queue of the subscription each one writes in, so
 * every write of every runbook spends that subscription's one budget, which Temporal's server
 * holds across every worker (src/shared/task-queues.ts). Key Vault data-plane calls are not ARM
 * writes and stay on the runbooks' queue.
 */
import type { AccountRef } from '../shared/accounts';
import type { Plan } from '../shared/plan';
import type { VaultChoice } from '../shared/runbooks';
import { PATCHES, inForce } from './patches';
import { armWriteQueueProxies, RUNBOOK_QUEUE, type AzureProxies } from './proxies';
import type { Run } from './run';

/**
 * The proxies for an ARM write in `subscriptionId`: its write queue when the worker that started
 * the run polls that queue (the run's settings, recorded in its history), so no write waits on a
 * queue nobody serves. Otherwise (a subscription outside CMK_SUBSCRIPTION_IDS, a run whose
 * settings predate the list, an unknown subscription) the runbooks' queue, which every worker
 * polls: the write then runs as every write did before, paced by its worker alone.
 */
export function armWritesIn(run: Run, subscriptionId: string | undefined): AzureProxies {
  // Asked on every write, whatever the answer, so each new run records which path it took.
  const queued = inForce(PATCHES.everyArmWriteQueued);
  const subscription = subscriptionId?.toLowerCase();
  const polled = run.context.armWriteSubscriptions ?? [];
  return queued && subscription && polled.includes(subscription)
    ? armWriteQueueProxies(subscription)
    : RUNBOOK_QUEUE;
}

/**
 * The subscription a vault step writes in: the vault the approved plan resolved (found by name in
 * any configured subscription, as `ensureVault` resolves it), else where a new vault goes.
 */
export function vaultSubscriptionOf(plan: Plan, choice: VaultChoice, account: AccountRef): string {
  return plan.vault?.subscriptionId ?? choice.subscriptionId ?? account.subscriptionId;
}
