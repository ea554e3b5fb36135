/**
 * `rotateKey`: makes a new key version (tagged with the run, so a retry reuses it), moves
 * pinned accounts to it, and for versionless accounts polls `currentVersionedKeyIdentifier`
 * until Azure picks it up or the deadline passes ("pending Azure's daily check").
 */
import { ApplicationFailure } from '@temporalio/common';
import { parseKeyId, validateAccountRef, type AccountRef } from '../shared/accounts';
import type { RotationResult } from '../shared/activities';
import { CMK_ERROR_TYPES } from '../shared/errors';
import { ValidationError } from '../shared/names';
import { encryptionOf, getAccount } from './azure-state';
import type { ActivityDeps } from './deps';
import { applyKeyTarget } from './encryption';
import { domainFailure } from './errors';
import { assertUsableKey, findKey, keySizeOf } from './keys';
import { abortSignal, call, heartbeat, sleep } from './runtime';

/** Tag naming the run that made a rotation's version. */
const ROTATION_TAG = 'cmk-runbook-rotation';
/** Tag keeping the version the account used before, so a retry still reports it. */
const PREVIOUS_TAG = 'cmk-runbook-previous';

/** See the module comment. */
export async function rotateKey(
  deps: ActivityDeps,
  input: { account: AccountRef; runId: string; confirmWithinMs: number },
): Promise<RotationResult> {
  const ref = validateAccountRef(input.account);
  if (typeof input.runId !== 'string' || !input.runId)
    throw new ValidationError('runId', 'the workflow run id is required');
  if (!Number.isFinite(input.confirmWithinMs) || input.confirmWithinMs < 0) {
    throw new ValidationError(
      'confirmWithinMs',
      'a non-negative number of milliseconds',
      input.confirmWithinMs,
    );
  }
  const account = await getAccount(deps, ref);
  const enc = encryptionOf(account);
  if (enc.keySource !== 'Microsoft.Keyvault' || !enc.vaultUri || !enc.keyName) {
    throw domainFailure(
      CMK_ERROR_TYPES.CmkNotEnabled,
      `Account ${ref.name} does not use a customer-managed key. Fix: configure CMK first`,
      { account: ref.name },
    );
  }
  const vaultUri = enc.vaultUri;
  const keyName = enc.keyName;
  const vaultName = parseKeyId(`${vaultUri}keys/${keyName}`).vaultName;
  const latest = await findKey(deps, vaultUri, keyName);
  if (!latest) {
    throw domainFailure(
      CMK_ERROR_TYPES.KeyNotFound,
      `Key ${vaultName}/${keyName} no longer exists. Fix: recover it (\`az keyvault key recover\`) or change the account's key`,
      { key: keyName },
    );
  }
  const inUse = enc.currentVersionedKeyId
    ? parseKeyId(enc.currentVersionedKeyId).version
    : enc.keyVersion || undefined;
  const ownRetry = latest.properties.tags?.[ROTATION_TAG] === input.runId;
  const previousVersion = ownRetry ? latest.properties.tags?.[PREVIOUS_TAG] : inUse;
  let fresh = latest;
  if (!ownRetry) {
    assertUsableKey(latest, vaultName);
    fresh = await call({ what: `key ${vaultName}/${keyName}`, notFound: CMK_ERROR_TYPES.KeyNotFound }, () =>
      deps.azure.keys(vaultUri).createRsaKey(keyName, {
        hsm: latest.keyType === 'RSA-HSM',
        keySize: keySizeOf(latest),
        tags: {
          ...latest.properties.tags,
          [ROTATION_TAG]: input.runId,
          ...(previousVersion ? { [PREVIOUS_TAG]: previousVersion } : {}),
        },
        abortSignal: abortSignal(),
      }),
    );
  }
  const newVersion = fresh.properties.version ?? '';
  heartbeat({ step: 'rotate', newVersion });

  if (enc.keyVersion) {
    const encryption = await applyKeyTarget(
      deps,
      ref,
      {
        vaultUri,
        keyName,
        keyVersion: newVersion,
        identity: enc.identity ?? 'SystemAssigned',
      },
      // A version this attempt made is enabled; one a lost attempt made is checked again.
      { account, keyJustCreated: !ownRetry },
    );
    return result(newVersion, previousVersion, 'moved', encryption);
  }
  const deadline = Date.now() + input.confirmWithinMs;
  let encryption = enc;
  for (;;) {
    // The new version exists; a throttled or failed poll must not fail the rotation (its retry
    // would find the version by its tag anyway), so transient read errors only skip a poll.
    const read = await pollAccount(deps, ref);
    if (read) encryption = encryptionOf(read);
    const inUse = encryption.currentVersionedKeyId
      ? parseKeyId(encryption.currentVersionedKeyId).version
      : undefined;
    if (inUse === newVersion) return result(newVersion, previousVersion, 'confirmed', encryption);
    const left = deadline - Date.now();
    if (left <= 0) return result(newVersion, previousVersion, 'pending', encryption);
    heartbeat({ step: 'rotate', newVersion, waitingFor: 'Azure to pick up the new version', inUse });
    await sleep(Math.min(deps.timing.rotationPollMs, left));
  }
}

/** The account, or undefined when this read failed in a way a later poll may not. */
async function pollAccount(
  deps: ActivityDeps,
  ref: AccountRef,
): Promise<Awaited<ReturnType<typeof getAccount>> | undefined> {
  try {
    return await getAccount(deps, ref);
  } catch (error) {
    if (error instanceof ApplicationFailure && !error.nonRetryable) return undefined;
    throw error;
  }
}

function result(
  newVersion: string,
  previousVersion: string | undefined,
  accountState: RotationResult['accountState'],
  encryption: RotationResult['encryption'],
): RotationResult {
  return { newVersion, ...(previousVersion ? { previousVersion } : {}), accountState, encryption };
}
