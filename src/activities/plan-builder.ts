/**
 * The plan under construction: steps with their flags, blockers with their fix, warnings,
 * then sealed with the encryption after and the fingerprint of the state read.
 */
import type { StorageAccount } from '@azure/arm-storage';
import type { AccountRef } from '../shared/accounts';
import type { OperationRequest } from '../shared/activities';
import type { Operation } from '../shared/runbooks';
import { CMK_ERROR_TYPES } from '../shared/errors';
import type {
  BlastRadius,
  Blocker,
  EncryptionSettings,
  Plan,
  RevocationSet,
  Step,
  StepId,
} from '../shared/plan';
import { keyDateFix, keyDateProblem } from './keys';
import { fingerprintOf, type VaultView } from './live-state';

/** Step titles as cards show them. */
export const STEP_TITLES: Record<StepId, string> = {
  preflight: 'Check Azure state',
  approval: 'Approval',
  vault: 'Vault',
  identity: 'Managed identity',
  grant: 'Grant key access',
  key: 'Key',
  enable: 'Enable customer-managed key',
  rotate: 'Rotate key',
  switch: 'Switch the account to the new key',
  rotationPolicy: 'Set rotation policy',
  revoke: 'Revoke key access',
  disableKey: 'Disable the key version',
  disable: 'Back to Microsoft-managed keys',
  version: 'Move the account to the key version',
  enableKey: 'Re-enable the key version',
  probe: 'Probe blob data access',
};

/** Collects steps, blockers and warnings, then seals the plan with its fingerprint. */
export class PlanBuilder {
  vault?: VaultView;
  key?: Plan['key'];
  grant?: unknown;
  /** Whose approval policy applies, when not the run's own operation's. */
  approvalOperation?: Operation;
  revocation?: RevocationSet;
  /** The versions the plan settled on (update-version, restore-access). */
  versions?: Plan['versions'];
  /** Who else the change touches; part of what the fingerprint binds. */
  blastRadius?: BlastRadius;
  /** Why the data-plane probe could not run, when it could not (see `checkProbeReach`). */
  probeReach?: Blocker;
  private readonly steps: Step[] = [
    { id: 'preflight', title: STEP_TITLES.preflight, destructive: false, irreversible: false },
  ];
  private readonly blockers: Blocker[] = [];
  private readonly warnings: string[] = [];

  constructor(
    private readonly ref: AccountRef,
    private readonly request: OperationRequest,
    private readonly account: StorageAccount,
    private readonly before: EncryptionSettings,
  ) {
    const enc = account.encryption;
    if (enc?.requireInfrastructureEncryption)
      this.warn('Infrastructure (double) encryption was chosen at creation and cannot change.');
    for (const service of ['queue', 'table'] as const) {
      if (enc?.services?.[service]?.keyType === 'Account')
        this.warn(
          `${service === 'queue' ? 'Queues' : 'Tables'} use the account key (set at creation), so the customer-managed key covers them too.`,
        );
    }
  }

  /** The account's name, for step titles. */
  get accountName(): string {
    return this.ref.name;
  }

  step(
    id: StepId,
    flags: { destructive?: boolean; irreversible?: boolean; skip?: boolean; title?: string } = {},
  ): void {
    this.steps.push({
      id,
      title: flags.title ?? STEP_TITLES[id],
      destructive: !!flags.destructive,
      irreversible: !!flags.irreversible,
      ...(flags.skip ? { skip: true } : {}),
    });
  }

  block(code: string, message: string, fix: string): void {
    this.blockers.push({ code, message, fix });
  }

  warn(message: string): void {
    this.warnings.push(message);
  }

  checkVault(v: VaultView, allowPurgeProtection: boolean, rbac: boolean | undefined): void {
    const name = v.ref.name;
    if (!v.summary.exists) {
      this.step('vault', {
        title: `Create vault ${name} (soft delete, purge protection, ${rbac === false ? 'access policies' : 'RBAC'})`,
      });
      if (rbac === undefined) this.warn('New vaults use RBAC, the default from Key Vault API 2026-02-01.');
      return;
    }
    if (!v.summary.softDelete)
      this.block(
        CMK_ERROR_TYPES.SoftDeleteMissing,
        `Vault ${name} has no soft delete.`,
        `Run \`az keyvault update --name ${name} --enable-soft-delete true\`.`,
      );
    if (!v.summary.purgeProtection) {
      if (allowPurgeProtection)
        this.step('vault', {
          title: `Turn on purge protection for ${name}`,
          irreversible: true,
        });
      else
        this.block(
          CMK_ERROR_TYPES.PurgeProtectionMissing,
          `Vault ${name} has no purge protection.`,
          `Add --enable-purge-protection to the command to let the runbook turn it on (irreversible), or run \`az keyvault update --name ${name} --enable-purge-protection true\`.`,
        );
    } else this.step('vault', { skip: true, title: `Use vault ${name}` });
    if (!v.summary.trustedServicesBypass)
      this.block(
        'TrustedServicesBypassOff',
        `Vault ${name}'s firewall does not let trusted Azure services through.`,
        `Run \`az keyvault update --name ${name} --bypass AzureServices\`.`,
      );
    if (v.ref.subscriptionId !== this.ref.subscriptionId)
      this.warn(`Vault ${name} is in another subscription (${v.ref.subscriptionId}).`);
  }

