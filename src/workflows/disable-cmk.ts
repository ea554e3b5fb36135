/**
 * `disableCmk`: puts the account back on Microsoft-managed keys and checks blob access.
 * Destructive: always behind approval.
 */
import type { DisableCmkInput, RunResult } from '../shared/runbooks';
import { describeEncryption, summaryLine } from '../shared/status';
import { azure, azureLong } from './proxies';
import { encryptionDone } from './step-texts';
import { runRunbook } from './runbook';
import { PROBE_WITHIN_MS, probeInput } from './probe';

/** Moves the account from customer-managed to Microsoft-managed keys. */
export async function disableCmk(input: DisableCmkInput): Promise<RunResult> {
  return runRunbook({
    operation: 'disable',
    input,
    summary: summaryLine('disable', input.account),
    request: { operation: 'disable' },
    change: async (run, plan) => {
      const account = run.account;
      const encryption = await run.step(
        'disable',
        'Disable CMK',
        () =>
          azure.disableCmk.executeWithOptions({ summary: `Disable CMK on ${account.name}` }, [{ account }]),
        encryptionDone,
      );
      await run.setStage('confirming');
      await run.step(
        'probe',
        'Data-plane check',
        () =>
          azureLong.probeDataAccess.executeWithOptions({ summary: `Probe blob access on ${account.name}` }, [
            probeInput(account, plan, 'allowed', PROBE_WITHIN_MS),
          ]),
        (p) => `blob access ${p.state}`,
      );
      return { message: `${account.name} now uses ${describeEncryption(encryption)}.`, encryption };
    },
  });
}
