/**
 * Azure errors classified at the activity boundary: permanent ones become non-retryable
 * failures with a domain type and a message saying what to do; throttling and transient
 * faults stay retryable (throttling after Retry-After). The original error is kept as cause.
 */
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { CMK_ERROR_TYPES, RETRYABLE_ERROR_TYPES, type CmkErrorType } from '../shared/errors';
import { ValidationError } from '../shared/names';

/** What a failing call was about, so a 404 can say which resource is missing. */
export interface CallSubject {
  /** e.g. `account stcontoso`, `vault kv-contoso`, `key kv-contoso/cmk`. */
  what: string;
  /** Domain type for a 404 on this call. */
  notFound?: CmkErrorType;
}

/** The fields of a RestError (from any copy of core-rest-pipeline) that classification reads. */
interface RestErrorLike {
  name?: string;
  message?: string;
  code?: string;
  statusCode?: number;
  response?: { headers?: { get(name: string): string | undefined } };
  /** The headers of a 429 the pipeline did not let the SDK retry (no-blind-retry.ts). */
  throttledResponseHeaders?: { get(name: string): string | undefined };
  details?: unknown;
}

/** A domain failure that a retry will not heal. */
export function domainFailure(
  type: CmkErrorType,
  message: string,
  details: Record<string, unknown> = {},
  cause?: Error,
): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: [details], cause });
}

/** Turns any error thrown by an activity into what Temporal should see. Never leaks request headers. */
export function classifyError(error: unknown, subject?: CallSubject): Error {
  if (error instanceof ApplicationFailure || error instanceof CancelledFailure) return error;
  if (error instanceof ValidationError) {
    return domainFailure(CMK_ERROR_TYPES.InvalidInput, error.message, {
      field: error.field,
      rule: error.rule,
    });
  }
  const e = (error ?? {}) as RestErrorLike;
  if (e.name === 'AbortError') return error as Error;
  const status = e.statusCode;
  const code = e.code ?? innerCode(e.details) ?? '';
  const inner = innermostCode(e.details);
  const message = e.message ?? String(error);
  const cause = error instanceof Error ? error : new Error(message);
  const details = { statusCode: status, code, subject: subject?.what };
  const about = subject ? ` (${subject.what})` : '';

  if (status === 429) {
    return ApplicationFailure.create({
      type: RETRYABLE_ERROR_TYPES.AzureThrottled,
      message: `Azure throttled the request${about}; retrying after ${retryAfterMs(e) ?? 'the default backoff'} ms`,
      nonRetryable: false,
      nextRetryDelay: retryAfterMs(e),
      details: [details],
      cause,
    });
  }
  if (status === undefined && e.name !== 'RestError' && !isNetworkCode(code)) {
    // Nothing was sent or answered: a fault in this process (e.g. a client's pipeline refusing to
    // run) is reported as itself, never as Azure not answering, so its cause stays visible.
    return cause;
  }
  if (status === undefined || status === 408 || status >= 500 || isNetworkCode(code)) {
    return ApplicationFailure.create({
      type: RETRYABLE_ERROR_TYPES.AzureUnavailable,
      message: `Azure did not answer${about}: ${message}`,
      nonRetryable: false,
      details: [details],
      cause,
    });
  }
  const mapped = mapPermanent({ status, code, inner, message, subject });
  return domainFailure(
    mapped.type,
    `${mapped.message}${about}`,
    { ...details, azureMessage: message },
    cause,
  );
}

/** True for the storage RP's answer while a new key-access grant has not propagated yet. */
export function isKeyAccessPropagation(error: unknown): boolean {
  const e = (error ?? {}) as RestErrorLike;
  return e.code === 'KeyVaultAuthenticationFailure';
}

/** True for a Key Vault data-plane 403 (the runbook's own grant may still be propagating). */
export function isForbidden(error: unknown): boolean {
  const e = (error ?? {}) as RestErrorLike;
  return e.statusCode === 403;
}

/** True for a 404 from ARM or Key Vault. */
export function isNotFound(error: unknown): boolean {
  return ((error ?? {}) as RestErrorLike).statusCode === 404;
}

/** What a rule sees of a failed call that a retry will not heal. */
export interface SeenError {
  status: number;
  /** The error's code (or the body's `error.code`); '' when Azure sent none. */
  code: string;
  /** Key Vault's innermost `innererror.code`, e.g. `ForbiddenByFirewall` under `Forbidden`. */
  inner?: string;
  message: string;
  subject?: CallSubject;
}

