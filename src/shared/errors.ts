/**
 * Domain error types the activities raise as non-retryable failures. Pure: workflows put
 * this list into their retry policies and branch on the types to tell users what to do.
 */

/** Non-retryable failure types, each with who raises it and when. */
export const CMK_ERROR_TYPES = {
  /** The vault lacks purge protection and the run may not turn it on. */
  PurgeProtectionMissing: 'PurgeProtectionMissing',
  /** The vault lacks soft delete; Azure Storage refuses such a vault for CMK. */
  SoftDeleteMissing: 'SoftDeleteMissing',
  /** The account's identity cannot get/wrap/unwrap the key after the propagation window. */
  KeyAccessNotGranted: 'KeyAccessNotGranted',
  /** The key (version) is disabled; storage cannot use it. */
  KeyDisabled: 'KeyDisabled',
  /** The key version's expiry (`exp`) has passed; Key Vault refuses wrapKey with it. */
  KeyExpired: 'KeyExpired',
  /** The key version's not-before date (`nbf`) is still ahead; Key Vault refuses wrapKey with it. */
  KeyNotYetValid: 'KeyNotYetValid',
  /** A soft-deleted key holds the name: it must be recovered (or another name chosen). */
  KeySoftDeleted: 'KeySoftDeleted',
  /** The existing key is of another type or size than asked for. */
  KeyMismatch: 'KeyMismatch',
  /** Rotation's two tags would pass Key Vault's limit of 15 tags on the key. */
  TooManyKeyTags: 'TooManyKeyTags',
  /** The key does not exist in the vault. */
  KeyNotFound: 'KeyNotFound',
  /** The vault does not exist (or is not visible to the runbook). */
  VaultNotFound: 'VaultNotFound',
  /** Another tenant or subscription owns a vault of that (globally unique) name. */
  VaultNameTaken: 'VaultNameTaken',
  /** A soft-deleted vault holds the name; it must be recovered or purged first. */
  VaultSoftDeleted: 'VaultSoftDeleted',
  /** The storage account does not exist. */
  AccountNotFound: 'AccountNotFound',
  /** The user-assigned identity does not exist, or the account has no identity. */
  IdentityNotFound: 'IdentityNotFound',
  /** The key type or size is not one Azure Storage accepts (RSA/RSA-HSM, 2048/3072/4096). */
  UnsupportedKey: 'UnsupportedKey',
  /** An RSA-HSM key was asked for on a standard-SKU vault. */
  HsmNotSupportedOnStandardVault: 'HsmNotSupportedOnStandardVault',
  /** A setting that can only be chosen when the account is created. */
  CreationOnlySetting: 'CreationOnlySetting',
  /** The runbook's identity lacks the Azure RBAC or access-policy rights for the call. */
  AuthorizationFailed: 'AuthorizationFailed',
  /** Key Vault's firewall refused the caller's address (403 `ForbiddenByFirewall`). */
  ForbiddenByFirewall: 'ForbiddenByFirewall',
  /** An input broke a naming, size or duration rule; nothing was sent to Azure. */
  InvalidInput: 'InvalidInput',
  /**
   * `revokeAccess` found a grant the approved revocation set does not list (or another key or
   * identity): it deleted nothing, and the run asks for approval of the new list.
   */
  RevocationSetChanged: 'RevocationSetChanged',
  /**
   * A rotation found the account on another key than its plan found: it moves nothing (the key
   * the plan named may have a new version); the fix is to plan again.
   */
  AccountKeyChanged: 'AccountKeyChanged',
  /** The account does not use a customer-managed key, so the operation has nothing to act on. */
  CmkNotEnabled: 'CmkNotEnabled',
  /** The chat service refused a post or update (e.g. the conversation or message is gone). */
  ChatDeliveryRejected: 'ChatDeliveryRejected',
  /** Azure rejected the request for a reason not classified above; the message carries Azure's. */
  AzureRequestRejected: 'AzureRequestRejected',
} as const;

/** One of {@link CMK_ERROR_TYPES}. */
export type CmkErrorType = (typeof CMK_ERROR_TYPES)[keyof typeof CMK_ERROR_TYPES];

/** For `RetryPolicy.nonRetryableErrorTypes`: a retry never heals these. */
export const NON_RETRYABLE_ERROR_TYPES: readonly CmkErrorType[] = Object.values(CMK_ERROR_TYPES);

/** Retryable failure types: throttling (after Retry-After) and transient Azure faults. */
export const RETRYABLE_ERROR_TYPES = {
  /** 429 from ARM or Key Vault; the failure carries `nextRetryDelay` from Retry-After. */
  AzureThrottled: 'AzureThrottled',
  /** 5xx, 408, timeouts and connection resets. */
  AzureUnavailable: 'AzureUnavailable',
  /** The chat transport could not deliver; retried. */
  ChatUnavailable: 'ChatUnavailable',
} as const;
