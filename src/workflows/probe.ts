/** The data-plane probe after a change, with its input from the plan the run approved. */
import type { AccountRef } from '../shared/accounts';
import type { ProbeResult } from '../shared/activities';
import type { Plan } from '../shared/plan';
import { azureLong } from './proxies';
import type { Run } from './run';

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

/**
 * The run's `confirming` stage and its `probe` step: blob access on the account is expected to
 * work within {@link PROBE_WITHIN_MS}; the step records the state the probe saw.
 */
export async function confirmBlobAccess(run: Run, plan: Plan): Promise<ProbeResult> {
  const account = run.account;
  await run.setStage('confirming');
  return run.step(
    'probe',
    'Data-plane check',
    () =>
      azureLong.probeDataAccess.executeWithOptions({ summary: `Probe blob access on ${account.name}` }, [
        probeInput(account, plan, 'allowed', PROBE_WITHIN_MS),
      ]),
    (p) => `blob access ${p.state}`,
  );
}
