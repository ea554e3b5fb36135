/**
 * `revokeAccess`: removes exactly the grants the approved plan lists (every role assignment and
 * access-policy entry that lets the account's identity wrap or unwrap with its key), optionally
 * disables the key version it named, then waits until blob access is denied. Destructive: always
 * behind approval, re-checked before each of its two destructive steps; when Azure holds a grant
 * the approval did not show, nothing is deleted and a new card asks again.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import type { RevokeResult } from '../shared/activities';
import { CMK_ERROR_TYPES } from '../shared/errors';
import { revokeConfirmWithinMs } from '../shared/duration';
import type { Plan } from '../shared/plan';
import type { RevokeAccessInput, RunResult } from '../shared/runbooks';
import { azure, azureLong } from './proxies';
import { armWritesIn } from './arm-writes';
import type { Run } from './run';
import { failureOf, runRunbook, type ChangeOutcome } from './runbook';
import { revokeDone } from './step-texts';
import { probeInput } from './probe';
import type { StepGuard } from './step-guard';

/** The probe activity's timeout beyond its window: its last read and the retry's start. */
const PROBE_SLACK_MS = 5 * 60_000;

/** The confirmation window of a run, validated. */
function confirmWindowMs(input: RevokeAccessInput): number {
  return revokeConfirmWithinMs(input.confirmWithin);
}

/** Cuts the account off from its key. */
export async function revokeAccess(input: RevokeAccessInput): Promise<RunResult> {
  return runRunbook({
    operation: 'revoke',
    input,
    validate: () => void confirmWindowMs(input),
    request: {
      operation: 'revoke',
      disableKey: input.disableKey === true,
      ...(input.confirmWithin ? { confirmWithin: input.confirmWithin } : {}),
    },
    change: async (run, plan, guard) => {
      const disableKey = input.disableKey === true;
      const revoked = guard.byEffect
        ? await revokeApproved(run, guard, disableKey)
        : await revokeLegacy(run, disableKey);
      return confirmDenied(run, guard.byEffect ? guard.current : plan, revoked, confirmWindowMs(input));
    },
  });
}

/** Removes the approved grants, asking again when Azure holds more; then disables the approved version. */
async function revokeApproved(run: Run, guard: StepGuard, disableKey: boolean): Promise<RevokeResult> {
  const account = run.account;
  let plan = guard.current;
  let revoked: RevokeResult;
  for (;;) {
    // The grants live with the vault (role assignments on its key, vault, group or subscription,
    // or its access policies): its subscription's budget; one at a management group is the rare exception.
    const writes = armWritesIn(run, plan.vault?.subscriptionId);
    try {
      revoked = await writes.azure.revokeAccess.executeWithOptions(
        { summary: `Remove the approved key access of ${account.name}` },
        [{ account, disableKey: false, approved: plan.revocation }],
      );
      break;
    } catch (error) {
      const refusal = refusalOf(error);
      if (refusal === undefined) {
        run.recordStep('revoke', 'Revoke key access', 'failed', (error as Error).message);
        throw error;
      }
      plan = await guard.refused('revoke', refusal);
    }
  }
  run.recordStep('revoke', 'Revoke key access', 'done', revokeDone(revoked));
  guard.ran('revoke', revoked.removed !== 'none');
  if (!disableKey) return revoked;
  plan = await guard.before('disableKey');
  const version = plan.revocation?.disableKeyVersion;
  if (!version) return revoked;
  await run.step(
    'disableKey',
    'Disable the key version',
    () =>
      azure.disableKeyVersion.executeWithOptions({ summary: `Disable key version ${version}` }, [
        { account, version },
      ]),
    (k) => k.keyId,
  );
  return { ...revoked, keyDisabled: true };
}

/** The message of a `RevocationSetChanged` refusal, or undefined for any other failure. */
function refusalOf(error: unknown): string | undefined {
  if (!(error instanceof ActivityFailure) || !(error.cause instanceof ApplicationFailure)) return undefined;
  return error.cause.type === CMK_ERROR_TYPES.RevocationSetChanged ? error.cause.message : undefined;
}

/** Runs started before revocations were bound to their approved list: one activity does both. */
function revokeLegacy(run: Run, disableKey: boolean): Promise<RevokeResult> {
  const account = run.account;
  return run.step(
    'revoke',
    'Revoke key access',
    () =>
      azure.revokeAccess.executeWithOptions({ summary: `Revoke key access of ${account.name}` }, [
        { account, disableKey },
      ]),
    revokeDone,
  );
}

async function confirmDenied(
  run: Run,
  plan: Plan,
  revoked: RevokeResult,
  withinMs: number,
): Promise<ChangeOutcome> {
  const account = run.account;
  await run.setStage('confirming');
  const window = formatMinutes(withinMs);
  let probe;
  try {
    probe = await azureLong.probeDataAccess.executeWithOptions(
      {
        summary: `Wait up to ${window} until blob access is denied on ${account.name}`,
        startToCloseTimeout: withinMs + PROBE_SLACK_MS,
        heartbeatTimeout: '1m',
      },
      [probeInput(account, plan, 'denied', withinMs)],
    );
  } catch (error) {
    // Access was removed; only the confirmation is missing, and the run says exactly that.
    const { message } = failureOf(error);
    run.recordStep('probe', 'Data-plane check', 'failed', `could not run: ${message}`);
    return {
      outcome: 'pending',
      message: `Access was removed (${revoked.removed}), but the runbook could not check ${account.name}'s blob data plane, so the revocation is not confirmed: ${message}`,
      encryption: plan.before,
    };
  }
  const seen = `blob access ${probe.state}${probe.errorCode ? ` (${probe.errorCode})` : ''}`;
  if (probe.state !== 'denied') {
    run.recordStep('probe', 'Data-plane check', 'failed', `${seen} after ${window}`);
    return {
      outcome: 'failed',
      message: `Access was removed (${revoked.removed}) but ${account.name} still serves data after ${window}; check other grants on the vault.`,
      encryption: plan.before,
    };
  }
  run.recordStep('probe', 'Data-plane check', 'done', seen);
  return {
    message: `${account.name} can no longer reach its key: blob access is denied (${probe.errorCode ?? 'denied'}).`,
    encryption: plan.before,
  };
}

function formatMinutes(ms: number): string {
  const minutes = Math.round(ms / 60_000);
  return minutes >= 120 && minutes % 60 === 0
    ? `${minutes / 60} hours`
    : `${minutes} minute${minutes === 1 ? '' : 's'}`;
}
