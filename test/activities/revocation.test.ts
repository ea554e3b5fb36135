import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { AccountRef } from '../../src/shared/accounts';
import type { VaultState } from '../../src/shared/activities';
import { RG_KEYS, SUB, startHarness } from './harness';
import { beforeAll } from '../kit/suite';

const CSEU = 'e147488a-f6f5-4113-8e2d-b22465e65bf6';
const ROLE = (guid: string) =>
  `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;

describe('what a revocation removes', () => {
  const h = beforeAll(() => startHarness({ roleAssignmentPropagationMs: 50 }));

  const vaultId = (name: string) =>
    `/subscriptions/${SUB}/resourceGroups/${RG_KEYS}/providers/Microsoft.KeyVault/vaults/${name}`;
  const principalOf = (account: AccountRef) =>
    (
      h.local.state.getStorageAccount(SUB, account.resourceGroup, account.name) as {
        identity: { principalId: string };
      }
    ).identity.principalId;
  const revokePlan = (account: AccountRef, disableKey = false) =>
    h.run((a) => a.inspect({ account, request: { operation: 'revoke', disableKey } }));
  const destructiveWrites = () =>
    h.local.requestLog.writes({
      operation: /^(roleAssignments\.delete|vaults\.updateAccessPolicy|keys\.update)$/,
    }).length;

  async function rbacAccount(): Promise<{ account: AccountRef; vault: VaultState; principal: string }> {
    const account = h.newAccount();
    const vault = await h.run((a) =>
      a.ensureVault({ account, vault: { name: h.vaultName(), resourceGroup: RG_KEYS }, location: 'eastus' }),
    );
    const { account: cmk } = await h.cmkAccount({ keyName: 'cmk', pinVersion: false, vault });
    return { account: cmk, vault, principal: principalOf(cmk) };
  }

  test('when the approved list lacks a grant Azure now holds, then revokeAccess deletes nothing and says what to approve (RevocationSetChanged)', async () => {
    const { account, vault, principal } = await rbacAccount();
    const plan = await revokePlan(account);
    h.local.state.addRoleAssignment({
      scope: vaultId(vault.name),
      roleDefinitionId: CSEU,
      principalId: principal,
    });
    const writes = destructiveWrites();
    await assert.rejects(
      h.run((a) => a.revokeAccess({ account, disableKey: false, approved: plan.revocation })),
      (e: { type?: string; nonRetryable?: boolean; message: string }) =>
        e.type === 'RevocationSetChanged' &&
        e.nonRetryable === true &&
        e.message.includes(`Key Vault Crypto Service Encryption User at vault ${vault.name}`) &&
        /Nothing was deleted; approve the new list/.test(e.message),
    );
    assert.equal(destructiveWrites(), writes, 'zero destructive writes');
  });

  test('when a run planned by older code brings no approved list, then revokeAccess deletes nothing', async () => {
    const { account } = await rbacAccount();
    const writes = destructiveWrites();
    await assert.rejects(
      h.run((a) => a.revokeAccess({ account, disableKey: true })),
      {
        type: 'RevocationSetChanged',
      },
    );
    assert.equal(destructiveWrites(), writes);
  });

  test('when revokeAccess runs again after removing part of the list, then it removes the rest and nothing else', async () => {
    const { account, vault, principal } = await rbacAccount();
    h.local.state.addRoleAssignment({
      scope: vaultId(vault.name),
      roleDefinitionId: CSEU,
      principalId: principal,
    });
    const plan = await revokePlan(account);
    assert.equal(plan.revocation?.remove.length, 2);
    const [first] = plan.revocation.remove;
    await h.azure.authorization(SUB).roleAssignments.deleteById(first!.id.replace(/^\//, ''));
    const result = await h.run((a) =>
      a.revokeAccess({ account, disableKey: false, approved: plan.revocation }),
    );
    assert.deepEqual(
      result.grants?.map((g) => g.id),
      [plan.revocation.remove[1]!.id],
    );
    assert.equal(
      h.local.state.listRoleAssignments().filter((r) => JSON.stringify(r).includes(principal)).length,
      0,
    );
  });

  test('when custom roles reach the key, then the plan lists one whose wildcard allows unwrap and leaves out one whose NotDataActions take wrap and unwrap away', async () => {
    const { account, vault, principal } = await rbacAccount();
    const auth = h.azure.authorization(SUB);
    const custom = async (guid: string, name: string, notDataActions: string[]) => {
      await auth.roleDefinitions.createOrUpdate(`subscriptions/${SUB}`, guid, {
        roleName: name,
        permissions: [{ actions: [], dataActions: ['Microsoft.KeyVault/vaults/keys/*'], notDataActions }],
        assignableScopes: [`/subscriptions/${SUB}`],
      });
      await auth.roleAssignments.create(vaultId(vault.name).slice(1), randomUUID(), {
        roleDefinitionId: ROLE(guid),
        principalId: principal,
        principalType: 'ServicePrincipal',
      });
    };
    await custom('c0570000-0000-4000-8000-00000000a001', 'Key wrangler', []);
    await custom('c0570000-0000-4000-8000-00000000a002', 'Key reader only', [
      'Microsoft.KeyVault/vaults/keys/wrap/action',
      'Microsoft.KeyVault/vaults/keys/unwrap/action',
    ]);
    const plan = await revokePlan(account);
    assert.deepEqual(plan.revocation?.remove.map((g) => `${g.what} @ ${g.level}`).sort(), [
      'Key Vault Crypto Service Encryption User @ key',
      'Key wrangler @ vault',
    ]);
    assert.deepEqual(plan.revocation?.keep, []);
  });

  test('when the vault uses access policies, then the entry is listed and removed, and a role assignment the vault ignores today is removed too', async () => {
    const { account, vault } = await h.cmkAccount({ keyName: 'cmk', pinVersion: true });
    const identity = principalOf(account);
    h.local.state.addRoleAssignment({
      scope: `/subscriptions/${SUB}/resourceGroups/${vault.resourceGroup}`,
      roleDefinitionId: CSEU,
      principalId: identity,
    });
    const plan = await revokePlan(account, true);
    assert.deepEqual(
      plan.revocation?.remove.map((g) => [g.kind, g.level, g.active]),
      [
        ['roleAssignment', 'resourceGroup', false],
        ['accessPolicy', 'vault', true],
      ],
    );
    assert.match(plan.revocation?.disableKeyVersion ?? '', /^[0-9a-f]{32}$/);
    const result = await h.run((a) =>
      a.revokeAccess({ account, disableKey: true, approved: plan.revocation }),
    );
    assert.deepEqual([result.removed, result.keyDisabled], ['roleAssignment', true]);
    const after = await revokePlan(account);
    assert.deepEqual(after.revocation?.remove, []);
  });
});
