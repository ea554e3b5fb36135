/**
 * `updateKeyVersion`: moves a CMK account to another version of the key it already uses — the
 * latest (after Key Vault rotated the key on its own), the previous (a rollback), a named one —
 * or back to versionless; the plan settles the version, the run writes exactly it, then probes.
 */
import type { RunResult, UpdateVersionInput } from '../shared/runbooks';
import { describeEncryption, summaryLine } from '../shared/status';
import { describeVersionTarget, validateVersionTarget } from '../shared/version-target';
import { armWritesIn } from './arm-writes';
import { runRunbook } from './runbook';
import { confirmBlobAccess } from './probe';

/** Points the account at the planned version of its key. */
export async function updateKeyVersion(input: UpdateVersionInput): Promise<RunResult> {
  return runRunbook({
    operation: 'updateVersion',
    input,
    summary: `${summaryLine('updateVersion', input.account)} · ${input.target ? describeVersionTarget(input.target) : '?'}`,
    validate: () => void validateVersionTarget(input.target),
    request: { operation: 'updateVersion', target: input.target },
    change: async (run, approved, guard) => {
      const account = run.account;
      // A version step the plan marks risky (a move between pinned and versionless) is re-checked.
      const plan = await guard.before('version');
      const version = plan.versions?.pin ?? plan.before.keyVersion ?? '';
      const step = plan.steps.find((s) => s.id === 'version');
      const writes = armWritesIn(run, account.subscriptionId);
      const encryption = step?.skip
        ? plan.before
        : await run.step(
            'version',
            step?.title ?? 'Key version',
            () =>
              writes.azurePropagation.setKeyVersion.executeWithOptions(
                { summary: `Move ${account.name} to the planned key version` },
                [{ account, version }],
              ),
            describeEncryption,
          );
      if (!step?.skip) guard.ran('version', true);
      if (step?.skip) run.recordStep('version', step.title, 'skipped', 'already so');
      const probe = await confirmBlobAccess(run, plan);
      if (probe.state !== 'allowed') {
        return {
          outcome: 'failed',
          message: `${account.name} now uses ${describeEncryption(encryption)}, but blob access is denied (${probe.errorCode ?? 'unknown'}); check the version's access and state.`,
          encryption,
        };
      }
      return {
        message: `${account.name} now uses ${describeEncryption(encryption)}; blob access works.`,
        encryption,
      };
    },
  });
}
