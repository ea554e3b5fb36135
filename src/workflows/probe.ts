/** The input of a data-plane probe after a change, from the plan the run approved. */
import type { AccountRef } from '../shared/accounts';
import type { Plan } from '../shared/plan';

/** Probe input; the plan's blob endpoint spares the probe a read of the account. */
export function probeInput(
  account: AccountRef,
  plan: Plan,
  expect: 'allowed' | 'denied',
  withinMs: number,
): { account: AccountRef; expect: 'allowed' | 'denied'; withinMs: number; blobEndpoint?: string } {
  return { account, expect, withinMs, ...(plan.blobEndpoint ? { blobEndpoint: plan.blobEndpoint } : {}) };
}