/** One rule of the mapping: when it matches, the domain failure and the sentence a person reads. */
export interface ErrorRule {
  /** Names the rule in its test. */
  name: string;
  when: (seen: SeenError) => boolean;
  type: CmkErrorType;
  /** What is wrong and `Fix:` what to do. */
  message: string;
}

const T = CMK_ERROR_TYPES;
const UNSUPPORTED_KEY =
  'Azure Storage accepts RSA or RSA-HSM keys of 2048, 3072 or 4096 bits. Fix: choose such a key';

/**
 * Azure's permanent errors (status 4xx but 429/408), first match wins: the inner code before the
 * code, the code before the message, the status last. Sources: Azure Storage's CMK error codes
 * (storage/common/customer-managed-keys-configure-*), Key Vault's (key-vault/general/rest-error-codes,
 * network-security) and ARM's (azure-resource-manager/troubleshooting/error-codes).
 */
export const ERROR_RULES: readonly ErrorRule[] = [
  {
    // Key Vault's firewall refused the caller's address before any permission was looked at.
    name: 'vault firewall',
    when: (e) => e.inner === 'ForbiddenByFirewall',
    type: T.ForbiddenByFirewall,
    message:
      "The vault's firewall does not let the runbook's address in. Fix: add the worker's public IP or virtual network to the vault's firewall (`az keyvault network-rule add --ip-address <ip>`), or reach it through a private endpoint",
  },
  {
    name: 'soft-deleted key',
    when: (e) => e.inner === 'ObjectIsDeletedButRecoverable',
    type: T.KeySoftDeleted,
    message:
      'A soft-deleted key holds this name, so it cannot be created again. Fix: recover it (`az keyvault key recover --vault-name <vault> --name <key>`) or choose another key name',
  },
  {
    name: 'purge protection missing',
    when: (e) => e.code === 'KeyVaultPolicyError' || /recoverable is not set/i.test(e.message),
    type: T.PurgeProtectionMissing,
    message:
      'The vault needs soft delete and purge protection before Azure Storage can use its keys. Fix: let the runbook turn purge protection on (irreversible) or run `az keyvault update --enable-purge-protection true`',
  },
  {
    name: 'key access not granted',
    when: (e) => e.code === 'KeyVaultAuthenticationFailure',
    type: T.KeyAccessNotGranted,
    message:
      "The storage account's identity cannot use the key. Fix: grant it get, wrapKey and unwrapKey (access policy) or the role Key Vault Crypto Service Encryption User on the key, then run again",
  },
  {
    name: 'key disabled',
    when: (e) =>
      /disabled/i.test(e.code) || /disabled key|key is disabled|not allowed on a disabled/i.test(e.message),
    type: T.KeyDisabled,
    message:
      'The key version is disabled. Fix: enable it (`az keyvault key set-attributes --enabled true`) or choose another key',
  },
  {
    name: 'vault Azure Storage cannot find',
    when: (e) => e.code === 'KeyVaultVaultNotFound',
    type: T.VaultNotFound,
    message: 'Azure Storage cannot find the vault. Fix: check the vault URI, or restore the vault',
  },
  {
    name: 'key Azure Storage cannot find',
    when: (e) => e.code === 'KeyVaultEncryptionKeyNotFound',
    type: T.KeyNotFound,
    message:
      'Azure Storage cannot find the key (version). Fix: name an existing key, or recover the deleted one',
  },
  {
    name: 'key type Azure Storage refuses',
    when: (e) => e.code === 'KeyVaultKeyTypeNotSupported',
    type: T.UnsupportedKey,
    message: UNSUPPORTED_KEY,
  },
  {
    name: 'HSM key on a standard vault',
    when: (e) => /hardware key operation not allowed on standard vault/i.test(e.message),
    type: T.HsmNotSupportedOnStandardVault,
    message: 'RSA-HSM keys need a premium vault. Fix: choose RSA, or a premium-SKU vault',
  },
  {
    name: 'vault name taken',
    when: (e) => e.code === 'VaultAlreadyExists',
    type: T.VaultNameTaken,
    message: 'That vault name is already taken in Azure. Fix: choose another vault name',
  },
  {
    name: 'soft-deleted vault',
    when: (e) => e.code === 'ConflictError' && /deleted state/i.test(e.message),
    type: T.VaultSoftDeleted,
    message:
      'A soft-deleted vault holds this name. Fix: recover it (`az keyvault recover --name <vault>`) or choose another name',
  },
  {
    name: 'runbook not authorized',
    when: (e) =>
      e.code === 'AuthorizationFailed' ||
      e.code === 'LinkedAuthorizationFailed' ||
      e.status === 401 ||
      e.status === 403,
    type: T.AuthorizationFailed,
    message:
      "The runbook's identity is not allowed to do this. Fix: give it the needed Azure role (Storage Account Contributor, Key Vault Contributor, User Access Administrator, Key Vault Crypto Officer) or an access policy",
  },
  {
    name: 'key missing',
    when: (e) => e.code === 'KeyNotFound' || (e.status === 404 && e.subject?.notFound === T.KeyNotFound),
    type: T.KeyNotFound,
    message: 'The key does not exist in the vault. Fix: create it or name an existing key',
  },
  {
    name: 'account missing',
    when: (e) => e.status === 404 && e.subject?.notFound === T.AccountNotFound,
    type: T.AccountNotFound,
    message: 'The storage account does not exist. Fix: check the name, resource group and subscription',
  },
  {
    name: 'vault missing',
    when: (e) => e.status === 404 && e.subject?.notFound === T.VaultNotFound,
    type: T.VaultNotFound,
    message: 'The vault does not exist. Fix: check the name and resource group, or let the runbook create it',
  },
  {
    name: 'identity missing',
    when: (e) => e.status === 404 && e.subject?.notFound === T.IdentityNotFound,
    type: T.IdentityNotFound,
    message:
      'The user-assigned identity does not exist. Fix: create it or give the resource id of an existing one',
  },
  {
    name: 'creation-only setting',
    when: (e) =>
      /only be set (when|at|during)\b.*creat|cannot be (changed|updated|modified) after/i.test(e.message),
    type: T.CreationOnlySetting,
    message:
      'This setting can only be chosen when the storage account is created. Fix: create a new account with it',
  },
  {
    name: 'key type or size refused',
    when: (e) => e.status === 400 && /key.*(type|size)|kty|key_size/i.test(e.message),
    type: T.UnsupportedKey,
    message: UNSUPPORTED_KEY,
  },
];

