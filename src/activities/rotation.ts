/**
 * `rotateKey`: makes a new key version through Key Vault's rotate operation (so the key's
 * rotation policy sets its expiry), tags it with the rotation so a retry, or another account
 * of the same fleet on the same key, reuses it instead of making another; moves pinned accounts
 * to it, and for versionless accounts polls `currentVersionedKeyIdentifier` until Azure picks
 * it up or the deadline passes ("pending Azure's daily check").
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { StorageAccount } from '@azure/arm-storage';
import type { KeyVaultKey } from '@azure/keyvault-keys';
import { accountId, parseKeyId, validateAccountRef, type AccountRef } from '../shared/accounts';
import type { KeyVersionMade, PlannedKey, RotationResult } from '../shared/activities';
import { CMK_ERROR_TYPES } from '../shared/errors';
import type { EncryptionSettings } from '../shared/plan';
import { ValidationError } from '../shared/names';
import { encryptionOf, getAccount, keyInUseOf } from './azure-state';
import type { ActivityDeps } from './deps';
import { applyKeyTarget } from './encryption';
import { versionInUse } from './key-versions';
import { domainFailure } from './errors';
import { assertTagRoom, assertUsableKey, findKey, PREVIOUS_TAG, ROTATION_TAG, withoutOwnTags } from './keys';
import { abortSignal, call, heartbeat, sleep } from './runtime';

/** Key Vault's `created` is in whole seconds: a version made in the same second counts as after. */
const KEY_VAULT_SECOND_MS = 1_000;

/** What `rotateKey` is asked: the account, the run, the rotation's tag and how long to wait for Azure. */
export interface RotateKeyInput {
  account: AccountRef;
  runId: string;
  rotationId?: string;
  confirmWithinMs: number;
  adoptCreatedAfterMs?: number;
  /** The key the run's plan found the account on (see {@link CmkActivities.rotateKey}). */
  plannedKey?: PlannedKey;
}

/** The key an account uses, found in its vault, with the version the account uses now. */
interface KeyInUse {
  vaultUri: string;
  keyName: string;
  vaultName: string;
  latest: KeyVaultKey;
  /** The version the account uses now (none for a versionless account Azure has not resolved). */
  inUse: string | undefined;
}

/** The version a rotation ends on, and how it came to be. */
interface NewVersion {
  key: KeyVaultKey;
  previousVersion?: string;
  /** This rotation's retry found its own version. */
  ownRetry: boolean;
  /** A version made within the schedule's period by another rotation was taken. */
  adopted: boolean;
}

/** See the module comment. */
export async function rotateKey(deps: ActivityDeps, input: RotateKeyInput): Promise<RotationResult> {
  const ref = validateAccountRef(input.account);
  validateRotateInput(input);
  const planned = validPlannedKey(input.plannedKey);
  const { account, enc, key } = await accountAndKey(deps, ref, planned);
  const made = await newKeyVersion(deps, key, input);
  const newVersion = made.key.properties.version ?? '';
  heartbeat({ step: 'rotate', newVersion });
  const { previousVersion, adopted } = made;
  if (enc.keyVersion) {
    const encryption = await applyKeyTarget(
      deps,
      ref,
      {
        vaultUri: key.vaultUri,
        keyName: key.keyName,
        keyVersion: newVersion,
        identity: enc.identity ?? 'SystemAssigned',
      },
      // A version this attempt made is enabled; one found by its tag was read just now.
      made.ownRetry || made.adopted ? { account, keyJustRead: made.key } : { account, keyJustCreated: true },
    );
    return result(newVersion, previousVersion, 'moved', encryption, adopted);
  }
  const seen = await awaitPickup(deps, ref, enc, newVersion, input.confirmWithinMs);
  return result(newVersion, previousVersion, seen.accountState, seen.encryption, adopted);
}

/**
 * Key Vault's half of a rotation (see {@link CmkActivities.makeKeyVersion}): the same decision as
 * {@link rotateKey} up to the new version, so a retry of either, or the `rotateKey` that follows,
 * finds the version by the rotation's tag instead of making another. Given the plan's key it
 * reads no account: ARM's read budget is spent once per rotation, by `rotateKey`, which refuses to
 * move an account that left that key meanwhile.
 */
export async function makeKeyVersion(deps: ActivityDeps, input: RotateKeyInput): Promise<KeyVersionMade> {
  const ref = validateAccountRef(input.account);
  validateRotateInput(input);
  const planned = validPlannedKey(input.plannedKey);
  const key = planned
    ? await findKeyInUse(deps, planned)
    : await keyInUse(deps, ref, encryptionOf(await getAccount(deps, ref)));
  const made = await newKeyVersion(deps, key, input);
  return { newVersion: made.key.properties.version ?? '', made: !made.ownRetry && !made.adopted };
}

