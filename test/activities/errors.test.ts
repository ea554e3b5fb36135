import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createHttpHeaders, createPipelineRequest, RestError } from '@azure/core-rest-pipeline';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { classifyError, ERROR_RULES, ruleFor, type CallSubject } from '../../src/activities/errors';
import { CMK_ERROR_TYPES, NON_RETRYABLE_ERROR_TYPES } from '../../src/shared/errors';
import { SUB, startHarness } from './harness';
import { beforeAll } from '../kit/suite';

function restError(
  statusCode: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): RestError {
  const request = createPipelineRequest({
    url: 'https://management.azure.com/x',
    headers: createHttpHeaders({ authorization: 'Bearer eyJ-not-a-real-token' }),
  });
  return new RestError(message, {
    code,
    statusCode,
    request,
    response: { status: statusCode, headers: createHttpHeaders(headers), request },
  });
}

describe('classifying Azure errors', () => {
  const cases: Array<
    [string, RestError, string, { notFound?: (typeof NON_RETRYABLE_ERROR_TYPES)[number] }?]
  > = [
    [
      'vault without purge protection',
      restError(400, 'KeyVaultPolicyError', 'Keyvault policy recoverable is not set'),
      'PurgeProtectionMissing',
    ],
    [
      'identity without key rights',
      restError(
        400,
        'KeyVaultAuthenticationFailure',
        'The operation failed because of authentication issue on the keyvault.',
      ),
      'KeyAccessNotGranted',
    ],
    [
      'disabled key',
      restError(403, 'Forbidden', 'Operation get is not allowed on a disabled key.'),
      'KeyDisabled',
    ],
    [
      'missing key',
      restError(404, 'KeyNotFound', 'A key with (name/id) k was not found in this key vault.'),
      'KeyNotFound',
    ],
    [
      'missing vault',
      restError(404, 'ResourceNotFound', 'not found'),
      'VaultNotFound',
      { notFound: 'VaultNotFound' },
    ],
    [
      'missing account',
      restError(404, 'ResourceNotFound', 'not found'),
      'AccountNotFound',
      { notFound: 'AccountNotFound' },
    ],
    [
      'missing identity',
      restError(404, 'ResourceNotFound', 'not found'),
      'IdentityNotFound',
      { notFound: 'IdentityNotFound' },
    ],
    [
      'vault name taken',
      restError(409, 'VaultAlreadyExists', 'The vault name is already in use.'),
      'VaultNameTaken',
    ],
    [
      'soft-deleted vault',
      restError(409, 'ConflictError', 'A vault with the same name already exists in deleted state.'),
      'VaultSoftDeleted',
    ],
    [
      'HSM on standard',
      restError(400, 'BadParameter', 'Hardware key operation not allowed on standard vault'),
      'HsmNotSupportedOnStandardVault',
    ],
    [
      'unsupported key',
      restError(400, 'BadParameter', 'The key type EC is not supported: key size 256'),
      'UnsupportedKey',
    ],
    [
      'creation-only setting',
      restError(
        400,
        'InvalidRequestPropertyValue',
        'requireInfrastructureEncryption can only be set at account creation',
      ),
      'CreationOnlySetting',
    ],
    [
      'no ARM rights',
      restError(403, 'AuthorizationFailed', 'The client does not have authorization to perform action'),
      'AuthorizationFailed',
    ],
    [
      'vault Azure Storage cannot find',
      restError(400, 'KeyVaultVaultNotFound', "The key vault 'https://kv-x.vault.azure.net/' was not found."),
      'VaultNotFound',
    ],
    [
      'key Azure Storage cannot find',
      restError(
        400,
        'KeyVaultEncryptionKeyNotFound',
        'The key vault key is not found to unwrap the encryption key.',
      ),
      'KeyNotFound',
    ],
    [
      'key type storage refuses',
      restError(
        400,
        'KeyVaultKeyTypeNotSupported',
        'Only RSA and RSA-HSM keys of size 2048, 3072 or 4096 are supported.',
      ),
      'UnsupportedKey',
    ],
    [
      'creation-only property',
      restError(
        400,
        'InvalidRequestPropertyValue',
        "The property 'encryption.services.queue.keyType' can only be set when the storage account is created.",
      ),
      'CreationOnlySetting',
    ],
  ];
  for (const [what, error, type, subject] of cases) {
    test(`when Azure reports a ${what}, then the failure is non-retryable ${type} with a fix and the cause kept`, () => {
      const failure = classifyError(
        error,
        subject ? { what: 'x', ...subject } : undefined,
      ) as ApplicationFailure;
      assert.ok(failure instanceof ApplicationFailure);
      assert.equal(failure.type, type);
      assert.equal(failure.nonRetryable, true);
      assert.ok(NON_RETRYABLE_ERROR_TYPES.includes(type as (typeof NON_RETRYABLE_ERROR_TYPES)[number]));
      assert.match(failure.message, /Fix:|rejected/);
      assert.equal(failure.cause, error);
      assert.doesNotMatch(JSON.stringify(failure.details) + failure.message, /eyJ-not-a-real-token/);
    });
  }

  /** A Key Vault error whose innermost `innererror.code` is `inner` (the SDK keeps the body as details). */
  const keyVaultError = (status: number, code: string, inner: string, message: string): RestError =>
    Object.assign(restError(status, code, message), {
      details: { error: { code, message, innererror: { code: inner } } },
    });
  // One Azure answer per rule of the table, as Azure words it.
  const byRule: Record<string, [RestError, CallSubject?]> = {
    'vault firewall': [
      keyVaultError(
        403,
        'Forbidden',
        'ForbiddenByFirewall',
        'Client address is not authorized and caller is not a trusted service.',
      ),
    ],
    'soft-deleted key': [
      keyVaultError(
        409,
        'Conflict',
        'ObjectIsDeletedButRecoverable',
        'Key k is currently in a deleted but recoverable state.',
      ),
    ],
    'purge protection missing': [
      restError(400, 'KeyVaultPolicyError', 'Keyvault policy recoverable is not set'),
    ],
    'key access not granted': [
      restError(
        400,
        'KeyVaultAuthenticationFailure',
        'The operation failed because of authentication issue on the keyvault.',
      ),
    ],
    'key disabled': [restError(403, 'Forbidden', 'Operation get is not allowed on a disabled key.')],
    'vault Azure Storage cannot find': [
      restError(400, 'KeyVaultVaultNotFound', "The key vault 'https://kv-x.vault.azure.net/' was not found."),
    ],
    'key Azure Storage cannot find': [
      restError(
        400,
        'KeyVaultEncryptionKeyNotFound',
        'The key vault key is not found to unwrap the encryption key.',
      ),
    ],
    'key type Azure Storage refuses': [
      restError(
        400,
        'KeyVaultKeyTypeNotSupported',
        'Only RSA and RSA-HSM keys of size 2048, 3072 or 4096 are supported.',
      ),
    ],
    'HSM key on a standard vault': [
      restError(400, 'BadParameter', 'Hardware key operation not allowed on standard vault'),
    ],
    'vault name taken': [restError(409, 'VaultAlreadyExists', 'The vault name is already in use.')],
    'soft-deleted vault': [
      restError(409, 'ConflictError', 'A vault with the same name already exists in deleted state.'),
    ],
    'runbook not authorized': [
      restError(
        403,
        'LinkedAuthorizationFailed',
        'The client has permission to perform action on scope, but not on the linked scope.',
      ),
    ],
    'key missing': [restError(404, 'NotFound', 'not found'), { what: 'key kv/k', notFound: 'KeyNotFound' }],
    'account missing': [
      restError(404, 'ResourceNotFound', 'not found'),
      { what: 'account st', notFound: 'AccountNotFound' },
    ],
    'vault missing': [
      restError(404, 'ResourceNotFound', 'not found'),
      { what: 'vault kv', notFound: 'VaultNotFound' },
    ],
    'identity missing': [
      restError(404, 'ResourceNotFound', 'not found'),
      { what: 'identity id', notFound: 'IdentityNotFound' },
    ],
    'creation-only setting': [
      restError(
        400,
        'InvalidRequestPropertyValue',
        'requireInfrastructureEncryption can only be set at account creation',
      ),
    ],
    'key type or size refused': [
      restError(400, 'BadParameter', 'The key type EC is not supported: key size 256'),
    ],
  };

  test('when the rule table is read, then every rule has an Azure answer that proves it here', () => {
    assert.deepEqual(ERROR_RULES.map((r) => r.name).sort(), Object.keys(byRule).sort());
  });
  for (const rule of ERROR_RULES) {
    test(`when Azure answers as the rule "${rule.name}" describes, then that rule and no earlier one decides: non-retryable ${rule.type} with its fix`, () => {
      const [error, subject] = byRule[rule.name] ?? [restError(400, '', '')];
      const failure = classifyError(error, subject) as ApplicationFailure;
      assert.equal(failure.type, rule.type);
      assert.equal(failure.nonRetryable, true);
      assert.ok(failure.message.startsWith(rule.message), failure.message);
      assert.match(rule.message, /Fix: /);
      const seen = {
        status: error.statusCode!,
        code: error.code ?? '',
        message: error.message,
        inner: (error.details as { error?: { innererror?: { code?: string } } } | undefined)?.error
          ?.innererror?.code,
        ...(subject ? { subject } : {}),
      };
      assert.equal(ruleFor(seen)?.name, rule.name);
    });
  }

  test('when no rule matches a 4xx, then the failure says Azure rejected the request and quotes its code and message', () => {
    const failure = classifyError(
      restError(400, 'InvalidParameter', 'The tag name is invalid.'),
    ) as ApplicationFailure;
    assert.equal(failure.type, 'AzureRequestRejected');
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /Azure rejected the request: InvalidParameter: The tag name is invalid\./);
  });

  test('when Azure throttles with Retry-After, then the failure is retryable after that delay', () => {
    const failure = classifyError(
      restError(429, 'SubscriptionRequestsThrottled', 'Number of read requests exceeded', {
        'retry-after': '7',
      }),
    ) as ApplicationFailure;
    assert.equal(failure.type, 'AzureThrottled');
    assert.equal(failure.nonRetryable, false);
    assert.equal(failure.nextRetryDelay, 7_000);
  });

  test('when Azure answers 503 or the connection drops, then the failure is retryable', () => {
    for (const error of [
      restError(503, 'ServiceUnavailable', 'busy'),
      new RestError('socket hang up', { code: 'ECONNRESET' }),
    ]) {
      const failure = classifyError(error) as ApplicationFailure;
      assert.equal(failure.type, 'AzureUnavailable');
      assert.equal(failure.nonRetryable, false);
    }
  });

  test('when a client fails before anything reached Azure, then the error keeps its own name and message instead of blaming Azure', () => {
    // What storage-blob threw when a policy was added twice to its shared pipeline.
    const broken = new Error('Duplicate policy names not allowed in pipeline');
    assert.equal(classifyError(broken, { what: 'blob data plane' }), broken);
    const timeout = classifyError(new RestError('timed out', { code: 'REQUEST_SEND_ERROR' }));
    assert.equal((timeout as ApplicationFailure).type, 'AzureUnavailable', 'a request Azure never answered');
  });

  test('every domain type is in the non-retryable list workflows use', () => {
    assert.deepEqual([...NON_RETRYABLE_ERROR_TYPES].sort(), Object.values(CMK_ERROR_TYPES).sort());
  });
});

