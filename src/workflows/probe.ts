/** The input of a data-plane probe after a change, from the plan the run approved. */
import type { AccountRef } from '../shared/accounts';
import type { Plan } from '../shared/plan';

/** How long a probe after a key change may wait for the account to reach its key (Azure applies it within seconds). */
export const PROBE_WITHIN_MS = 120_000;

/** Probe input; the plan's blob endpoint spares the probe a read of the account. */
export function probeInput(
  account: AccountRef,
  plan: Plan,
  expect: 'allowed' | 'denied',
  withinMs: number,
): { account: AccountRef; expect: 'allowed' | 'denied'; withinMs: number; blobEndpoint?: string } {
  return { account, expect, withinMs, ...(plan.blobEndpoint ? { blobEndpoint: plan.blobEndpoint } : {}) };
}
