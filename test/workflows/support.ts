/**
 * Small helpers the runbook tests share: waiting for a run to reach a stage, deciding as a
 * person, and the standard configure input.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { statusQuery, type Person, type RunStatus, type Stage } from '../../src/shared/approval';
import type { AccountRef } from '../../src/shared/accounts';
import type { ApprovalPolicy } from '../../src/shared/approval';
import type { ConfigureCmkInput } from '../../src/shared/runbooks';
import { PEOPLE } from '../helpers/stack';
import { decideAs } from '../helpers/trust';

/** Polls the `status` query until `accept` holds (or the test times out). */
export async function waitForStatus(
  handle: WorkflowHandle,
  accept: (status: RunStatus) => boolean,
): Promise<RunStatus> {
  for (;;) {
    const status = await handle.query(statusQuery).catch(() => undefined);
    if (status && accept(status)) return status;
    if (status?.result) {
      throw new Error(
        `the run ended ${status.result.outcome} before the awaited state: ${status.result.message}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls the `status` query until the run is in `stage`. */
export function waitForStage(handle: WorkflowHandle, stage: Stage): Promise<RunStatus> {
  return waitForStatus(handle, (s) => s.stage === stage);
}

/** Waits until the run asks for approval and returns its status. */
export function waitForApproval(handle: WorkflowHandle): Promise<RunStatus> {
  return waitForStage(handle, 'awaiting-approval');
}

/** Sends `decide` as a person, the way the bot does after a card click (signed, on the current card). */
export function decide(
  handle: WorkflowHandle,
  person: Person,
  verdict: 'approve' | 'reject',
  extra: { fingerprint?: string; comment?: string; issuedAtMs?: number } = {},
): Promise<RunStatus> {
  return decideAs(handle, person, verdict, extra);
}

/** A configure request for an account, from the requester, reporting into `conversationId`. */
export function configureInput(
  account: AccountRef,
  policy: ApprovalPolicy,
  conversationId: string,
  overrides: Partial<ConfigureCmkInput> = {},
): ConfigureCmkInput {
  return {
    account,
    vault: { name: `kv-${account.name}`.slice(0, 24) },
    key: { name: 'cmk-key', type: 'RSA', size: 3072 },
    identity: { type: 'SystemAssigned' },
    pinVersion: false,
    requester: PEOPLE.requester,
    conversation: { id: conversationId },
    policy,
    uiBaseUrl: 'http://localhost:8233',
    ...overrides,
  };
}
