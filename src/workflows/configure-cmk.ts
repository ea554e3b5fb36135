/**
 * `configureCmk`: preflight → plan → approval → vault → identity → key → grant → enable →
 * data-plane probe. A failure after partial changes restores the account's previous
 * encryption and reports what remains in Azure (e.g. a created vault).
 */
import { validateKeyChoice, validateVaultName } from '../shared/names';
import type { EncryptionSettings, Plan } from '../shared/plan';
import type { ConfigureCmkInput, RunResult } from '../shared/runbooks';
import { describeEncryption, keyChoiceParts, summaryLine } from '../shared/status';
import { azureLong } from './proxies';
import { armWritesIn, vaultSubscriptionOf } from './arm-writes';
import { encryptionDone, identityDone, identityName, vaultDone } from './step-texts';
import { ensureKeyAndGrant } from './key-steps';
import type { Run } from './run';
import { failureOf, runRunbook, type ChangeOutcome } from './runbook';
import { PROBE_WITHIN_MS, probeInput } from './probe';
import { encryptionUndo } from './compensation';
import type { StepGuard } from './step-guard';

/** Brings a storage account to customer-managed keys in Key Vault, end to end. */
export async function configureCmk(input: ConfigureCmkInput): Promise<RunResult> {
  return runRunbook({
    operation: 'configure',
    input,
    summary: summaryLine('configure', input.account, keyChoiceParts(input)),
    validate: () => {
      validateVaultName(input.vault?.name, 'vault.name');
      validateKeyChoice(input.key, 'key');
    },
    request: {
      operation: 'configure',
      vault: input.vault,
      key: input.key,
      identity: input.identity,
      pinVersion: input.pinVersion,
    },
    change: (run, plan, guard) => configure(run, plan, input, guard),
  });
}

async function configure(
  run: Run,
  approved: Plan,
  input: ConfigureCmkInput,
  guard: StepGuard,
): Promise<ChangeOutcome> {
  const account = run.account;
  let plan = approved;
  // Each ARM write spends the budget of the subscription it writes in: the vault's, the account's.
  const vaultWrites = armWritesIn(run, vaultSubscriptionOf(plan, input.vault, account));
  const accountWrites = armWritesIn(run, account.subscriptionId);
  const vault = await run.step(
    'vault',
    'Key Vault',
    () =>
      vaultWrites.azureLong.ensureVault.executeWithOptions({ summary: `Ensure vault ${input.vault.name}` }, [
        { account, vault: input.vault, location: plan.location ?? plan.vault?.location ?? '' },
      ]),
    vaultDone,
  );
  guard.ran('vault', vault.created || vault.purgeProtectionEnabled);
  if (vault.created)
    run.remaining.push(`Key Vault ${vault.name} (created by this run; purge protection keeps it)`);
  const identity = await run.step(
    'identity',
    'Managed identity',
    () =>
      accountWrites.azure.assignIdentity.executeWithOptions(
        { summary: `Assign identity to ${account.name}` },
        [{ account, identity: input.identity }],
      ),
    identityDone,
  );
  guard.ran('identity', identity.changed);
  const principalId = identity.principalId;
  const { key } = await ensureKeyAndGrant(run, guard, {
    vault,
    key: input.key,
    principalId,
    onKey: (made) => {
      if (made.created) run.remaining.push(`Key ${vault.name}/${made.name} version ${made.version}`);
    },
    // Named for the reader, with the principal id the clean-up command needs.
    onGrant: (grant) => {
      if (grant.changed)
        run.remaining.push(
          `Key access for ${account.name}'s ${identityName(identity.identity)} (principal ${principalId}) on ${vault.name}`,
        );
    },
  });
  // The grant may have waited minutes for propagation: Azure is read again before a key change.
  plan = await guard.before('enable');
  run.compensation.add(
    encryptionUndo(
      account,
      { id: 'enable', title: 'Restore encryption', summary: `Restore encryption of ${account.name}` },
      plan.before,
      accountWrites,
    ),
  );
  const encryption = await run.step(
    'enable',
    'Enable CMK',
    () =>
      accountWrites.azurePropagation.enableCmk.executeWithOptions(
        { summary: `Enable CMK on ${account.name}` },
        [{ account, key, identity: identity.identity, pinVersion: input.pinVersion }],
      ),
    encryptionDone,
  );
  return confirm(run, plan, encryption);
}

async function confirm(run: Run, plan: Plan, encryption: EncryptionSettings): Promise<ChangeOutcome> {
  const account = run.account;
  await run.setStage('confirming');
  let probe;
  try {
    probe = await azureLong.probeDataAccess.executeWithOptions(
      { summary: `Probe blob access on ${account.name}` },
      [probeInput(account, plan, 'allowed', PROBE_WITHIN_MS)],
    );
  } catch (error) {
    const { message } = failureOf(error);
    run.recordStep('probe', 'Data-plane check', 'failed', message);
    run.remaining.length = 0;
    return {
      outcome: 'pending',
      message: `CMK is enabled on ${account.name} (${describeEncryption(encryption)}) but the data-plane check did not finish: ${message}`,
      encryption,
    };
  }
  if (probe.state === 'allowed') {
    run.recordStep('probe', 'Data-plane check', 'done', `blob access works (${probe.attempts} probe(s))`);
    run.remaining.length = 0;
    return { message: `${account.name} now uses ${describeEncryption(encryption)}.`, encryption };
  }
  run.recordStep(
    'probe',
    'Data-plane check',
    'failed',
    `blob access denied (${probe.errorCode ?? 'unknown'})`,
  );
  const undone = await run.compensation.compensate();
  const denied = `${account.name} could not reach its new key (${probe.errorCode ?? 'denied'})`;
  if (!undone.complete) {
    return {
      outcome: 'failed',
      message: `${denied}. ${undone.failures.join(' ')}`,
      ...(undone.actual ? { encryption: undone.actual } : {}),
    };
  }
  return {
    outcome: 'failed',
    message: `${denied}; its encryption was put back to ${describeEncryption(plan.before)}. Check the key's access and network rules, then run configure again.`,
    encryption: plan.before,
  };
}
