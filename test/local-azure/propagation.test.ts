import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PROPAGATION_PROFILES, propagationFromEnv } from '../../src/local-azure';
import { timingFor } from '../../src/local-azure/propagation';
import { clientsFor, RG_KEYS, RG_STORAGE, SUB } from './clients';
import { createCmkVault, grantAccountKeyAccess, startForTest } from './fixtures';
import { beforeAll, lazy } from '../kit/suite';

const MINUTE = 60_000;
const VAULT_SCOPE = `/subscriptions/${SUB}/resourceGroups/${RG_KEYS}/providers/Microsoft.KeyVault/vaults/kv-rbac`;
const CRYPTO_USER = `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/12338af0-0e69-4776-bea7-57ae8d297424`;

describe('propagation as Azure has it, on the emulated clock', () => {
  // No propagation option: the default, Azure's profile.
  const local = beforeAll(() => startForTest({ propagation: undefined }));
  const c = lazy(() => clientsFor(local));

  test('when no profile is chosen, then a new role assignment grants Key Vault access after 10 minutes and not before (key-vault rbac-guide: up to 10 minutes)', async () => {
    const identity = await c.msi.userAssignedIdentities.get(RG_KEYS, 'id-cmk');
    await c.authorization.roleAssignments.create(VAULT_SCOPE, '0d1e2f30-4a5b-4c6d-8e7f-0000000000e1', {
      roleDefinitionId: CRYPTO_USER,
      principalId: identity.principalId!,
      principalType: 'ServicePrincipal',
    });
    local.clock.advance(9 * MINUTE);
    assert.equal(local.state.canUseKey('kv-rbac', identity.principalId!, 'wrapkey'), false);
    local.clock.advance(MINUTE);
    assert.equal(local.state.canUseKey('kv-rbac', identity.principalId!, 'wrapkey'), true);
  });

  test('when a role assignment is deleted, then ARM stops listing it at once but it keeps granting for 10 minutes (rbac-guide: role assignment changes)', async () => {
    const identity = await c.msi.userAssignedIdentities.get(RG_KEYS, 'id-cmk');
    await c.authorization.roleAssignments.delete(VAULT_SCOPE, '0d1e2f30-4a5b-4c6d-8e7f-0000000000e1');
    const listed = [];
    for await (const a of c.authorization.roleAssignments.listForScope(VAULT_SCOPE, {
      filter: `principalId eq '${identity.principalId!}'`,
    }))
      listed.push(a);
    assert.deepEqual(listed, []);
    local.clock.advance(9 * MINUTE);
    assert.equal(local.state.canUseKey('kv-rbac', identity.principalId!, 'wrapkey'), true);
    local.clock.advance(MINUTE);
    assert.equal(local.state.canUseKey('kv-rbac', identity.principalId!, 'wrapkey'), false);
  });

  test('when an account loses its key, then its blob content keeps answering for the 10 minutes of the Azure profile and then fails with 403', async () => {
    const { vaultUri, key } = await createCmkVault(local, 'kv-prop');
    await grantAccountKeyAccess(local, 'stcontoso', 'kv-prop');
    await c.storage.storageAccounts.update(RG_STORAGE, 'stcontoso', {
      encryption: {
        keySource: 'Microsoft.Keyvault',
        keyVaultProperties: { keyName: 'cmk', keyVaultUri: vaultUri },
      },
    });
    const container = c.blob('stcontoso').getContainerClient('cmk-runbook');
    await container.create();
    const canary = container.getBlockBlobClient('canary');
    await canary.upload('canary', 6);
    await c.keys('kv-prop').updateKeyProperties('cmk', key.properties.version!, { enabled: false });
    await canary.getProperties();
    local.clock.advance(9 * MINUTE);
    assert.equal((await canary.getProperties()).contentLength, 6);
    local.clock.advance(MINUTE);
    await assert.rejects(canary.getProperties(), (e: { statusCode?: number }) => e.statusCode === 403);
  });

  test('when a test chooses the fast profile, then both delays are a few hundred milliseconds; explicit delays override a profile', () => {
    assert.deepEqual(timingFor('fast'), { roleAssignmentPropagationMs: 150, revocationPropagationMs: 100 });
    assert.deepEqual(timingFor(), {
      roleAssignmentPropagationMs: PROPAGATION_PROFILES.azure.roleAssignmentMs,
      revocationPropagationMs: PROPAGATION_PROFILES.azure.revocationMs,
    });
    assert.deepEqual(timingFor('fast', { revocationPropagationMs: 5 }), {
      roleAssignmentPropagationMs: 150,
      revocationPropagationMs: 5,
    });
    assert.throws(() => timingFor('slow' as 'fast'), /Unknown propagation profile "slow"/);
  });

  test('when npm start or azure:local read their environment, then LOCAL_AZURE_PROPAGATION picks the profile and the *_PROPAGATION_MS variables override it; a bad value is refused by name', () => {
    assert.deepEqual(propagationFromEnv({}, 'azure'), { propagation: 'azure' });
    assert.deepEqual(
      propagationFromEnv(
        { LOCAL_AZURE_PROPAGATION: 'fast', LOCAL_AZURE_REVOCATION_PROPAGATION_MS: '2000' },
        'azure',
      ),
      { propagation: 'fast', revocationPropagationMs: 2000 },
    );
    assert.throws(
      () => propagationFromEnv({ LOCAL_AZURE_ROLE_PROPAGATION_MS: 'soon' }, 'azure'),
      /LOCAL_AZURE_ROLE_PROPAGATION_MS must be a number of milliseconds/,
    );
    assert.throws(
      () => propagationFromEnv({ LOCAL_AZURE_PROPAGATION: 'slow' }, 'azure'),
      /Unknown propagation profile/,
    );
  });
});
