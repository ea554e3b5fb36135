/**
 * `disableCmk`: puts the account back on Microsoft-managed keys and checks blob access.
 * Destructive: always behind approval.
 */
import type { DisableCmkInput, RunResult } from '../shared/runbooks';
import { describeEncryption } from '../shared/status';
import { armWritesIn } from './arm-writes';
import { encryptionDone } from './step-texts';
import { runRunbook } from './runbook';
import { confirmBlobAccess } from './probe';

/** Moves the account from customer-managed to Microsoft-managed keys. */
export async function disableCmk(input: DisableCmkInput): Promise<RunResult> {
  return runRunbook({
    operation: 'disable',
    input,
    request: { operation: 'disable' },
    change: async (run, plan) => {
      const account = run.account;
      const writes = armWritesIn(run, account.subscriptionId);
      const encryption = await run.step(
        'disable',
        'Disable CMK',
        () =>
          writes.azure.disableCmk.executeWithOptions({ summary: `Disable CMK on ${account.name}` }, [
            { account },
          ]),
        encryptionDone,
      );
      await confirmBlobAccess(run, plan);
      return { message: `${account.name} now uses ${describeEncryption(encryption)}.`, encryption };
    },
  });
}
