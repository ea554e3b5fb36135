import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyVaultManagementClient } from '@azure/arm-keyvault';
import { clientsFor, retryOptions, RG_KEYS, SUB } from './clients';
import { RUNBOOK_OID, startForTest } from './fixtures';
import { beforeAll, lazy } from '../kit/suite';

describe('Microsoft.KeyVault on ARM', () => {
  const local = beforeAll(() => startForTest());
  const c = lazy(() => clientsFor(local));

  const vaultBody = (extra: Record<string, unknown> = {}) => ({
    location: 'eastus',
    properties: {
      tenantId: local.tenantId,
      sku: { family: 'A' as const, name: 'standard' as const },
      ...extra,
    },
  });

  test('when a vault is created, then the client polls the long-running operation until provisioning succeeded', async () => {
    const poller = c.keyVault.vaults.beginCreateOrUpdate(
      RG_KEYS,
      'kv-lro',
      vaultBody({ enablePurgeProtection: true }),
      { updateIntervalInMs: 5 },
    );
    const vault = await (await poller).pollUntilDone();
    assert.equal(vault.properties.provisioningState, 'Succeeded');
    assert.equal(vault.properties.vaultUri, 'https://kv-lro.vault.azure.net/');
    const ops = local.requestLog
      .entries({ path: /kv-lro|operationResults/ })
      .map((e) => `${e.method} ${e.operation} ${e.status}`);
    assert.deepEqual(ops.slice(0, 2), ['PUT vaults.createOrUpdate 201', 'GET operationResults.get 200']);
    assert.ok(ops.includes('GET vaults.get 200'), 'the final GET reads the vault');
  });

  test('when api-version 2026-02-01 creates a vault without saying, then it is in RBAC mode; 2025-05-01 keeps access policies', async () => {
    const rbac = await c.keyVault.vaults.beginCreateOrUpdateAndWait(RG_KEYS, 'kv-default-new', vaultBody(), {
      updateIntervalInMs: 5,
    });
    assert.equal(rbac.properties.enableRbacAuthorization, true);
    const old = new KeyVaultManagementClient(c.credential, SUB, {
      agent: local.agent,
      retryOptions,
      apiVersion: '2025-05-01',
    });
    const legacy = await old.vaults.beginCreateOrUpdateAndWait(
      RG_KEYS,
      'kv-default-old',
      vaultBody({ accessPolicies: [] }),
      { updateIntervalInMs: 5 },
    );
    assert.equal(legacy.properties.enableRbacAuthorization, false);
  });

  test('when a vault name breaks the naming rule, then ARM refuses it and checkNameAvailability says why', async () => {
    await assert.rejects(
      c.keyVault.vaults.beginCreateOrUpdateAndWait(RG_KEYS, 'kv--bad', vaultBody(), {
        updateIntervalInMs: 5,
      }),
      (e: { code?: string; statusCode?: number }) => e.statusCode === 400 && e.code === 'VaultNameNotValid',
    );
    const invalid = await c.keyVault.vaults.checkNameAvailability({
      name: '9starts-with-digit',
      type: 'Microsoft.KeyVault/vaults',
    });
    assert.deepEqual([invalid.nameAvailable, invalid.reason], [false, 'AccountNameInvalid']);
    const taken = await c.keyVault.vaults.checkNameAvailability({
      name: 'kv-rbac',
      type: 'Microsoft.KeyVault/vaults',
    });
    assert.deepEqual([taken.nameAvailable, taken.reason], [false, 'AlreadyExists']);
    const listed: string[] = [];
    for await (const v of c.keyVault.vaults.list()) listed.push(v.name ?? '');
    assert.ok(listed.includes('kv-rbac') && listed.includes('kv-nopurge'));
    const free = await c.keyVault.vaults.checkNameAvailability({
      name: 'kv-free-name',
      type: 'Microsoft.KeyVault/vaults',
    });
    assert.equal(free.nameAvailable, true);
  });

  test("when purge protection is turned off, then ARM refuses with Azure's message; turning it on works", async () => {
    await assert.rejects(
      c.keyVault.vaults.update(RG_KEYS, 'kv-rbac', { properties: { enablePurgeProtection: false } }),
      (e: { code?: string; message: string }) => e.code === 'BadRequest' && /irreversible/.test(e.message),
    );
    const on = await c.keyVault.vaults.update(RG_KEYS, 'kv-nopurge', {
      properties: { enablePurgeProtection: true },
    });
    assert.equal(on.properties?.enablePurgeProtection, true);
  });

  test('when access policies are added, replaced and removed, then they merge per principal', async () => {
    const oid = '11111111-2222-4333-8444-555555555555';
    const policy = (keys: string[]) => ({
      properties: { accessPolicies: [{ tenantId: local.tenantId, objectId: oid, permissions: { keys } }] },
    });
    await c.keyVault.vaults.updateAccessPolicy(RG_KEYS, 'kv-lro', 'add', policy(['get']));
    await c.keyVault.vaults.updateAccessPolicy(RG_KEYS, 'kv-lro', 'add', policy(['wrapKey', 'unwrapKey']));
    const mine = () =>
      local.state.getAccessPolicies('kv-lro').find((p) => p.objectId === oid)?.permissions.keys;
    assert.deepEqual(mine(), ['get', 'wrapKey', 'unwrapKey']);
    await c.keyVault.vaults.updateAccessPolicy(RG_KEYS, 'kv-lro', 'remove', policy(['wrapKey']));
    assert.deepEqual(mine(), ['get', 'unwrapKey']);
    await c.keyVault.vaults.updateAccessPolicy(RG_KEYS, 'kv-lro', 'replace', policy(['list']));
    assert.deepEqual(mine(), ['list']);
    await c.keyVault.vaults.updateAccessPolicy(RG_KEYS, 'kv-lro', 'remove', policy(['list']));
    assert.equal(mine(), undefined);
  });

  test('when a vault is deleted, then it is soft-deleted, its name stays taken, and it can be recovered', async () => {
    await c.keyVault.vaults.beginCreateOrUpdateAndWait(
      RG_KEYS,
      'kv-soft',
      vaultBody({ accessPolicies: [] }),
      { updateIntervalInMs: 5 },
    );
    await c.keyVault.vaults.delete(RG_KEYS, 'kv-soft');
    assert.equal(local.state.getVault(SUB, RG_KEYS, 'kv-soft'), undefined);
    const deleted = await c.keyVault.vaults.getDeleted('kv-soft', 'eastus');
    assert.equal(deleted.properties?.vaultId?.endsWith('/vaults/kv-soft'), true);
    const taken = await c.keyVault.vaults.checkNameAvailability({
      name: 'kv-soft',
      type: 'Microsoft.KeyVault/vaults',
    });
    assert.equal(taken.nameAvailable, false);
    await assert.rejects(
      c.keyVault.vaults.beginCreateOrUpdateAndWait(RG_KEYS, 'kv-soft', vaultBody(), {
        updateIntervalInMs: 5,
      }),
      (e: { code?: string; statusCode?: number }) => e.statusCode === 409 && e.code === 'ConflictError',
    );
    const recovered = await c.keyVault.vaults.beginCreateOrUpdateAndWait(
      RG_KEYS,
      'kv-soft',
      vaultBody({ createMode: 'recover' }),
      { updateIntervalInMs: 5 },
    );
    assert.equal(recovered.name, 'kv-soft');
    assert.ok(local.state.getVault(SUB, RG_KEYS, 'kv-soft'));
  });

  test('when a deleted vault is purged, then the name is free; with purge protection the purge is refused', async () => {
    await c.keyVault.vaults.delete(RG_KEYS, 'kv-soft');
    await c.keyVault.vaults.purgeDeleted('kv-soft', 'eastus', { updateIntervalInMs: 5 });
    assert.equal(
      local.state.listDeletedVaults().some((d) => d.name === 'kv-soft'),
      false,
    );
    await c.keyVault.vaults.delete(RG_KEYS, 'kv-lro');
    const refused = await c.keyVault.vaults
      .purgeDeleted('kv-lro', 'eastus', { updateIntervalInMs: 5 })
      .catch((e: unknown) => e);
    assert.equal((refused as { code?: string }).code, 'InvalidOperation');
    assert.equal(
      local.state.listDeletedVaults().some((d) => d.name === 'kv-lro'),
      true,
    );
  });

  test('when a vault is created by the runbook in RBAC mode, then it gets no data-plane rights until it grants itself a role', async () => {
    await c.keyVault.vaults.beginCreateOrUpdateAndWait(
      RG_KEYS,
      'kv-mine',
      vaultBody({ enableRbacAuthorization: true, enablePurgeProtection: true }),
      { updateIntervalInMs: 5 },
    );
    await assert.rejects(
      c.keys('kv-mine').createRsaKey('k'),
      (e: { statusCode?: number; code?: string }) => e.statusCode === 403 && e.code === 'Forbidden',
    );
    assert.equal(local.state.canUseKey('kv-mine', RUNBOOK_OID, 'get'), false);
  });

  test('when an ARM request has no token or a token for another resource, then ARM answers 401', async () => {
    const vaultToken = await c.credential.getToken('https://vault.azure.net/.default');
    const anonymous = new KeyVaultManagementClient(
      { getToken: async () => ({ token: 'not-a-token', expiresOnTimestamp: Date.now() + 3_600_000 }) },
      SUB,
      { agent: local.agent, retryOptions },
    );
    await assert.rejects(
      anonymous.vaults.get(RG_KEYS, 'kv-rbac'),
      (e: { statusCode?: number; code?: string }) =>
        e.statusCode === 401 && e.code === 'InvalidAuthenticationToken',
    );
    const wrongAudience = new KeyVaultManagementClient({ getToken: async () => vaultToken }, SUB, {
      agent: local.agent,
      retryOptions,
    });
    await assert.rejects(
      wrongAudience.vaults.get(RG_KEYS, 'kv-rbac'),
      (e: { code?: string }) => e.code === 'InvalidAuthenticationTokenAudience',
    );
  });
});
