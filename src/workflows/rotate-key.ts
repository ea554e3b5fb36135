/**
 * `rotateKey`: a new key version; pinned accounts are moved to it, versionless accounts are
 * confirmed (or reported pending until Azure's daily check), then blob access is probed.
 */
import { ParentClosePolicy, startChild, workflowInfo } from '@temporalio/workflow';
import type { PlannedKey, RotationResult } from '../shared/activities';
import { searchAttributesFor } from '../shared/start';
import { childSearchAttributes } from './children';
import { PATCHES, inForce } from './patches';
import type { Run } from './run';
import { VERSIONLESS_CHECK_AFTER, versionlessPickup } from './versionless-pickup';
import { parseKeyId } from '../shared/accounts';
import { parseDurationMs } from '../shared/duration';
import { ValidationError } from '../shared/names';
import type { Plan } from '../shared/plan';
import type { RotateKeyInput, RunResult } from '../shared/runbooks';
import { describeEncryption, summaryLine } from '../shared/status';
import { azureArmWrites, azureKeyVaultCreates, azureLong } from './proxies';
import { rotationDone } from './step-texts';
import { runRunbook } from './runbook';
import { confirmBlobAccess } from './probe';
import { armWritesIn } from './arm-writes';
import { rulesMemo } from '../shared/rules';

/** Default wait for a versionless account to pick up the new version before reporting it pending. */
const DEFAULT_CONFIRM_WITHIN = '30s';

/** Rotates the account's key. */
export async function rotateKey(input: RotateKeyInput): Promise<RunResult> {
  return runRunbook({
    operation: 'rotate',
    input,
    validate: () => {
      parseDurationMs(input.confirmWithin ?? DEFAULT_CONFIRM_WITHIN, 'confirmWithin');
      adoptSinceMs(input.adoptSince);
    },
    request: { operation: 'rotate' },
    change: async (run, plan) => {
      const account = run.account;
      const confirmWithinMs = parseDurationMs(input.confirmWithin ?? DEFAULT_CONFIRM_WITHIN, 'confirmWithin');
      // The rotation's ARM write waits its turn in the subscription's budget, shared by every
      // worker (since key-vault-queue, only on a queue the run's worker polls, as every runbook's).
      const armQueued = inForce(PATCHES.armWriteQueue);
      const vaultQueued = inForce(PATCHES.keyVaultQueue);
      const writes = !armQueued
        ? azureLong
        : vaultQueued
          ? armWritesIn(run, account.subscriptionId).azureLong
          : azureArmWrites(account.subscriptionId);
      // Its key create waits its turn in the vault's, unless the fleet (or its key's first account) made it.
      const vault = vaultQueued && !input.followsKeyLeader ? vaultOf(plan) : undefined;
      const args = {
        account,
        runId: workflowInfo().runId,
        ...(input.rotationId ? { rotationId: input.rotationId } : {}),
        ...(input.adoptSince ? { adoptCreatedAfterMs: adoptSinceMs(input.adoptSince) } : {}),
        confirmWithinMs,
        ...plannedKeyOf(plan),
      };
      const rotation = await run.step(
        'rotate',
        'Rotate key',
        async () => {
          if (vault) {
            const creates = azureKeyVaultCreates(vault.name, vault.hsm);
            await creates.makeKeyVersion.executeWithOptions(
              { summary: `Make a new key version in ${vault.name} for ${account.name}` },
              [args],
            );
          }
          return writes.rotateKey.executeWithOptions({ summary: `Rotate the key of ${account.name}` }, [
            args,
          ]);
        },
        rotationDone,
      );
      const probe = await confirmBlobAccess(run, plan);
      let pending =
        rotation.accountState === 'pending'
          ? ' Azure picks up the new version within 24 hours (versionless).'
          : '';
      // Asked on every rotation, not only a versionless one, so each new run records its rules.
      const followsUp = inForce(PATCHES.versionlessPickup);
      if (followsUp && rotation.accountState === 'pending' && probe.state === 'allowed') {
        const followUp = await startVersionlessPickup(run, rotation, input.quiet === true);
        pending = ` Azure picks up the new version within 24 hours (versionless); follow-up ${followUp} confirms it after ${VERSIONLESS_CHECK_AFTER}.`;
      }
      const done = rotation.adopted
        ? `Moved ${account.name} to version ${rotation.newVersion}, which this period's rotation of its key already made (the key was not rotated again)`
        : `Rotated ${account.name}'s key to version ${rotation.newVersion}`;
      return {
        outcome: probe.state === 'allowed' ? 'succeeded' : 'failed',
        message:
          probe.state === 'allowed'
            ? `${done}; ${describeEncryption(rotation.encryption)}.${pending}`
            : `Rotated to ${rotation.newVersion}, but blob access is denied (${probe.errorCode ?? 'unknown'}); check the key's access.`,
        encryption: rotation.encryption,
      };
    },
  });
}

