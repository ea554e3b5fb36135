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
import type { Plan } from '../shared/plan';
import type { RevokeAccessInput, RunResult } from '../shared/runbooks';
import { summaryLine } from '../shared/status';
import { azure, azureLong } from './proxies';
import type { Run } from './run';
import { runRunbook, type ChangeOutcome } from './runbook';
import { revokeDone } from './step-texts';
import { probeInput } from './probe';
import type { StepGuard } from './step-guard';

/** How long the data plane may keep answering after access ends. */
const DENIED_WITHIN_MS = 300_000;

/** Cuts the account off from its key. */
export async function revokeAccess(input: RevokeAccessInput): Promise<RunResult> {
  return runRunbook({
    operation: 'revoke',
    input,
    summary: summaryLine('revoke', input.account),
    request: { operation: 'revoke', disableKey: input.disableKey === true },
    change: async (run, plan, guard) => {
      const disableKey = input.disableKey === true;
      const revoked = guard.byEffect
        ? await revokeApproved(run, guard, disableKey)
        : await revokeLegacy(run, disableKey);
      return confirmDenied(run, guard.byEffect ? guard.current : plan, revoked);
    },
  });
}

/** Removes the approved grants, asking again when Azure holds more; then disables the approved version. */
async function revokeApproved(run: Run, guard: StepGuard, disableKey: boolean): Promise<RevokeResult> {
  const account = run.account;
  let plan = guard.current;
  let revoked: RevokeResult;
  for (;;) {
    try {
      revoked = await azure.revokeAccess.executeWithOptions(
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

async function confirmDenied(run: Run, plan: Plan, revoked: RevokeResult): Promise<ChangeOutcome> {
  const account = run.account;
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
}