describe('failures against the local Azure', () => {
  const h = beforeAll(() => startHarness());

  test('when the account does not exist, then the activity fails with AccountNotFound and says how to fix it', async () => {
    await assert.rejects(
      h.run((a) =>
        a.assignIdentity({
          account: { subscriptionId: SUB, resourceGroup: 'rg-storage', name: 'stmissing1' },
          identity: { type: 'SystemAssigned' },
        }),
      ),
      (error: Error & { type?: string }) => error.type === 'AccountNotFound' && /Fix:/.test(error.message),
    );
  });

  test('when a short throttling storm hits, then the SDK waits out Retry-After and the activity succeeds', async () => {
    const account = h.newAccount();
    h.local.faults.set({
      routes: [
        {
          method: 'GET',
          pathPattern: `storageAccounts/${account.name}`,
          status: 429,
          code: 'SubscriptionRequestsThrottled',
          times: 2,
          retryAfterSeconds: 0,
        },
      ],
    });
    try {
      const identity = await h.run((a) =>
        a.assignIdentity({ account, identity: { type: 'SystemAssigned' } }),
      );
      assert.equal(identity.changed, true);
    } finally {
      h.local.faults.reset();
    }
  });

  test('when throttling outlasts the SDK retries, then the activity fails retryably with Retry-After as the next delay', async () => {
    const account = h.newAccount();
    h.local.faults.set({
      routes: [
        {
          pathPattern: `storageAccounts/${account.name}`,
          status: 429,
          code: 'SubscriptionRequestsThrottled',
          retryAfterSeconds: 0,
        },
      ],
    });
    try {
      await assert.rejects(
        h.run((a) => a.disableCmk({ account })),
        (error: ApplicationFailure) => error.type === 'AzureThrottled' && error.nonRetryable === false,
      );
    } finally {
      h.local.faults.reset();
    }
  });

  test('when Azure keeps answering 503, then the activity fails retryably and keeps the cause', async () => {
    const account = h.newAccount();
    h.local.faults.set({
      routes: [{ pathPattern: `storageAccounts/${account.name}`, status: 503, code: 'ServiceUnavailable' }],
    });
    try {
      await assert.rejects(
        h.run((a) => a.disableCmk({ account })),
        (error: ApplicationFailure) =>
          error.type === 'AzureUnavailable' && !error.nonRetryable && error.cause !== undefined,
      );
    } finally {
      h.local.faults.reset();
    }
  });

  test('when the runbook lacks rights, then the activity fails with AuthorizationFailed', async () => {
    const account = h.newAccount();
    h.local.faults.set({
      routes: [
        {
          method: 'PATCH',
          pathPattern: `storageAccounts/${account.name}`,
          status: 403,
          code: 'AuthorizationFailed',
        },
      ],
    });
    try {
      await assert.rejects(
        h.run((a) => a.assignIdentity({ account, identity: { type: 'SystemAssigned' } })),
        { type: 'AuthorizationFailed', nonRetryable: true },
      );
    } finally {
      h.local.faults.reset();
    }
  });

  test('when a probe waits for a revocation that never comes and the activity is cancelled, then it stops with a cancellation and its heartbeats hold no secrets', async () => {
    const account = h.newAccount();
    const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 60_000 });
    const beats: unknown[] = [];
    env.on('heartbeat', (details: unknown) => {
      beats.push(details);
      if (beats.length === 2) env.cancel();
    });
    await assert.rejects(
      env.run(() => h.activities.probeDataAccess({ account, expect: 'denied', withinMs: 60_000 })),
      (error: Error) => error.name === 'CancelledFailure',
    );
    assert.ok(beats.length >= 2);
    assert.doesNotMatch(JSON.stringify(beats), /secret|token|eyJ/i);
  });

  test('when a rotation policy breaks Azure minimums, then the error names the field and the minimum', async () => {
    const account = h.newAccount();
    await assert.rejects(
      h.run((a) => a.setRotationPolicy({ account, rotateAfter: '3d' })),
      (error: Error & { type?: string }) =>
        error.type === 'InvalidInput' && /rotateAfter: must be at least 7 days/.test(error.message),
    );
    await assert.rejects(
      h.run((a) => a.setRotationPolicy({ account, notifyBeforeExpiry: '30d' })),
      /notifyBeforeExpiry: needs expiresAfter/,
    );
    await assert.rejects(
      h.run((a) => a.setRotationPolicy({ account, expiresAfter: '14d' })),
      /expiresAfter: must be at least 28 days/,
    );
  });
});
