/**
 * `rotateKey`: a new key version; pinned accounts are moved to it, versionless accounts are
 * confirmed (or reported pending until Azure's daily check), then blob access is probed.
 */
import { workflowInfo } from '@temporalio/workflow';
import { parseDurationMs } from '../shared/duration';
import type { RotateKeyInput, RunResult } from '../shared/runbooks';
import { describeEncryption, summaryLine } from '../shared/status';
import { azureLong } from './proxies';
import { rotationDone } from './step-texts';
import { runRunbook } from './runbook';
import { PROBE_WITHIN_MS, probeInput } from './probe';

/** Default wait for a versionless account to pick up the new version before reporting it pending. */
const DEFAULT_CONFIRM_WITHIN = '30s';

/** Rotates the account's key. */
export async function rotateKey(input: RotateKeyInput): Promise<RunResult> {
  return runRunbook({
    operation: 'rotate',
    input,
    summary: summaryLine('rotate', input.account),
    validate: () => void parseDurationMs(input.confirmWithin ?? DEFAULT_CONFIRM_WITHIN, 'confirmWithin'),
    request: { operation: 'rotate' },
    change: async (run, plan) => {
      const account = run.account;
      const confirmWithinMs = parseDurationMs(input.confirmWithin ?? DEFAULT_CONFIRM_WITHIN, 'confirmWithin');
      const rotation = await run.step(
        'rotate',
        'Rotate key',
        () =>
          azureLong.rotateKey.executeWithOptions({ summary: `Rotate the key of ${account.name}` }, [
            {
              account,
              runId: workflowInfo().runId,
              ...(input.rotationId ? { rotationId: input.rotationId } : {}),
              confirmWithinMs,
            },
          ]),
        rotationDone,
      );
      await run.setStage('confirming');
      const probe = await run.step(
        'probe',
        'Data-plane check',
        () =>
          azureLong.probeDataAccess.executeWithOptions({ summary: `Probe blob access on ${account.name}` }, [
            probeInput(account, plan, 'allowed', PROBE_WITHIN_MS),
          ]),
        (p) => `blob access ${p.state}`,
      );
      const pending =
        rotation.accountState === 'pending'
          ? ' Azure picks up the new version within 24 hours (versionless).'
          : '';
      return {
        outcome: probe.state === 'allowed' ? 'succeeded' : 'failed',
        message:
          probe.state === 'allowed'
            ? `Rotated ${account.name}'s key to version ${rotation.newVersion}; ${describeEncryption(rotation.encryption)}.${pending}`
            : `Rotated to ${rotation.newVersion}, but blob access is denied (${probe.errorCode ?? 'unknown'}); check the key's access.`,
        encryption: rotation.encryption,
      };
    },
  });
}