/** The plan's key, checked as any input is: a Key Vault key URI's parts, or a clear error. */
function validPlannedKey(planned: PlannedKey | undefined): PlannedKey | undefined {
  if (planned === undefined) return undefined;
  if (typeof planned?.vaultUri !== 'string' || typeof planned.keyName !== 'string')
    throw new ValidationError('plannedKey', 'the vault URI and key name the plan found', planned);
  parseKeyId(`${planned.vaultUri}keys/${planned.keyName}`);
  if (planned.inUse !== undefined && typeof planned.inUse !== 'string')
    throw new ValidationError('plannedKey.inUse', 'a key version', planned.inUse);
  return planned;
}

/** `AccountKeyChanged` when the account now uses another key than its plan found (or none). */
function assertStillOnPlannedKey(ref: AccountRef, enc: EncryptionSettings, planned: PlannedKey): void {
  const same =
    enc.keySource === 'Microsoft.Keyvault' &&
    enc.vaultUri?.toLowerCase() === planned.vaultUri.toLowerCase() &&
    enc.keyName?.toLowerCase() === planned.keyName.toLowerCase();
  if (same) return;
  const was = parseKeyId(`${planned.vaultUri}keys/${planned.keyName}`);
  const now =
    enc.keySource === 'Microsoft.Keyvault' && enc.vaultUri && enc.keyName
      ? `key ${parseKeyId(`${enc.vaultUri}keys/${enc.keyName}`).vaultName}/${enc.keyName}`
      : 'Microsoft-managed keys';
  throw domainFailure(
    CMK_ERROR_TYPES.AccountKeyChanged,
    `Account ${ref.name} now uses ${now}, not key ${was.vaultName}/${planned.keyName} as planned; it was not moved. Fix: rotate it again to plan on the key it uses now`,
    { account: ref.name, key: planned.keyName },
  );
}

/**
 * The account and its key's newest version. Given the plan's key, both are read at once (the
 * write waits on one round trip, not two); the account is still checked against that key before
 * the key read counts, so an account that left it fails as `AccountKeyChanged` whatever the key
 * read says. Without a plan, the account says which key to read.
 */
async function accountAndKey(
  deps: ActivityDeps,
  ref: AccountRef,
  planned: PlannedKey | undefined,
): Promise<{ account: StorageAccount; enc: EncryptionSettings; key: KeyInUse }> {
  if (!planned) {
    const account = await getAccount(deps, ref);
    const enc = encryptionOf(account);
    return { account, enc, key: await keyInUse(deps, ref, enc) };
  }
  const [read, found] = await Promise.allSettled([getAccount(deps, ref), findKeyInUse(deps, planned)]);
  if (read.status === 'rejected') throw read.reason;
  const account = read.value;
  const enc = encryptionOf(account);
  assertStillOnPlannedKey(ref, enc, planned);
  if (found.status === 'rejected') throw found.reason;
  // The account's own spelling of its key and the version it uses, as a read of the account gives them.
  return {
    account,
    enc,
    key: { ...found.value, vaultUri: enc.vaultUri!, keyName: enc.keyName!, inUse: versionInUse(enc) },
  };
}

/** The input's own checks, before any call to Azure. */
function validateRotateInput(input: RotateKeyInput): void {
  if (typeof input.runId !== 'string' || !input.runId)
    throw new ValidationError('runId', 'the workflow run id is required');
  if (!Number.isFinite(input.confirmWithinMs) || input.confirmWithinMs < 0) {
    throw new ValidationError(
      'confirmWithinMs',
      'a non-negative number of milliseconds',
      input.confirmWithinMs,
    );
  }
  if (
    input.rotationId !== undefined &&
    (typeof input.rotationId !== 'string' || input.rotationId.length > 256)
  )
    throw new ValidationError('rotationId', 'a tag value of at most 256 characters', input.rotationId);
  const adoptAfter = input.adoptCreatedAfterMs;
  if (adoptAfter !== undefined && !Number.isFinite(adoptAfter))
    throw new ValidationError('adoptCreatedAfterMs', 'a time in milliseconds since the epoch', adoptAfter);
}

/** The account's key and its newest version; a clear failure when the account has no CMK or the key is gone. */
async function keyInUse(deps: ActivityDeps, ref: AccountRef, enc: EncryptionSettings): Promise<KeyInUse> {
  if (enc.keySource !== 'Microsoft.Keyvault' || !enc.vaultUri || !enc.keyName) {
    throw domainFailure(
      CMK_ERROR_TYPES.CmkNotEnabled,
      `Account ${ref.name} does not use a customer-managed key. Fix: configure CMK first`,
      { account: ref.name },
    );
  }
  const inUse = versionInUse(enc);
  return findKeyInUse(deps, { vaultUri: enc.vaultUri, keyName: enc.keyName, ...(inUse ? { inUse } : {}) });
}

