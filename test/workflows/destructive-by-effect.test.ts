import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { runCardData } from '../../src/bot/cards/run-view';
import type { AccountRef } from '../../src/shared/accounts';
import { statusQuery, type RunStatus } from '../../src/shared/approval';
import type { RunResult } from '../../src/shared/runbooks';
import { LOCAL, PEOPLE, startLocalStack, testPolicy } from '../helpers/stack';
import { uniqueId } from '../helpers/temporal';
import {
  approveAs,
  armAccount,
  configuredOnLocal,
  decide,
  localConfigure,
  waitForApproval,
  waitForStatus,
} from './support';
import { beforeAll } from '../kit/suite';

const CSEU = 'e147488a-f6f5-4113-8e2d-b22465e65bf6';
const CRYPTO_USER = '12338af0-0e69-4776-bea7-57ae8d297424';
const READER = 'acdd72a7-3385-48ef-bd42-f606fba81ae7';
const CAROL = { aadObjectId: 'dddddddd-dddd-4ddd-8ddd-dddddddddddd', name: 'Carol Configurer' };

/** What a person reads on a card, as rendered. */
export function cardText(status: RunStatus): string {
  const d = runCardData(status);
  return [
    d.title,
    d.marksText,
    d.approvalLine,
    ...d.steps.map((x) => x.line),
    ...d.warnings.map((w) => w.text),
  ]
    .concat(d.blockers.map((b) => `${b.message} ${b.fix}`))
    .join('\n');
}

