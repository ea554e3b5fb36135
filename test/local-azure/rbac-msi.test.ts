import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LocalAzure } from '../../src/local-azure';
import { clientsFor, RG_KEYS, SUB } from './clients';
import { RUNBOOK_OID, startForTest } from './fixtures';

const VAULT_SCOPE = `/subscriptions/${SUB}/resourceGroups/${RG_KEYS}/providers/Microsoft.KeyVault/vaults/kv-rbac`;
const ROLE = (guid: string) =>
  `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/${guid}`;
const CRYPTO_USER = ROLE('12338af0-0e69-4776-bea7-57ae8d297424');

describe('role assignments and managed identities', () => {
  let local: LocalAzure;
  let c: ReturnType<typeof clientsFor>;
  before(async () => {
    local = await startForTest({ roleAssignmentPropagationMs: 30_000 });
    c = clientsFor(local);
  });
  after(() => local.close());

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
});
