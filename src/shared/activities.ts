/**
 * The contract between runbook workflows and their activities: names, inputs and outputs.
 * Workflows proxy `CmkActivities`; `src/activities` implements it over the Azure SDK.
 */
import type { AccountRef } from './accounts';
import type { ApprovalPolicy, RunStatus } from './approval';
import type { ApprovalsConversation, CardAudience, ConversationRef } from './chat';
import type { EncryptionSettings, KeyAccessGrant, Plan, RevocationSet } from './plan';
import type { BotPublicKey, StartCheck } from './proof';
import type { AccountGroup } from './fleet-tally';
import type { IdentityChoice, KeyChoice, KeyRef, VaultChoice, VersionTarget } from './runbooks';

/** What an operation wants to achieve; `inspect` turns it into a plan against live state. */
export type OperationRequest =
  | {
      operation: 'configure';
      vault: VaultChoice;
      key: KeyChoice;
      identity: IdentityChoice;
      pinVersion: boolean;
    }
  | { operation: 'rotate' }
  | {
      operation: 'changeKey';
      vault?: VaultChoice;
      key: KeyChoice;
      /** Absent: keep the account's current mode (pinned stays pinned, to the new key's version). */
      pinVersion?: boolean;
    }
  | { operation: 'revoke'; disableKey: boolean; confirmWithin?: string }
  | { operation: 'disable' }
  | { operation: 'updateVersion'; target: VersionTarget }
  | { operation: 'restoreAccess' }
  | {
      operation: 'setRotationPolicy';
      rotateAfter?: string;
      rotateBeforeExpiry?: string;
      expiresAfter?: string;
      notifyBeforeExpiry?: string;
    };

/** Input of `inspect`. */
export interface InspectInput {
  account: AccountRef;
  request: OperationRequest;
  /**
   * The re-check before changing anything after an approval: every read is fresh. A first
   * preflight may reuse a listing of the subscription's vaults a few seconds old.
   */
  recheck?: boolean;
}

/** A vault after `ensureVault`. */
export interface VaultState {
  name: string;
  resourceGroup: string;
  subscriptionId: string;
  vaultUri: string;
  rbac: boolean;
  /** True when this call created it (compensation reports it as remaining). */
  created: boolean;
  /** True when this call turned purge protection on. */
  purgeProtectionEnabled: boolean;
}

/** The identity the account uses to reach Key Vault. */
export interface IdentityState {
  /** `SystemAssigned` or the user-assigned identity resource id. */
  identity: string;
  principalId: string;
  /** True when this call changed the account's identity. */
  changed: boolean;
}

/** A grant of key access to a principal. */
export interface GrantState {
  mode: 'accessPolicy' | 'rbac';
  principalId: string;
  /** Role assignment id in RBAC mode. */
  roleAssignmentId?: string;
  /**
   * Milliseconds until ARM reported the grant: not when Key Vault applies it (RBAC takes
   * minutes), which only the account taking the key confirms.
   */
  effectiveAfterMs: number;
  changed: boolean;
}

/** A key version. */
export interface KeyState {
  vaultName: string;
  vaultUri: string;
  name: string;
  version: string;
  kid: string;
  /** True when this call created the version. */
  created: boolean;
}

/** Outcome of a rotation. */
export interface RotationResult {
  newVersion: string;
  previousVersion?: string;
  /** `moved` for pinned accounts, `confirmed` when Azure picked it up, `pending` for the daily check. */
  accountState: 'moved' | 'confirmed' | 'pending';
  encryption: EncryptionSettings;
  /** The version was not made by this run: the key's rotation of this schedule period was adopted. */
  adopted?: boolean;
}

/** The key a rotation's plan found the account on, and the version the account used then. */
export interface PlannedKey {
  vaultUri: string;
  keyName: string;
  /** The version in use at planning (none for a versionless account Azure has not resolved). */
  inUse?: string;
}

/** The version `makeKeyVersion` settled on, and whether it made it. */
export interface KeyVersionMade {
  newVersion: string;
  /** This call made the version (not found from an earlier attempt, nor adopted). */
  made: boolean;
}

/** A Key Vault rotation policy as applied. */
export interface RotationPolicyState {
  rotateAfter?: string;
  rotateBeforeExpiry?: string;
  expiresAfter?: string;
  notifyBeforeExpiry?: string;
}

