/**
 * `versionlessPickup`: the follow-up of a rotation whose versionless account had not moved to
 * the new version when the rotation ended. Azure Storage checks the vault for a new key version
 * once a day ("Update the key version automatically", customer-managed-keys-overview), so a
 * durable timer waits past that check (a day and an hour), then reads the version the account
 * uses and says whether Azure moved it: on the rotation's card, in chat, as this workflow's
 * result, its `CmkOutcome` and its details in the Temporal UI.
 */
import { ActivityFailure, setCurrentDetails, sleep, workflowInfo } from '@temporalio/workflow';
import { parseKeyId, type AccountRef } from '../shared/accounts';
import type { RunStatus } from '../shared/approval';
import type { ConversationRef } from '../shared/chat';
import { parseDurationMs } from '../shared/duration';
import type { EncryptionSettings } from '../shared/plan';
import type { RunResult, StepResult } from '../shared/runbooks';
import { azure, chat } from './proxies';
import { upsertOutcome } from './run';

/** How long after the rotation the follow-up looks: past Azure's daily check, with an hour's slack. */
export const VERSIONLESS_CHECK_AFTER = '25h';

/** What the follow-up confirms, and where it reports. */
export interface VersionlessPickupInput {
  account: AccountRef;
  /** The version the rotation made, which Azure should have moved the account to. */
  newVersion: string;
  /** The version the account used before the rotation. */
  previousVersion?: string;
  conversation?: ConversationRef;
  /** The rotation's card and its status when the rotation finished its change; edited with the verdict. */
  card?: { messageId: string; status: RunStatus };
  /** Default {@link VERSIONLESS_CHECK_AFTER}. */
  checkAfter?: string;
}

/** Waits past Azure's daily check, then confirms the account uses the new version, or raises it. */
export async function versionlessPickup(input: VersionlessPickupInput): Promise<RunResult> {
  const name = input.account.name;
  const waitMs = parseDurationMs(input.checkAfter ?? VERSIONLESS_CHECK_AFTER, 'checkAfter');
  const dueAt = new Date(workflowInfo().startTime.getTime() + waitMs).toISOString();
  setCurrentDetails(
    `Waiting until ${dueAt}, past Azure's daily check, to confirm ${name} uses key version ${input.newVersion}.`,
  );
  await sleep(waitMs);
  let result: RunResult;
  try {
    const plan = await azure.inspect.executeWithOptions({ summary: `Read which key version ${name} uses` }, [
      { account: input.account, request: { operation: 'rotate' } },
    ]);
    result = verdict(input, plan.before);
  } catch (error) {
    if (!(error instanceof ActivityFailure)) throw error;
    result = {
      outcome: 'failed',
      message: `Could not read which key version ${name} uses after Azure's daily check (${error.cause?.message ?? error.message}); check it with \`az storage account show --name ${name} --query encryption.keyVaultProperties\`.`,
      steps: [],
      remaining: [],
    };
  }
  upsertOutcome(result);
  await report(input, result);
  return result;
}

/** Confirmed when the account uses the new version (or a later one); a problem, with the fix, otherwise. */
function verdict(input: VersionlessPickupInput, now: EncryptionSettings): RunResult {
  const name = input.account.name;
  const inUse = now.currentVersionedKeyId ? parseKeyId(now.currentVersionedKeyId).version : undefined;
  const done = (outcome: RunResult['outcome'], message: string): RunResult => ({
    outcome,
    message,
    steps: [],
    remaining: [],
    encryption: now,
  });
  if (now.keySource !== 'Microsoft.Keyvault' || now.keyVersion)
    return done(
      'succeeded',
      `${name} no longer follows its key versionless (it was changed since the rotation to ${input.newVersion}); nothing left to confirm.`,
    );
  if (inUse === input.newVersion)
    return done(
      'succeeded',
      `Confirmed: Azure moved ${name} to key version ${input.newVersion} at its daily check.`,
    );
  if (inUse && inUse !== input.previousVersion)
    return done(
      'succeeded',
      `Confirmed: Azure moved ${name} past version ${input.newVersion}, to ${inUse}, a later rotation's version.`,
    );
  return {
    ...done(
      'failed',
      `Azure did not move ${name} to key version ${input.newVersion}: a day after the rotation it still uses ${inUse ?? 'an unknown version'}. Azure Storage's daily check skips a key its identity cannot read: check the identity's access to the key, then pin it with \`update-version ${name} --latest\`.`,
    ),
    errorType: 'VersionNotPickedUp',
  };
}

/** The verdict on the rotation's card and as a chat line; chat never fails the follow-up. */
async function report(input: VersionlessPickupInput, result: RunResult): Promise<void> {
  if (!input.conversation) return;
  const step: StepResult = {
    id: 'probe',
    title: "Versionless pickup after Azure's daily check",
    status: result.outcome === 'succeeded' ? 'done' : 'failed',
    detail: result.message,
    at: new Date().toISOString(),
  };
  try {
    if (input.card) {
      const before = input.card.status;
      const steps = [...before.steps, step];
      const status: RunStatus = {
        ...before,
        stage: 'done',
        steps,
        result: {
          ...before.result,
          ...result,
          plan: before.plan,
          steps,
          remaining: before.result?.remaining ?? [],
        },
      };
      await chat.updateRunCard({ conversation: input.conversation, messageId: input.card.messageId, status });
    }
    await chat.sendChatText({ conversation: input.conversation, text: result.message });
  } catch {
    // The verdict stays in the workflow's result and CmkOutcome.
  }
}
