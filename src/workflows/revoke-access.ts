/**
 * `revokeAccess`: removes the account identity's access to its key (optionally disables the
 * key version), then waits until blob access is denied. Destructive: always behind approval.
 */
import type { RevokeAccessInput, RunResult } from '../shared/runbooks';
import { summaryLine } from '../shared/status';
import { azure, azureLong } from './proxies';
import { runRunbook } from './runbook';
import { probeInput } from './probe';

/** How long the data plane may keep answering after access ends. */
const DENIED_WITHIN_MS = 300_000;

/** Cuts the account off from its key. */
export async function revokeAccess(input: RevokeAccessInput): Promise<RunResult> {
  return runRunbook({
    operation: 'revoke',
    input,
    summary: summaryLine('revoke', input.account),
    request: { operation: 'revoke', disableKey: input.disableKey === true },
    change: async (run, plan) => {
      const account = run.account;
      const revoked = await run.step(
        'revoke',
        'Revoke key access',
        () =>
          azure.revokeAccess.executeWithOptions({ summary: `Revoke key access of ${account.name}` }, [
            { account, disableKey: input.disableKey === true },
          ]),
        (r) => `removed ${r.removed}${r.keyDisabled ? ', key version disabled' : ''}`,
      );
      await run.setStage('confirming');
      const probe = await run.step(
        'probe',
        'Data-plane check',
        () =>
          azureLong.probeDataAccess.executeWithOptions(
            { summary: `Wait until blob access is denied on ${account.name}` },
            [probeInput(account, plan, 'denied', DENIED_WITHIN_MS)],
          ),
        (p) => `blob access ${p.state}${p.errorCode ? ` (${p.errorCode})` : ''}`,
      );
      if (probe.state !== 'denied') {
        return {
          outcome: 'failed',
          message: `Access was removed (${revoked.removed}) but ${account.name} still serves data; check other grants on the vault.`,
          encryption: plan.before,
        };
      }
      return {
        message: `${account.name} can no longer reach its key: blob access is denied (${probe.errorCode ?? 'denied'}).`,
        encryption: plan.before,
      };
    },
  });
}