/** The rule a permanent error falls under, if any (exported for its tests). */
export function ruleFor(seen: SeenError): ErrorRule | undefined {
  return ERROR_RULES.find((rule) => rule.when(seen));
}

function mapPermanent(seen: SeenError): { type: CmkErrorType; message: string } {
  const rule = ruleFor(seen);
  if (rule) return rule;
  if (seen.status === 404 && seen.subject?.notFound)
    return { type: seen.subject.notFound, message: 'The resource does not exist' };
  return {
    type: T.AzureRequestRejected,
    message: `Azure rejected the request: ${seen.code || seen.status}: ${seen.message}`,
  };
}

function innerCode(details: unknown): string | undefined {
  const error = (details as { error?: { code?: unknown } } | undefined)?.error;
  return typeof error?.code === 'string' ? error.code : undefined;
}

/** The deepest `innererror.code` of a Key Vault error (the SDK spells it `innerError`) (e.g. `ForbiddenByFirewall` under `Forbidden`). */
function innermostCode(details: unknown): string | undefined {
  type Node = { code?: unknown; innererror?: unknown; innerError?: unknown };
  const innerOf = (n: Node | undefined): Node | undefined =>
    (n?.innererror ?? n?.innerError) as Node | undefined;
  let node = innerOf((details as { error?: Node } | undefined)?.error);
  let found: string | undefined;
  while (node && typeof node === 'object') {
    if (typeof node.code === 'string') found = node.code;
    node = innerOf(node);
  }
  return found;
}

function isNetworkCode(code: string): boolean {
  return ['REQUEST_SEND_ERROR', 'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN'].includes(
    code,
  );
}

/** Retry-After (seconds or HTTP date) or retry-after-ms, in milliseconds. */
function retryAfterMs(e: RestErrorLike): number | undefined {
  const headers = e.response?.headers ?? e.throttledResponseHeaders;
  if (!headers) return undefined;
  const ms = Number(headers.get('retry-after-ms') ?? headers.get('x-ms-retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const raw = headers.get('retry-after');
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
