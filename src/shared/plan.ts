/**
 * What a runbook will do, shown to approvers before it does it. Made by the `inspect`
 * activity from live Azure state; its fingerprint binds an approval to that state.
 */
import type { AccountRef } from './accounts';
import type { KeySize, KeyType } from './names';
import type { Operation } from './runbooks';

/** Where the account's encryption key comes from, as Azure reports it. */
export interface EncryptionSettings {
  keySource: 'Microsoft.Storage' | 'Microsoft.Keyvault';
  /** `https://<vault>.vault.azure.net/` when keySource is Microsoft.Keyvault. */
  vaultUri?: string;
  keyName?: string;
  /** `''` means versionless (Azure picks up new versions); a version pins the account to it. */
  keyVersion?: string;
  /** Read-only: the versioned key id Azure is using now. */
  currentVersionedKeyId?: string;
  /** ISO time of the last version change Azure made. */
  lastKeyRotation?: string;
  /** `SystemAssigned` or a user-assigned identity resource id. */
  identity?: string;
}

/** One step of a runbook as the plan and the card show it. */
export interface Step {
  id: StepId;
  title: string;
  /** Removes access or changes encryption in a way users notice (needs approval). */
  destructive: boolean;
  /** Cannot be undone (e.g. turning purge protection on). */
  irreversible: boolean;
  /** Already in the desired state: the step will be confirmed, not changed. */
  skip?: boolean;
}

/** Step ids shared by plans, cards, search attributes and results. */
export const STEP_IDS = [
  'preflight',
  'approval',
  'vault',
  'identity',
  'grant',
  'key',
  'enable',
  'rotate',
  'switch',
  'rotationPolicy',
  'revoke',
  'disableKey',
  'disable',
  'probe',
] as const;
export type StepId = (typeof STEP_IDS)[number];

/** Something that stops the plan, in plain words with the fix. */
export interface Blocker {
  code: string;
  message: string;
  fix: string;
}

/** A vault as the plan sees it. */
export interface VaultSummary {
  name: string;
  resourceGroup: string;
  subscriptionId: string;
  exists: boolean;
  softDelete?: boolean;
  purgeProtection?: boolean;
  rbac?: boolean;
  sku?: 'standard' | 'premium';
  location?: string;
  trustedServicesBypass?: boolean;
}

/** A key as the plan sees it. */
export interface KeySummary {
  vaultName: string;
  name: string;
  exists: boolean;
  type?: KeyType;
  size?: KeySize;
  enabled?: boolean;
  expiresOn?: string;
  latestVersion?: string;
  versions?: number;
}

/** The plan an approver approves. */
export interface Plan {
  operation: Operation;
  /** Whose approval policy applies, when not the run's own operation (a configure that changes the key). */
  approvalOperation?: Operation;
  account: AccountRef;
  location?: string;
  /** The account's blob endpoint, so data-plane probes need not read the account again. */
  blobEndpoint?: string;
  vault?: VaultSummary;
  key?: KeySummary;
  steps: Step[];
  blockers: Blocker[];
  /** Notes that do not block, e.g. creation-only settings that cannot change later. */
  warnings: string[];
  before: EncryptionSettings;
  after: EncryptionSettings;
  destructive: boolean;
  /** Titles of the steps that cannot be undone. */
  irreversible: string[];
  /** Stable hash of the Azure state the plan depends on; a change voids approvals. */
  fingerprint: string;
}
