/**
 * Small helpers the runbook tests share: waiting for a run to reach a stage, deciding as a
 * person, and the standard configure input.
 */
import assert from 'node:assert/strict';
import type { WorkflowHandle } from '@temporalio/client';
import { statusQuery, type Person, type RunStatus, type Stage } from '../../src/shared/approval';
import type { AccountRef } from '../../src/shared/accounts';
import type { ApprovalPolicy } from '../../src/shared/approval';
import type { ConfigureCmkInput, RunContext, RunResult } from '../../src/shared/runbooks';
import { LOCAL, PEOPLE, type LocalStack } from '../helpers/stack';
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

/** A storage account as the local Azure's ARM returns it: what the local-stack tests assert on. */
export interface ArmAccountView {
  identity?: { principalId?: string };
  properties: {
    encryption: {
      keySource: string;
      keyvaultproperties?: {
        keyname?: string;
        keyvaulturi?: string;
        keyversion?: string;
        currentVersionedKeyIdentifier?: string;
      };
    };
  };
}

/** The account in the local Azure. */
export function armAccount(s: LocalStack, a: AccountRef): ArmAccountView {
  return s.local.state.getStorageAccount(
    a.subscriptionId,
    a.resourceGroup,
    a.name,
  ) as unknown as ArmAccountView;
}

/** A configure of `account` onto `keyName` (RSA 2048, versionless) in `vault` of the keys group. */
export function localConfigure(
  account: AccountRef,
  vault: string,
  keyName: string,
  context: RunContext,
): ConfigureCmkInput {
  return {
    account,
    vault: { name: vault, resourceGroup: LOCAL.keysGroup },
    key: { name: keyName, type: 'RSA', size: 2048 },
    identity: { type: 'SystemAssigned' },
    pinVersion: false,
    ...context,
  };
}

/**
 * An account on CMK in a new RBAC vault, configured by the runbook under `context` (its policy
 * must not ask for approval of a first configure); returns the identity's principal too.
 */
export async function configuredOnLocal(
  s: LocalStack,
  context: RunContext,
): Promise<{ account: AccountRef; vault: string; principal: string }> {
  const account = s.newAccount('stcfg');
  const vault = s.vaultName('kv-cfg');
  const result = (await (
    await s.start('configure', localConfigure(account, vault, 'cmk-key', context))
  ).result()) as RunResult;
  if (result.outcome !== 'succeeded') throw new Error(`configure ended ${result.outcome}: ${result.message}`);
  return { account, vault, principal: armAccount(s, account).identity!.principalId! };
}

/** A new account (name from `prefix`) configured onto `keyName` in `vault`, pinned to its version; the run must succeed. */
export async function configuredPinned(
  s: LocalStack,
  {
    vault,
    keyName,
    context,
    prefix,
  }: { vault: string; keyName: string; context: RunContext; prefix: string },
): Promise<AccountRef> {
  const account = s.newAccount(prefix);
  const handle = await s.start('configure', {
    ...localConfigure(account, vault, keyName, context),
    pinVersion: true,
  });
  const result = (await handle.result()) as RunResult;
  assert.equal(result.outcome, 'succeeded', result.message);
  return account;
}

/** The key version `a` is pinned to (empty or undefined when versionless). */
export function pinnedVersion(s: LocalStack, a: AccountRef): string | undefined {
  return armAccount(s, a).properties.encryption.keyvaultproperties?.keyversion;
}

/** Approves as each person in turn. */
export async function approveAs(handle: WorkflowHandle, ...people: Person[]): Promise<void> {
  for (const person of people) await decide(handle, person, 'approve');
}
