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
  'version',
  'enableKey',
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
  /** The latest version's activation date (`nbf`), when it has one. */
  notBefore?: string;
  latestVersion?: string;
  versions?: number;
  /** Tags on the latest version other than the two rotation writes (absent when none). */
  tags?: number;
  /** No live key, but a soft-deleted one holds the name (it can only be recovered or purged). */
  softDeleted?: boolean;
}

/** The parts of the Azure state a plan depends on, each with its own hash in {@link Plan.facets}. */
export const PLAN_FACETS = ['encryption', 'identity', 'vault', 'key', 'grant'] as const;
export type PlanFacet = (typeof PLAN_FACETS)[number];

/**
 * What each step changes in Azure. A re-check before a later destructive step excuses these
 * facets once the run's own step changed them; a change anywhere else lapses the approval.
 */
export const STEP_EFFECTS: Partial<Record<StepId, readonly PlanFacet[]>> = {
  vault: ['vault'],
  identity: ['identity'],
  grant: ['grant'],
  key: ['key'],
  enable: ['encryption'],
  switch: ['encryption'],
  rotate: ['key', 'encryption'],
  revoke: ['grant'],
  disableKey: ['key'],
  disable: ['encryption'],
  version: ['encryption'],
  enableKey: ['key'],
};

/** How far up the Azure hierarchy a grant applies. */
export type GrantLevel = 'key' | 'vault' | 'resourceGroup' | 'subscription' | 'managementGroup' | 'other';

/** One grant that lets the account's identity wrap or unwrap with its key. */
export interface KeyAccessGrant {
  kind: 'roleAssignment' | 'accessPolicy';
  /** The role assignment id, or `<vault id>/accessPolicies/<object id>`. */
  id: string;
  level: GrantLevel;
  /** Where it applies, for people: the key, vault, group or subscription name. */
  where: string;
  /** The role's name, or the access-policy entry's key permissions. */
  what: string;
  /** False when the vault's permission model ignores it today (it would count after a switch). */
  active: boolean;
  /** Only on grants the revocation leaves in place: why (see {@link keptBecause}). */
  kept?: 'inherited' | 'unreadableRole';
}

/**
 * What a revocation removes, listed by the same code the revocation runs: every role
 * assignment whose role's data actions allow wrap or unwrap on the key, at key, vault,
 * resource-group or subscription scope, and the identity's access-policy entries that allow
 * them; plus what it leaves in place and why (e.g. grants inherited from a management group).
 */
export interface RevocationSet {
  principalId: string;
  /** The key's ARM id: `<vault id>/keys/<name>`. */
  keyId: string;
  remove: KeyAccessGrant[];
  keep: KeyAccessGrant[];
  /** The key version the disable step turns off, when the revocation disables it. */
  disableKeyVersion?: string;
}

/** A grant in words, e.g. "Key Vault Crypto Service Encryption User at vault kv-contoso". */
export function describeGrant(g: KeyAccessGrant): string {
  const at =
    g.level === 'resourceGroup'
      ? 'resource group'
      : g.level === 'managementGroup'
        ? 'management group'
        : g.level;
  const what = g.kind === 'accessPolicy' ? `Access-policy entry (${g.what})` : g.what;
  return `${what} at ${at} ${g.where}${g.active ? '' : " (inactive in the vault's current permission model)"}`;
}

/** Why a revocation leaves a grant in place, in words. */
export function keptBecause(g: KeyAccessGrant): string {
  return g.kept === 'inherited'
    ? 'it is inherited from above the subscription, where the runbook changes no assignment'
    : 'its role definition could not be read, so the runbook cannot tell whether it allows wrap or unwrap';
}

/** The plan an approver approves. */
export interface Plan {
  operation: Operation;
  /**
   * The operation whose approval policy applies, when it is not the run's own: a configure that
   * moves a CMK account to another key, vault or version mode is a key change (`changeKey`).
   */
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
  /** The hash of each part of that state (absent on plans made before facets existed). */
  facets?: Partial<Record<PlanFacet, string>>;
  /** Revoke plans: exactly what the revocation removes and what it leaves. */
  revocation?: RevocationSet;
  /**
   * What the card shows as before and after when it is not the account's encryption (a key's
   * rotation policy); `before`/`after` then only name the key.
   */
  facts?: { before: PlanFact[]; after: PlanFact[] };
  /** Revoke, disable-key and change-key plans: the others the change touches. */
  blastRadius?: BlastRadius;
  /**
   * The key versions the plan settled on: the version update-version pins (`''`: versionless),
   * the version restore-access re-enables. The run writes exactly these.
   */
  versions?: { pin?: string; enable?: string };
  /** A fleet rotation's plan: how many accounts it rotates and skips, a few of each by name. */
  fleet?: FleetPlanSummary;
}

/** What a fleet plan card lists (names capped; every account is in the run's input). */
export interface FleetPlanSummary {
  total: number;
  rotate: number;
  skip: number;
  /** Up to a few dozen accounts with what will happen to each. */
  rows: { name: string; detail: string; skip: boolean }[];
}

/**
 * Who else a change touches: the other storage accounts and encryption scopes that use the same
 * key (version), reach it through the same grant, or share the user-assigned identity, found in
 * the configured subscriptions. Shown on revoke, disable-key and change-key cards.
 */
export interface BlastRadius {
  affected: AffectedResource[];
  /** What could not be checked, in words; absent when everything was. */
  unchecked?: string;
}

/** One account or encryption scope a change touches, and how. */
export interface AffectedResource {
  kind: 'account' | 'encryptionScope';
  /** `stcontoso`, or `stcontoso/scope-name`. */
  name: string;
  /** Its resource id. */
  id: string;
  /** What the change does to it, e.g. "loses access: shares identity id-cmk on vault kv-contoso". */
  why: string;
}

/** One line of a plan's before or after, e.g. "Rotate: 30 days before expiry". */
export interface PlanFact {
  title: string;
  value: string;
}