/** The key's newest version in its vault; `KeyNotFound` when the key is gone. */
async function findKeyInUse(deps: ActivityDeps, { vaultUri, keyName, inUse }: PlannedKey): Promise<KeyInUse> {
  const vaultName = parseKeyId(`${vaultUri}keys/${keyName}`).vaultName;
  const latest = await findKey(deps, vaultUri, keyName);
  if (!latest) {
    throw domainFailure(
      CMK_ERROR_TYPES.KeyNotFound,
      `Key ${vaultName}/${keyName} no longer exists. Fix: recover it (\`az keyvault key recover\`) or change the account's key`,
      { key: keyName },
    );
  }
  return { vaultUri, keyName, vaultName, latest, inUse };
}

/**
 * The version this rotation ends on: its own from an earlier attempt, one made within the
 * schedule's period by another rotation of this runbook (adopted), or a new one rotated and tagged.
 */
async function newKeyVersion(deps: ActivityDeps, key: KeyInUse, input: RotateKeyInput): Promise<NewVersion> {
  const { latest, inUse } = key;
  const adoptAfter = input.adoptCreatedAfterMs;
  const rotationId = input.rotationId || input.runId;
  const ownRetry = latest.properties.tags?.[ROTATION_TAG] === rotationId;
  // A schedule's period: the key's newest version, made within it by a rotation of this
  // runbook (another account's schedule, a fleet, a chat rotation: its tag says so), is this
  // period's rotation of the key; it is adopted. A key merely created within it still rotates.
  const adopted =
    !ownRetry &&
    adoptAfter !== undefined &&
    latest.properties.tags?.[ROTATION_TAG] !== undefined &&
    (latest.properties.createdOn?.getTime() ?? 0) >= adoptAfter;
  const previousVersion =
    ownRetry || (adopted && inUse === latest.properties.version)
      ? latest.properties.tags?.[PREVIOUS_TAG]
      : inUse;
  const made = ownRetry || adopted ? latest : await rotateAndTag(deps, key, rotationId, previousVersion);
  return { key: made, ownRetry, adopted, ...(previousVersion ? { previousVersion } : {}) };
}

/** Rotates the key (unless a lost attempt already did) and tags the new version with the rotation. */
async function rotateAndTag(
  deps: ActivityDeps,
  key: KeyInUse,
  rotationId: string,
  previousVersion: string | undefined,
): Promise<KeyVaultKey> {
  const { vaultUri, keyName, vaultName, latest } = key;
  const subject = { what: `key ${vaultName}/${keyName}`, notFound: CMK_ERROR_TYPES.KeyNotFound };
  assertUsableKey(latest, vaultName, { dates: false });
  assertTagRoom(latest, vaultName);
  // A lost attempt may have rotated and stopped before tagging: its first heartbeat named the
  // version it rotated from, so a newer untagged version is that attempt's, not a reason to
  // make another.
  // When that heartbeat did not reach Temporal, a version Key Vault made after this activity
  // was first scheduled, and not the one the account uses, is taken as that attempt's.
  const info = Context.current().info;
  const from = (info.heartbeatDetails as { rotatingFrom?: string } | undefined)?.rotatingFrom;
  const createdMs = latest.properties.createdOn?.getTime() ?? 0;
  const lostAttempt =
    from !== undefined
      ? latest.properties.version !== from
      : info.attempt > 1 &&
        createdMs + KEY_VAULT_SECOND_MS > info.scheduledTimestampMs &&
        latest.properties.version !== key.inUse;
  heartbeat({ step: 'rotate', rotatingFrom: lostAttempt ? from : latest.properties.version });
  const rotated = lostAttempt
    ? latest
    : await call(subject, () => deps.azure.keys(vaultUri).rotateKey(keyName, { abortSignal: abortSignal() }));
  heartbeat({ step: 'rotate', newVersion: rotated.properties.version });
  return call(subject, () =>
    deps.azure.keys(vaultUri).updateKeyProperties(keyName, rotated.properties.version ?? '', {
      tags: {
        ...withoutOwnTags(latest.properties.tags),
        [ROTATION_TAG]: rotationId,
        ...(previousVersion ? { [PREVIOUS_TAG]: previousVersion } : {}),
      },
      abortSignal: abortSignal(),
    }),
  );
}

/**
 * A versionless account, polled until Azure uses `newVersion` (`confirmed`) or `withinMs` has
 * passed (`pending` Azure's daily check). The new version exists; a throttled or failed poll must
 * not fail the rotation (its retry would find the version by its tag anyway), so transient read
 * errors only skip a poll.
 */
