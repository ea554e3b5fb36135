/**
 * `restoreAccess`: undoes a revoke — grants the account's identity key access again and
 * re-enables the key version in use when the revoke disabled it — then waits until blob access
 * works again. Approval-gated whenever it changes anything: access comes back to data that was
 * cut off on purpose.
 */
import type { Plan } from '../shared/plan';
import type { RestoreAccessInput, RunResult } from '../shared/runbooks';
import { azure, azureLong } from './proxies';
import { armWritesIn } from './arm-writes';
import type { Run } from './run';
import type { StepGuard } from './step-guard';
import { runRunbook, type ChangeOutcome } from './runbook';
import { probeInput } from './probe';
import { existingVault, identityOf } from './plan-state';

/** How long Azure Storage may take to serve data again once its key is reachable. */
const ALLOWED_WITHIN_MS = 600_000;

/** Gives the account its key back. */
export async function restoreAccess(input: RestoreAccessInput): Promise<RunResult> {
  return runRunbook({
    operation: 'restoreAccess',
    input,
    request: { operation: 'restoreAccess' },
    change: (run, plan, guard) => restore(run, plan, guard),
  });
}

async function restore(run: Run, approved: Plan, guard: StepGuard): Promise<ChangeOutcome> {
  const account = run.account;
  let plan = approved;
  const done: string[] = [];
  const grant = plan.steps.find((s) => s.id === 'grant');
  if (grant && !grant.skip && plan.vault && plan.before.keyName) {
    // The identity is the account's (a write only when it lacks one); the grant is the vault's.
    const identity = await armWritesIn(run, account.subscriptionId).azure.assignIdentity.executeWithOptions(
      { summary: `Read the identity of ${account.name}` },
      [{ account, identity: identityOf(plan) }],
    );
    const vault = existingVault(plan.vault);
    const keyName = plan.before.keyName;
    const vaultWrites = armWritesIn(run, vault.subscriptionId);
    const granted = await run.step(
      'grant',
      grant.title,
      () =>
        vaultWrites.azureLong.grantKeyAccess.executeWithOptions(
          { summary: `Grant key access on ${vault.name}` },
          [{ vault, principalId: identity.principalId, keyName }],
        ),
      (g) => `${g.mode}${g.changed ? ', granted' : ', already granted'}`,
    );
    guard.ran('grant', granted.changed);
    done.push('key access granted');
  }
  // Granting may have waited for propagation: a risky step after it is re-checked first.
  if (plan.versions?.enable) plan = await guard.before('enableKey');
  const version = plan.versions?.enable;
  if (version) {
    const enabled = await run.step(
      'enableKey',
      plan.steps.find((s) => s.id === 'enableKey')?.title ?? 'Re-enable the key version',
      () =>
        azure.enableKeyVersion.executeWithOptions({ summary: `Enable key version ${version}` }, [
          { account, version },
        ]),
      (k) => (k.changed ? `enabled ${k.keyId}` : 'already enabled'),
    );
    guard.ran('enableKey', enabled.changed);
    done.push(`version ${version.slice(0, 8)}… enabled`);
  }
  await run.setStage('confirming');
  const probe = await run.step(
    'probe',
    'Data-plane check',
    () =>
      azureLong.probeDataAccess.executeWithOptions(
        { summary: `Wait until blob access works on ${account.name}` },
        [probeInput(account, plan, 'allowed', ALLOWED_WITHIN_MS)],
      ),
    (p) => `blob access ${p.state}${p.errorCode ? ` (${p.errorCode})` : ''}`,
  );
  const what = done.length ? done.join(', ') : 'nothing needed restoring';
  if (probe.state !== 'allowed') {
    return {
      outcome: 'failed',
      message: `${what}, but ${account.name} still cannot reach its key (${probe.errorCode ?? 'denied'}); check the vault's firewall and other grants.`,
      encryption: plan.before,
    };
  }
  return {
    message: `${account.name} reaches its key again (${what}); blob access works.`,
    encryption: plan.before,
  };
}