describe('destructive is decided by the effect', () => {
  const s = beforeAll(() => startLocalStack());

  const policy = testPolicy({
    approvers: {
      ...testPolicy().approvers,
      configure: [PEOPLE.alice, PEOPLE.bob, CAROL].map((p) => p.aadObjectId),
    },
    quorum: { configure: 1, revoke: 2, changeKey: 2 },
  });
  const context = (conv: string) => ({
    requester: PEOPLE.requester,
    conversation: { conversation: { id: conv } },
    policy,
  });
  const arm = (a: AccountRef) => armAccount(s, a);
  const vaultId = (vault: string) =>
    `/subscriptions/${LOCAL.subscriptionId}/resourceGroups/${LOCAL.keysGroup}/providers/Microsoft.KeyVault/vaults/${vault}`;
  const role = (guid: string) =>
    `/subscriptions/${LOCAL.subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
  /** The `n`th card of a conversation once it asks for approval (it is posted just after the stage changes). */
  async function pendingCard(conv: string, n = 1): Promise<RunStatus> {
    for (;;) {
      const card = s.chat.seen({ conversation: { id: conv } }).cards[n - 1]?.status;
      if (card?.approval.state === 'pending') return card;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  const assignmentsOf = (principal: string) =>
    s.local.state
      .listRoleAssignments()
      .map((a) => (a as { properties: { scope: string; principalId: string } }).properties)
      .filter((p) => p.principalId === principal)
      .map((p) => p.scope)
      .sort();

  const configured = () => configuredOnLocal(s, context(uniqueId('conv')));

  /** Moves the identity's grant from the key to the vault, as the Microsoft docs and Terraform set it up. */
  async function grantAtVaultScope(vault: string, principal: string): Promise<void> {
    const auth = s.azure.authorization(LOCAL.subscriptionId);
    for await (const a of auth.roleAssignments.listForScope(vaultId(vault), {
      filter: `principalId eq '${principal}'`,
    }))
      await auth.roleAssignments.deleteById(a.id!);
    await auth.roleAssignments.create(vaultId(vault), randomUUID(), {
      roleDefinitionId: role(CSEU),
      principalId: principal,
      principalType: 'ServicePrincipal',
    });
    await new Promise((r) => setTimeout(r, 200));
  }

  test("when the storage identity holds the role at vault scope (as Microsoft's docs and Terraform set it up), then revoke asks for its quorum and the card lists the vault-scope assignment", async () => {
    const { account, vault, principal } = await configured();
    await grantAtVaultScope(vault, principal);
    const conv = uniqueId('conv');
    const writes = s.local.requestLog.writes().length;
    const handle = await s.start('revoke', { account, disableKey: false, ...context(conv) });

    const waiting = await waitForApproval(handle);
    assert.equal(waiting.approval.quorum, 2);
    assert.match(
      cardText(await pendingCard(conv)),
      new RegExp(`Key Vault Crypto Service Encryption User at vault ${vault}`),
    );
    await decide(handle, PEOPLE.alice, 'approve');
    assert.equal((await handle.query(statusQuery)).approval.state, 'pending', 'one of two approvals');
    assert.equal(s.local.requestLog.writes().length, writes, 'nothing changed in Azure before the quorum');
    await decide(handle, PEOPLE.bob, 'approve');
    const result = (await handle.result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.deepEqual(assignmentsOf(principal), [], 'the vault-scope assignment was removed');
  });

  test('when the identity holds wrap/unwrap through other roles at resource-group and subscription scope, then the plan lists each, the revocation removes exactly those and a Reader assignment stays', async () => {
    const { account, vault, principal } = await configured();
    const rg = `/subscriptions/${LOCAL.subscriptionId}/resourceGroups/${LOCAL.keysGroup}`;
    for (const [scope, guid] of [
      [rg, CRYPTO_USER],
      [`/subscriptions/${LOCAL.subscriptionId}`, CSEU],
      [vaultId(vault), READER],
    ] as const)
      s.local.state.addRoleAssignment({
        scope,
        roleDefinitionId: guid,
        principalId: principal,
        effectiveImmediately: true,
      });
    const conv = uniqueId('conv');
    const handle = await s.start('revoke', { account, disableKey: false, ...context(conv) });
    await waitForApproval(handle);
    const text = cardText(await pendingCard(conv));
    assert.match(text, /Key Vault Crypto User at resource group rg-keys/);
    assert.match(text, /Key Vault Crypto Service Encryption User at subscription/);
    assert.match(text, new RegExp(`Key Vault Crypto Service Encryption User at key ${vault}/cmk-key`));
    assert.doesNotMatch(text, /Reader/);
    await approveAs(handle, PEOPLE.alice, PEOPLE.bob);
    const result = (await handle.result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.deepEqual(assignmentsOf(principal), [vaultId(vault)], 'only the Reader assignment is left');
  });

  test('when the identity also holds the role at a management group, then the plan says the runbook cannot remove it and, without disabling the key, stops with the fix and changes nothing', async () => {
    const { account, principal } = await configured();
    const group = `/providers/Microsoft.Management/managementGroups/${s.local.tenantId}`;
    s.local.state.addRoleAssignment({
      scope: group,
      roleDefinitionId: CSEU,
      principalId: principal,
      effectiveImmediately: true,
    });
    const writes = s.local.requestLog.writes().length;
    const result = (await (
      await s.start('revoke', { account, disableKey: false, ...context(uniqueId('conv')) })
    ).result()) as RunResult;
    assert.equal(result.outcome, 'blocked', result.message);
    assert.match(result.message, /management group/);
    assert.match(result.message, /--disable-key/);
    assert.equal(s.local.requestLog.writes().length, writes, 'zero writes');
    assert.equal(assignmentsOf(principal).length, 2);
  });

  test('when an assignment is added after approval, then revoke deletes nothing and asks again with a new card that lists it', async () => {
    const { account, vault, principal } = await configured();
    const conv = uniqueId('conv');
    const handle = await s.start('revoke', { account, disableKey: false, ...context(conv) });
    const first = await waitForApproval(handle);
    assert.doesNotMatch(cardText(await pendingCard(conv)), /at vault/);
    const writes = s.local.requestLog.writes().length;
    s.onNext('revokeAccess', {
      before: () => {
        s.local.state.addRoleAssignment({
          scope: vaultId(vault),
          roleDefinitionId: CSEU,
          principalId: principal,
          effectiveImmediately: true,
        });
      },
    });
    await approveAs(handle, PEOPLE.alice, PEOPLE.bob);

    const again = await waitForStatus(
      handle,
      (st) => st.approval.state === 'pending' && st.plan?.fingerprint !== first.plan?.fingerprint,
    );
    assert.equal(s.local.requestLog.writes().length, writes, 'nothing was deleted or changed in Azure');
    assert.match(again.approval.lapsedReason ?? '', /Key Vault Crypto Service Encryption User at vault/);
    const second = await pendingCard(conv, 2);
    assert.equal(s.chat.seen({ conversation: { id: conv } }).cards[0]!.status.approval.state, 'lapsed');
    assert.match(cardText(second), new RegExp(`Key Vault Crypto Service Encryption User at vault ${vault}`));
    await assert.rejects(
      decide(handle, PEOPLE.alice, 'approve', { fingerprint: first.plan!.fingerprint }),
      (e: unknown) => e instanceof WorkflowUpdateFailedError,
    );
    await approveAs(handle, PEOPLE.alice, PEOPLE.bob);
    const result = (await handle.result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.deepEqual(assignmentsOf(principal), [], 'both assignments were removed once approved');
  });

  test("when configure is asked to move a CMK account to another key, then it waits for change-key's quorum and the card says it is a key change", async () => {
    const { account, vault } = await configured();
    const conv = uniqueId('conv');
    const handle = await s.start('configure', localConfigure(account, vault, 'other-key', context(conv)));
    const waiting = await waitForApproval(handle);
    assert.equal(waiting.approval.quorum, 2);
    assert.match(cardText(await pendingCard(conv)), /key change/i);
    await assert.rejects(
      decide(handle, CAROL, 'approve'),
      (e: unknown) =>
        e instanceof WorkflowUpdateFailedError &&
        /not an approver for Change key/.test(e.cause?.message ?? ''),
    );
    await decide(handle, PEOPLE.alice, 'approve');
    assert.equal(
      (await handle.query(statusQuery)).approval.state,
      'pending',
      "configure's quorum of 1 is not enough",
    );
    assert.equal(arm(account).properties.encryption.keyvaultproperties?.keyname, 'cmk-key');
    await decide(handle, PEOPLE.bob, 'approve');
    const result = (await handle.result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.equal(arm(account).properties.encryption.keyvaultproperties?.keyname, 'other-key');
  });
});