/**
 * The vault the account's key is in (from the plan's key, or the vault URI the account uses) and
 * whether the key is an HSM key; undefined for an account without one (`rotateKey` reports it).
 */
function vaultOf(plan: Plan): { name: string; hsm: boolean } | undefined {
  const hsm = plan.key?.type === 'RSA-HSM';
  if (plan.key) return { name: plan.key.vaultName, hsm };
  const { vaultUri, keyName } = plan.before;
  if (!vaultUri || !keyName) return undefined;
  try {
    return { name: parseKeyId(`${vaultUri}keys/${keyName}`).vaultName, hsm };
  } catch {
    return undefined;
  }
}

/**
 * The key the plan found the account on, handed to the rotation's activities: the key version is
 * made there without reading the account again, and the account is not moved off another key.
 */
function plannedKeyOf(plan: Plan): { plannedKey?: PlannedKey } {
  const { keySource, vaultUri, keyName, keyVersion, currentVersionedKeyId } = plan.before;
  if (keySource !== 'Microsoft.Keyvault' || !vaultUri || !keyName) return {};
  let inUse = keyVersion || undefined;
  try {
    if (currentVersionedKeyId) inUse = parseKeyId(currentVersionedKeyId).version ?? inUse;
  } catch {
    // An unparsable id reads as no version in use, as the activity would read it.
  }
  return { plannedKey: { vaultUri, keyName, ...(inUse ? { inUse } : {}) } };
}

/** `adoptSince` in ms since the epoch; a clear error for a time that does not parse. */
function adoptSinceMs(adoptSince: string | undefined): number | undefined {
  if (adoptSince === undefined) return undefined;
  const ms = typeof adoptSince === 'string' ? Date.parse(adoptSince) : NaN;
  if (!Number.isFinite(ms)) throw new ValidationError('adoptSince', 'an ISO 8601 time', adoptSince);
  return ms;
}

/**
 * Starts the follow-up that confirms, past Azure's daily check, that a versionless account moved
 * to the new version; it outlives this run (abandoned, not cancelled, when the run ends) so the
 * account is not held for a day. Returns its workflow id.
 */
async function startVersionlessPickup(run: Run, rotation: RotationResult, quiet: boolean): Promise<string> {
  const account = run.account;
  const workflowId = `${workflowInfo().workflowId}/versionless-pickup/${rotation.newVersion}`;
  // A fleet's child is quiet in chat: its follow-up reports in Temporal only.
  const conversation = quiet ? undefined : run.context.conversation;
  const messageId = run.cardId;
  await startChild(versionlessPickup, {
    workflowId,
    parentClosePolicy: ParentClosePolicy.ABANDON,
    args: [
      {
        account,
        newVersion: rotation.newVersion,
        ...(rotation.previousVersion ? { previousVersion: rotation.previousVersion } : {}),
        ...(conversation ? { conversation } : {}),
        ...(conversation && messageId ? { card: { messageId, status: run.status } } : {}),
      },
    ],
    typedSearchAttributes: childSearchAttributes(
      searchAttributesFor('rotate', account, run.context.requester),
    ),
    staticSummary: `${summaryLine('rotate', account)} · versionless pickup check after Azure's daily check`,
    memo: rulesMemo(),
  });
  return workflowId;
}