/** Outcome of a revocation. */
export interface RevokeResult {
  removed: 'accessPolicy' | 'roleAssignment' | 'none';
  /** Every grant removed (absent in results of older runs). */
  grants?: KeyAccessGrant[];
  keyDisabled: boolean;
}

/** Outcome of a data-plane probe. */
export interface ProbeResult {
  state: 'allowed' | 'denied';
  /** Blob service error code when denied, e.g. KeyVaultEncryptionKeyNotFound. */
  errorCode?: string;
  /** Milliseconds from the first probe until the expected state was seen. */
  tookMs: number;
  attempts: number;
}

/** A fleet's plan, and the accounts it will not rotate with why (all of them, for the run). */
export interface FleetPlan {
  plan: Plan;
  skip: { account: AccountRef; why: string }[];
  /**
   * When asked for: the key each selected account uses, in the order of the accounts and then
   * the groups' accounts, as {@link CmkActivities.keysInUse} gives it (null when not on a
   * customer-managed key or not listed).
   */
  keysInUse?: (string | null)[];
}

/** The activities runbooks call. Every one is idempotent and validates its input first. */
export interface CmkActivities {
  /** Read-only preflight: live state → plan with blockers, steps and fingerprint. */
  inspect(input: InspectInput): Promise<Plan>;
  /** Creates the vault with soft delete + purge protection, or validates it and turns purge protection on. */
  ensureVault(input: {
    account: AccountRef;
    vault: VaultChoice;
    location: string;
    tenantId?: string;
  }): Promise<VaultState>;
  /** Gives the account the chosen managed identity. */
  assignIdentity(input: { account: AccountRef; identity: IdentityChoice }): Promise<IdentityState>;
  /** Grants get/wrapKey/unwrapKey (access policy) or Crypto Service Encryption User (RBAC) and waits until effective. */
  grantKeyAccess(input: { vault: VaultState; principalId: string; keyName: string }): Promise<GrantState>;
  /** Creates the key if missing (tagged with the run's workflow id so retries find it). */
  ensureKey(input: { vault: VaultState; key: KeyChoice; runId: string }): Promise<KeyState>;
  /** Points the account at the key, versionless or pinned. */
  enableCmk(input: {
    account: AccountRef;
    key: KeyState;
    identity: string;
    pinVersion: boolean;
  }): Promise<EncryptionSettings>;
  /** Puts the account's encryption back to earlier settings (compensation). */
  restoreEncryption(input: {
    account: AccountRef;
    settings: EncryptionSettings;
  }): Promise<EncryptionSettings>;
  /** Read-only: the account's encryption as Azure holds it now (e.g. after an undo failed). */
  getEncryption(input: { account: AccountRef }): Promise<EncryptionSettings>;
  /** New key version; pinned accounts moved to it, versionless confirmed or reported pending. */
  rotateKey(input: {
    account: AccountRef;
    runId: string;
    /** Names the rotation on the new version; a fleet's accounts on one key share it, and so one version. */
    rotationId?: string;
    confirmWithinMs: number;
    /**
     * A scheduled rotation's period start (ms): when the key's newest version was made at or
     * after it, that version is adopted instead of rotating the key again.
     */
    adoptCreatedAfterMs?: number;
    /** The key the plan found the account on: a rotation refuses to move the account off another. */
    plannedKey?: PlannedKey;
  }): Promise<RotationResult>;
  /**
   * Key Vault's half of `rotateKey`, run first on the paced queue of key creates: the rotation's
   * new version, made and tagged (or found: this rotation's own, or adopted within the period) as
   * `rotateKey` would, which then finds it by its tag and only moves the account.
   */
  makeKeyVersion(input: {
    account: AccountRef;
    runId: string;
    rotationId?: string;
    confirmWithinMs: number;
    adoptCreatedAfterMs?: number;
    /** The key the plan found the account on: its version is made there, without reading the account again. */
    plannedKey?: PlannedKey;
  }): Promise<KeyVersionMade>;
  /**
   * The key each account uses (`<vault uri>keys/<name>`, lower case), or null when it has no
   * customer-managed key or cannot be read now (its own rotation then reports why).
   */
  keysInUse(input: { accounts: AccountRef[] }): Promise<(string | null)[]>;
  /** Sets the Key Vault rotation policy of the account's key. */
  setRotationPolicy(input: { account: AccountRef } & RotationPolicyState): Promise<RotationPolicyState>;
  /**
   * Removes the grants of the approved revocation set (refusing with `RevocationSetChanged` and
   * deleting nothing when Azure holds one it does not list); with `disableKey`, also disables the
   * set's key version.
   */
  revokeAccess(input: {
    account: AccountRef;
    disableKey: boolean;
    approved?: RevocationSet;
  }): Promise<RevokeResult>;
  /** Disables one version of the account's key: the one the approved plan named. */
  disableKeyVersion(input: { account: AccountRef; version: string }): Promise<{ keyId: string }>;
  /** Read-only: which accounts of a fleet rotate (on CMK, key usable) and which are skipped. */
  inspectFleet(input: {
    accounts: AccountRef[];
    /** More accounts, in compact form (large fleets). */
    groups?: AccountGroup[];
    selection?: string;
    recheck?: boolean;
    /** Also give the key each account uses (a fleet's last plan before it rotates). */
    keysInUse?: boolean;
  }): Promise<FleetPlan>;
  /** Read-only: the plan of a rotation policy on a key named by vault and name. */
  inspectKeyPolicy(input: { key: KeyRef; policy: RotationPolicyState }): Promise<Plan>;
  /** Sets the Key Vault rotation policy of a key named by vault and name. */
  setKeyRotationPolicy(input: { key: KeyRef } & RotationPolicyState): Promise<RotationPolicyState>;
  /** Back to Microsoft-managed keys. */
  disableCmk(input: { account: AccountRef }): Promise<EncryptionSettings>;
  /** Pins the account to a version of the key it uses, or makes it versionless (`''`). */
  setKeyVersion(input: { account: AccountRef; version: string }): Promise<EncryptionSettings>;
  /** Enables a version of the account's key (undoing a revoke's disable); no-op when enabled. */
  enableKeyVersion(input: {
    account: AccountRef;
    version: string;
  }): Promise<{ keyId: string; changed: boolean }>;
  /** Probes blob data access until it is in the expected state or the time is up. */
  probeDataAccess(input: {
    account: AccountRef;
    expect: 'allowed' | 'denied';
    withinMs: number;
    /** The account's blob endpoint from the plan; read from ARM when absent. */
    blobEndpoint?: string;
  }): Promise<ProbeResult>;
  /** Posts the run's card into the conversation; returns the message id. */
  postRunCard(input: {
    conversation: ConversationRef;
    status: RunStatus;
    audience?: CardAudience;
  }): Promise<string>;
  /** Updates the run's card for everyone. */
  updateRunCard(input: {
    conversation: ConversationRef;
    messageId: string;
    status: RunStatus;
    audience?: CardAudience;
  }): Promise<void>;
  /** Sends a plain chat message. */
  sendChatText(input: { conversation: ConversationRef; text: string }): Promise<void>;
}

