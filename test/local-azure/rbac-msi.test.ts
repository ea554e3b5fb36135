import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { clientsFor, RG_KEYS, SUB } from './clients';
import { RUNBOOK_OID, startForTest } from './fixtures';
import { beforeAll, lazy } from '../kit/suite';

const VAULT_SCOPE = `/subscriptions/${SUB}/resourceGroups/${RG_KEYS}/providers/Microsoft.KeyVault/vaults/kv-rbac`;
const ROLE = (guid: string) =>
  `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
const CRYPTO_USER = ROLE('12338af0-0e69-4776-bea7-57ae8d297424');

describe('role assignments and managed identities', () => {
  const local = beforeAll(() => startForTest({ roleAssignmentPropagationMs: 30_000 }));
  const c = lazy(() => clientsFor(local));

  test('when a user-assigned identity is created, then ARM returns stable principal and client ids and it can be read back', async () => {
    const created = await c.msi.userAssignedIdentities.createOrUpdate(RG_KEYS, 'id-new', {
      location: 'eastus',
    });
    assert.match(created.principalId ?? '', /^[0-9a-f-]{36}$/);
    const read = await c.msi.userAssignedIdentities.get(RG_KEYS, 'id-new');
    assert.deepEqual([read.principalId, read.clientId], [created.principalId, created.clientId]);
    assert.equal(local.state.getPrincipal(created.principalId!)?.kind, 'ManagedIdentity');
    await assert.rejects(
      c.msi.userAssignedIdentities.get(RG_KEYS, 'id-none'),
      (e: { statusCode?: number; code?: string }) => e.statusCode === 404 && e.code === 'ResourceNotFound',
    );
  });

  test('when a role is granted on an RBAC vault and later deleted, then data-plane access starts and ends only after propagation', async () => {
    const identity = await c.msi.userAssignedIdentities.get(RG_KEYS, 'id-cmk');
    const name = '0d1e2f30-4a5b-4c6d-8e7f-000000000123';
    const created = await c.authorization.roleAssignments.create(VAULT_SCOPE, name, {
      roleDefinitionId: CRYPTO_USER,
      principalId: identity.principalId!,
      principalType: 'ServicePrincipal',
    });
    assert.equal(created.roleDefinitionId, CRYPTO_USER);
    assert.equal(local.state.canUseKey('kv-rbac', identity.principalId!, 'wrapkey'), false);
    local.clock.advance(30_000);
    assert.equal(local.state.canUseKey('kv-rbac', identity.principalId!, 'wrapkey'), true);
    const got = await c.authorization.roleAssignments.get(VAULT_SCOPE, name);
    assert.equal(got.principalId, identity.principalId);
    const listed = [];
    for await (const a of c.authorization.roleAssignments.listForScope(VAULT_SCOPE, {
      filter: `principalId eq '${identity.principalId!}'`,
    }))
      listed.push(a.name);
    assert.deepEqual(listed, [name]);
    await c.authorization.roleAssignments.delete(VAULT_SCOPE, name);
    assert.equal(local.state.canUseKey('kv-rbac', identity.principalId!, 'wrapkey'), true);
    local.clock.advance(30_000);
    assert.equal(local.state.canUseKey('kv-rbac', identity.principalId!, 'wrapkey'), false);
    assert.equal(
      local.state.listRoleAssignments(VAULT_SCOPE).length,
      1,
      'only the seeded Crypto Officer grant is left',
    );
  });

  test('when a grant names an unknown principal, an unknown role or repeats an existing grant, then ARM refuses it', async () => {
    await assert.rejects(
      c.authorization.roleAssignments.create(VAULT_SCOPE, '0d1e2f30-4a5b-4c6d-8e7f-000000000124', {
        roleDefinitionId: CRYPTO_USER,
        principalId: '00000000-0000-4000-8000-000000000000',
      }),
      (e: { code?: string }) => e.code === 'PrincipalNotFound',
    );
    await assert.rejects(
      c.authorization.roleAssignments.create(VAULT_SCOPE, '0d1e2f30-4a5b-4c6d-8e7f-000000000125', {
        roleDefinitionId: ROLE('99999999-9999-4999-8999-999999999999'),
        principalId: RUNBOOK_OID,
      }),
      (e: { code?: string }) => e.code === 'RoleDefinitionDoesNotExist',
    );
    await assert.rejects(
      c.authorization.roleAssignments.create(VAULT_SCOPE, '0d1e2f30-4a5b-4c6d-8e7f-000000000126', {
        roleDefinitionId: ROLE('14b46e9e-c2b7-41b4-b07b-48a6ebf60603'),
        principalId: RUNBOOK_OID,
      }),
      (e: { statusCode?: number; code?: string }) =>
        e.statusCode === 409 && e.code === 'RoleAssignmentExists',
    );
  });

  test('when the caller lacks an RBAC role on the key, then Key Vault answers 403 ForbiddenByRbac naming the action', async () => {
    await c.keyVault.vaults.beginCreateOrUpdateAndWait(
      RG_KEYS,
      'kv-rbac-empty',
      {
        location: 'eastus',
        properties: {
          tenantId: local.tenantId,
          sku: { family: 'A', name: 'standard' },
          enableRbacAuthorization: true,
        },
      },
      { updateIntervalInMs: 5 },
    );
    await assert.rejects(
      c.keys('kv-rbac-empty').getKey('any'),
      (e: { statusCode?: number; message: string; details?: unknown }) =>
        e.statusCode === 403 &&
        /Action: 'Microsoft\.KeyVault\/vaults\/keys\/read'/.test(e.message) &&
        /ForbiddenByRbac/.test(JSON.stringify(e.details)),
    );
  });
  test('when a built-in role definition is read by id, then ARM returns the data actions Azure documents for it (built-in-roles/security)', async () => {
    const role = await c.authorization.roleDefinitions.getById(ROLE('e147488a-f6f5-4113-8e2d-b22465e65bf6'));
    assert.equal(role.roleName, 'Key Vault Crypto Service Encryption User');
    assert.equal(role.roleType, 'BuiltInRole');
    assert.deepEqual(role.permissions?.[0]?.dataActions, [
      'Microsoft.KeyVault/vaults/keys/read',
      'Microsoft.KeyVault/vaults/keys/wrap/action',
      'Microsoft.KeyVault/vaults/keys/unwrap/action',
    ]);
    await assert.rejects(
      c.authorization.roleDefinitions.getById(ROLE('99999999-9999-4999-8999-999999999999')),
      (e: { statusCode?: number; code?: string }) =>
        e.statusCode === 404 && e.code === 'RoleDefinitionDoesNotExist',
    );
  });

  test('when custom roles are assigned on an RBAC vault, then Key Vault follows their data actions: a wildcard allows unwrap, NotDataActions take it away (role-definitions, "NotDataActions")', async () => {
    const principal = (
      await c.msi.userAssignedIdentities.createOrUpdate(RG_KEYS, 'id-custom', { location: 'eastus' })
    ).principalId!;
    const define = (guid: string, notDataActions: string[]) =>
      c.authorization.roleDefinitions.createOrUpdate(`/subscriptions/${SUB}`, guid, {
        roleName: `custom ${guid.slice(0, 4)}`,
        permissions: [{ actions: [], dataActions: ['Microsoft.KeyVault/vaults/keys/*'], notDataActions }],
        assignableScopes: [`/subscriptions/${SUB}`],
      });
    await define('c0570000-0000-4000-8000-000000000001', []);
    await define('c0570000-0000-4000-8000-000000000002', ['Microsoft.KeyVault/vaults/keys/unwrap/action']);
    const assign = (name: string, guid: string) =>
      c.authorization.roleAssignments.create(VAULT_SCOPE, name, {
        roleDefinitionId: ROLE(guid),
        principalId: principal,
        principalType: 'ServicePrincipal',
      });
    await assign('0d1e2f30-4a5b-4c6d-8e7f-000000000201', 'c0570000-0000-4000-8000-000000000002');
    local.clock.advance(30_000);
    assert.equal(local.state.canUseKey('kv-rbac', principal, 'wrapkey'), true);
    assert.equal(
      local.state.canUseKey('kv-rbac', principal, 'unwrapkey'),
      false,
      'excluded by NotDataActions',
    );
    await assign('0d1e2f30-4a5b-4c6d-8e7f-000000000202', 'c0570000-0000-4000-8000-000000000001');
    local.clock.advance(30_000);
    assert.equal(local.state.canUseKey('kv-rbac', principal, 'unwrapkey'), true);
    const read = await c.authorization.roleDefinitions.getById(ROLE('c0570000-0000-4000-8000-000000000002'));
    assert.equal(read.roleType, 'CustomRole');
  });

  test('when an identity holds a key role at the tenant root management group, then it reaches keys below it and listing at the key includes the inherited assignment (management-groups overview, role-assignments-list-rest)', async () => {
    const principal = (
      await c.msi.userAssignedIdentities.createOrUpdate(RG_KEYS, 'id-mg', { location: 'eastus' })
    ).principalId!;
    const rootGroup = `/providers/Microsoft.Management/managementGroups/${local.tenantId}`;
    await c.authorization.roleAssignments.create(rootGroup, '0d1e2f30-4a5b-4c6d-8e7f-000000000301', {
      roleDefinitionId:
        '/providers/Microsoft.Authorization/roleDefinitions/e147488a-f6f5-4113-8e2d-b22465e65bf6',
      principalId: principal,
      principalType: 'ServicePrincipal',
    });
    local.clock.advance(30_000);
    assert.equal(local.state.canUseKey('kv-rbac', principal, 'unwrapkey', 'any-key'), true);
    const listed = [];
    for await (const a of c.authorization.roleAssignments.listForScope(`${VAULT_SCOPE}/keys/any-key`, {
      filter: `principalId eq '${principal}'`,
    }))
      listed.push(a.scope);
    assert.deepEqual(listed, [rootGroup]);
    const elsewhere = `/providers/Microsoft.Management/managementGroups/mg-other`;
    local.state.addRoleAssignment({
      scope: elsewhere,
      roleDefinitionId: 'e147488a-f6f5-4113-8e2d-b22465e65bf6',
      principalId: principal,
      effectiveImmediately: true,
    });
    assert.equal(local.state.listRoleAssignments(elsewhere).length, 1);
    const again = [];
    for await (const a of c.authorization.roleAssignments.listForScope(VAULT_SCOPE, {
      filter: `principalId eq '${principal}'`,
    }))
      again.push(a.scope);
    assert.deepEqual(again, [rootGroup], 'a group the subscription is not under does not apply');
  });
});
