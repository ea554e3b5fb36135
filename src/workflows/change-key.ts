/**
 * `changeKey`: moves a CMK account to another key (and optionally another vault): ensure the
 * vault and key, grant the account's identity, switch, probe; on failure switch back.
 */
import type { VaultState } from '../shared/activities';
import { validateKeyChoice, validateVaultName, ValidationError } from '../shared/names';
import type { ChangeKeyInput, RunResult } from '../shared/runbooks';
import type { Plan } from '../shared/plan';
import { describeEncryption, keyChoiceParts, summaryLine } from '../shared/status';
import { azureLong } from './proxies';
import { armWritesIn, vaultSubscriptionOf } from './arm-writes';
import { encryptionDone, identityDone, vaultDone } from './step-texts';
import { ensureKeyAndGrant } from './key-steps';
import type { Run } from './run';
import { runRunbook, type ChangeOutcome } from './runbook';
import { PROBE_WITHIN_MS, probeInput } from './probe';
import { encryptionUndo } from './compensation';
import { existingVault, identityOf } from './plan-state';
import type { StepGuard } from './step-guard';

/** Points a CMK account at a different key. */
export async function changeKey(input: ChangeKeyInput): Promise<RunResult> {
  return runRunbook({
    operation: 'changeKey',
    input,
    summary: summaryLine('changeKey', input.account, keyChoiceParts(input)),
    validate: () => {
      if (input.vault) validateVaultName(input.vault.name, 'vault.name');
      validateKeyChoice(input.key, 'key');
    },
    request: { operation: 'changeKey', vault: input.vault, key: input.key, pinVersion: input.pinVersion },
    change: (run, plan, guard) => switchKey(run, plan, input, guard),
  });
}

async function switchKey(
  run: Run,
  approved: Plan,
  input: ChangeKeyInput,
  guard: StepGuard,
): Promise<ChangeOutcome> {
  const account = run.account;
  const vault = await targetVault(run, approved, input);
  // The account's writes spend its subscription's budget (the vault's are in their own steps).
  const accountWrites = armWritesIn(run, account.subscriptionId);
  guard.ran('vault', vault.created || vault.purgeProtectionEnabled);
  const identity = await run.step(
    'identity',
    'Managed identity',
    () =>
      accountWrites.azure.assignIdentity.executeWithOptions(
        { summary: `Check the identity of ${account.name}` },
        [{ account, identity: identityOf(approved) }],
      ),
    identityDone,
  );
  guard.ran('identity', identity.changed);
  const { key } = await ensureKeyAndGrant(run, guard, {
    vault,
    key: input.key,
    principalId: identity.principalId,
  });
  // The grant may have waited for propagation: Azure is read again before the switch.
  const plan = await guard.before('switch');
  run.compensation.add(
    encryptionUndo(
      account,
      { id: 'switch', title: 'Switch back', summary: `Switch ${account.name} back` },
      plan.before,
      accountWrites,
    ),
  );
  const encryption = await run.step(
    'switch',
    'Switch key',
    () =>
      accountWrites.azurePropagation.enableCmk.executeWithOptions(
        { summary: `Switch ${account.name} to ${vault.name}/${key.name}` },
        [{ account, key, identity: identity.identity, pinVersion: pinAfter(input, plan) }],
      ),
    encryptionDone,
  );
  await run.setStage('confirming');
  const probe = await azureLong.probeDataAccess.executeWithOptions(
    { summary: `Probe blob access on ${account.name}` },
    [probeInput(account, plan, 'allowed', PROBE_WITHIN_MS)],
  );
  if (probe.state === 'allowed') {
    run.recordStep('probe', 'Data-plane check', 'done', 'blob access works');
    return { message: `${account.name} now uses ${describeEncryption(encryption)}.`, encryption };
  }
  const denied = probe.errorCode ?? 'unknown';
  run.recordStep('probe', 'Data-plane check', 'failed', `blob access denied (${denied})`);
  const undone = await run.compensation.compensate();
  const reached = `${account.name} could not reach ${vault.name}/${key.name} (${probe.errorCode ?? 'denied'})`;
  if (undone.complete) {
    return {
      outcome: 'failed',
      message: `${reached}; it was switched back to ${describeEncryption(plan.before)}.`,
      encryption: plan.before,
    };
  }
  return {
    outcome: 'failed',
    message: `${reached}. ${undone.failures.join(' ')}`,
    ...(undone.actual ? { encryption: undone.actual } : {}),
  };
}

async function targetVault(run: Run, plan: Plan, input: ChangeKeyInput): Promise<VaultState> {
  if (input.vault) {
    const choice = input.vault;
    const writes = armWritesIn(run, vaultSubscriptionOf(plan, choice, run.account));
    return run.step(
      'vault',
      'Key Vault',
      () =>
        writes.azureLong.ensureVault.executeWithOptions({ summary: `Ensure vault ${choice.name}` }, [
          { account: run.account, vault: choice, location: plan.location ?? plan.vault?.location ?? '' },
        ]),
      vaultDone,
    );
  }
  const current = plan.vault;
  if (!current) throw new ValidationError('vault', 'the account has no vault yet; name one to change to');
  return existingVault(current);
}

/** Pinned after the switch: as asked, else as the plan says (the account's mode kept). */
function pinAfter(input: ChangeKeyInput, plan: Plan): boolean {
  return input.pinVersion ?? Boolean(plan.after.keyVersion);
}