/** The activities that talk to chat, as `createChatActivities` builds them over a chat port. */
export type ChatActivities = Pick<CmkActivities, 'postRunCard' | 'updateRunCard' | 'sendChatText'>;

/**
 * What the worker gives each run at its start, recorded in the run's history: the approval
 * policy the run uses (with its hash), the bot keys proofs must verify against, and the chat
 * service URLs the worker will send to.
 */
export interface RunSettings {
  policy: ApprovalPolicy;
  /** sha256 (hex) of the policy's canonical JSON. */
  policyHash: string;
  /** Up to two keys (old and new while the bot's key is rotated). */
  botKeys: BotPublicKey[];
  trustedServiceUrls: string[];
  /** Where every approval request is also posted; absent when none is configured. */
  approvals?: ApprovalsConversation;
  /**
   * The subscriptions whose ARM write queues the worker polls (lower case); absent in runs whose
   * settings were read before workers said so, whose writes then stay on the runbooks' queue.
   */
  armWriteSubscriptions?: string[];
  /**
   * The worker's verdict on the run's start proof, when the run handed it in: its verified
   * claims, or why it does not verify. Absent for runs that verify the proof themselves.
   */
  start?: StartCheck;
}

/** What a run hands the settings activity: its start proof, for the worker to verify. */
export interface RunSettingsRequest {
  startProof?: unknown;
}

/** The activity a run reads the worker's settings with; `createCmkWorker` registers it from config. */
export interface SettingsActivities {
  /** Without a request (runs from before the worker verified starts), the settings alone. */
  loadRunSettings(request?: RunSettingsRequest): Promise<RunSettings>;
}