  /**
   * The key a configure or change-key asks for: HSM only on premium (a vault this run creates
   * is premium only if asked); a soft-deleted name; a disabled, expired or not-yet-valid
   * version (Key Vault refuses wrapKey outside nbf/exp).
   */
  checkKey(
    key: NonNullable<Plan['key']>,
    wanted: string,
    v: VaultView,
    asked: { newVaultSku?: string } = {},
  ): void {
    const label = `${key.vaultName}/${key.name}`;
    if (!key.exists) {
      const sku = v.summary.exists ? v.summary.sku : (asked.newVaultSku ?? 'standard');
      if (wanted === 'RSA-HSM' && sku !== 'premium')
        this.block(
          CMK_ERROR_TYPES.HsmNotSupportedOnStandardVault,
          `Vault ${v.ref.name} ${v.summary.exists ? 'is' : 'would be created'} standard; RSA-HSM keys need premium.`,
          v.summary.exists
            ? 'Choose RSA, or a premium vault.'
            : 'Choose RSA, or ask for a premium vault (sku premium).',
        );
      if (key.softDeleted)
        this.block(
          CMK_ERROR_TYPES.KeySoftDeleted,
          `Key ${label} is soft-deleted; its name cannot be reused until it is recovered or purged.`,
          `Recover it (\`az keyvault key recover --vault-name ${key.vaultName} --name ${key.name}\`) and ask for it again, or choose another key name.`,
        );
      return;
    }
    if (key.type !== 'RSA' && key.type !== 'RSA-HSM')
      this.block(
        CMK_ERROR_TYPES.UnsupportedKey,
        `Key ${label} is ${key.type}; Azure Storage needs RSA or RSA-HSM.`,
        'Choose another key name.',
      );
    else if (![2048, 3072, 4096].includes(key.size ?? 0))
      this.block(
        CMK_ERROR_TYPES.UnsupportedKey,
        `Key ${label} has ${key.size} bits; Azure Storage needs 2048, 3072 or 4096.`,
        'Choose another key name.',
      );
    if (key.enabled === false)
      this.block(
        CMK_ERROR_TYPES.KeyDisabled,
        `Key ${label} is disabled.`,
        `Enable it (\`az keyvault key set-attributes --enabled true\`) or choose another key.`,
      );
    this.checkKeyDates(key);
  }

  /** An expired or not-yet-valid latest version: storage cannot wrap with it. */
  checkKeyDates(key: NonNullable<Plan['key']>): void {
    const dated = keyDateProblem({
      expiresOn: key.expiresOn ? new Date(key.expiresOn) : undefined,
      notBefore: key.notBefore ? new Date(key.notBefore) : undefined,
    });
    if (!dated) return;
    this.block(
      dated.type,
      `Key ${key.vaultName}/${key.name} version ${key.latestVersion ?? ''} ${dated.type === 'KeyExpired' ? 'expired' : 'is not valid until'} ${dated.at.toISOString()}; Azure Storage cannot wrap with it.`,
      `${capitalise(keyDateFix(key.vaultName, key.name, dated))}.`,
    );
  }

  build(after: EncryptionSettings): Plan {
    if (this.probeReach && this.steps.some((s) => s.id === 'probe' && !s.skip)) {
      const { code, message, fix } = this.probeReach;
      // A revocation is still worth doing when it cannot be confirmed; everything else would
      // report a change it cannot see.
      if (this.request.operation === 'revoke')
        this.warn(
          `The revocation cannot be confirmed: ${message} The run will end pending, not succeeded. To confirm it: ${fix}`,
        );
      else this.block(code, message, fix);
    }
    const { fingerprint, facets } = fingerprintOf({
      account: this.account,
      vault: this.vault,
      key: this.key,
      // Who else a change touches is part of what is approved: a new neighbour lapses the approval.
      grant: this.blastRadius
        ? { grant: this.grant, blast: this.blastRadius.affected.map((a) => a.id) }
        : this.grant,
    });
    const plan: Plan = {
      operation: this.request.operation,
      ...(this.approvalOperation ? { approvalOperation: this.approvalOperation } : {}),
      account: this.ref,
      location: this.account.location,
      ...(this.account.primaryEndpoints?.blob ? { blobEndpoint: this.account.primaryEndpoints.blob } : {}),
      ...(this.vault ? { vault: this.vault.summary } : {}),
      ...(this.key ? { key: this.key } : {}),
      steps: this.steps,
      blockers: this.blockers,
      warnings: this.warnings,
      before: this.before,
      after: JSON.parse(JSON.stringify(after)) as EncryptionSettings,
      destructive: this.steps.some((s) => s.destructive && !s.skip),
      irreversible: this.steps.filter((s) => s.irreversible && !s.skip).map((s) => s.title),
      fingerprint,
      facets,
      ...(this.revocation ? { revocation: this.revocation } : {}),
      ...(this.versions ? { versions: this.versions } : {}),
      ...(this.blastRadius ? { blastRadius: this.blastRadius } : {}),
    };
    return plan;
  }
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