async function awaitPickup(
  deps: ActivityDeps,
  ref: AccountRef,
  before: EncryptionSettings,
  newVersion: string,
  withinMs: number,
): Promise<{ accountState: 'confirmed' | 'pending'; encryption: EncryptionSettings }> {
  const deadline = Date.now() + withinMs;
  let encryption = before;
  for (;;) {
    const read = await pollAccount(deps, ref);
    if (read) encryption = encryptionOf(read);
    const inUse = encryption.currentVersionedKeyId
      ? parseKeyId(encryption.currentVersionedKeyId).version
      : undefined;
    if (inUse === newVersion) return { accountState: 'confirmed', encryption };
    const left = deadline - Date.now();
    if (left <= 0) return { accountState: 'pending', encryption };
    heartbeat({ step: 'rotate', newVersion, waitingFor: 'Azure to pick up the new version', inUse });
    await sleep(Math.min(deps.timing.rotationPollMs, left));
  }
}

/**
 * See {@link CmkActivities.keysInUse}. A subscription's accounts are read from its account list,
 * a page of many accounts for one ARM read, while that costs fewer reads than reading the
 * accounts left one by one; those are then read a few at a time. Heartbeats as it goes.
 */
export async function keysInUse(
  deps: ActivityDeps,
  input: { accounts: AccountRef[] },
): Promise<(string | null)[]> {
  if (!Array.isArray(input?.accounts)) throw new ValidationError('accounts', 'a list of storage accounts');
  const keys: (string | null)[] = new Array<string | null>(input.accounts.length).fill(null);
  const wanted = new Map<string, { ref: AccountRef; at: number[] }>();
  input.accounts.forEach((raw, i) => {
    let ref: AccountRef;
    try {
      ref = validateAccountRef(raw);
    } catch {
      return;
    }
    const id = accountId(ref).toLowerCase();
    const entry = wanted.get(id) ?? { ref, at: [] };
    entry.at.push(i);
    wanted.set(id, entry);
  });
  const found = (id: string, account: StorageAccount | undefined): void => {
    const key = account ? keyInUseOf(account) : null;
    for (const i of wanted.get(id)?.at ?? []) keys[i] = key;
  };
  const subscriptions = new Map<string, Set<string>>();
  for (const [id, { ref }] of wanted) {
    const sub = ref.subscriptionId.toLowerCase();
    subscriptions.set(sub, (subscriptions.get(sub) ?? new Set()).add(id));
  }
  const oneByOne: string[] = [];
  for (const [subscriptionId, ids] of subscriptions)
    oneByOne.push(...(await readFromList(deps, subscriptionId, ids, found)));
  let next = 0;
  const reader = async (): Promise<void> => {
    while (next < oneByOne.length) {
      const id = oneByOne[next++]!;
      heartbeat({ step: 'keysInUse', read: next });
      const read = await pollAccount(deps, wanted.get(id)!.ref).catch((error: unknown) => {
        // A missing or forbidden account is its own rotation's to report.
        if (error instanceof ApplicationFailure && error.nonRetryable) return undefined;
        throw error;
      });
      found(id, read);
    }
  };
  await Promise.all(Array.from({ length: Math.min(KEYS_IN_USE_READERS, oneByOne.length) }, reader));
  return keys;
}

/**
 * Pages through the subscription's account list while the next page costs fewer ARM reads than
 * reading the accounts still wanted one by one, handing each wanted account to `found`. Returns
 * the ids left to read one by one (none when the list ended: an account not in it does not exist).
 */
async function readFromList(
  deps: ActivityDeps,
  subscriptionId: string,
  ids: Set<string>,
  found: (id: string, account: StorageAccount | undefined) => void,
): Promise<string[]> {
  const left = new Set(ids);
  let pages = 0;
  if (left.size < 2) return [...left];
  const ended = await call({ what: `storage accounts in subscription ${subscriptionId}` }, async () => {
    const list = deps.azure
      .storage(subscriptionId)
      .storageAccounts.list({ abortSignal: abortSignal() })
      .byPage();
    for await (const page of list) {
      pages++;
      for (const account of page) {
        const id = account.id?.toLowerCase();
        if (id && left.delete(id)) found(id, account);
      }
      heartbeat({ step: 'keysInUse', listed: pages, left: left.size });
      if (left.size === 0) return true;
      if (pages + 1 >= left.size) return false;
    }
    return true;
  });
  if (!ended) return [...left];
  for (const id of left) found(id, undefined);
  return [];
}

/** Accounts {@link keysInUse} reads at once when it reads them one by one. */
const KEYS_IN_USE_READERS = 8;

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
  adopted = false,
): RotationResult {
  return {
    newVersion,
    ...(previousVersion ? { previousVersion } : {}),
    accountState,
    encryption,
    ...(adopted ? { adopted } : {}),
  };
}
