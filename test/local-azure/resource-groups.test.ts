import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createResourceGroupsClient } from '../../scripts/smoke/resource-groups';
import { clientsFor, SUB } from './clients';
import { RUNBOOK_OID, startForTest } from './fixtures';
import { beforeAll, lazy } from '../kit/suite';

const BLOB_DATA_READER = `/subscriptions/${SUB}/providers/Microsoft.Authorization/roleDefinitions/2a2b9908-6ea1-4ae2-8e65-a410df84e7d1`;

describe('resource groups and storage account creation (the throwaway resources of a smoke run)', () => {
  const local = beforeAll(() => startForTest());
  const c = lazy(() => clientsFor(local));
  const groups = lazy(() => createResourceGroupsClient(c.credential, SUB, { agent: local.agent }));
  const writes = () => local.requestLog.writes().map((w) => `${w.method} ${w.status}`);

  test('when a resource group is put twice, then ARM answers 201 Created and then 200 OK with the tags of the second, and Check Existence 204 (rest/api/resources/resource-groups/create-or-update, check-existence)', async () => {
    local.requestLog.clear();
    const created = await groups.createOrUpdate('rg-smoke-one', {
      location: 'westeurope',
      tags: { purpose: 'a' },
    });
    assert.equal(created.properties?.provisioningState, 'Succeeded');
    const again = await groups.createOrUpdate('rg-smoke-one', {
      location: 'westeurope',
      tags: { purpose: 'b' },
    });
    assert.deepEqual(again.tags, { purpose: 'b' });
    assert.deepEqual(writes(), ['PUT 201', 'PUT 200']);
    assert.equal((await groups.get('rg-smoke-one'))?.location, 'westeurope');
    assert.equal(await groups.get('rg-never-made'), undefined);
    // Check Existence: HEAD answers 204 or 404.
    assert.deepEqual(
      [await groups.exists('rg-smoke-one'), await groups.exists('rg-never-made')],
      [true, false],
    );
  });

  test('when a resource group is put in another location or without one, then ARM refuses with InvalidResourceGroupLocation / LocationRequired', async () => {
    await assert.rejects(
      groups.createOrUpdate('rg-smoke-one', { location: 'eastus' }),
      (e: { statusCode?: number; code?: string }) =>
        e.statusCode === 400 && e.code === 'InvalidResourceGroupLocation',
    );
    await assert.rejects(
      groups.createOrUpdate('rg-smoke-nowhere', { location: '' }),
      (e: { statusCode?: number; code?: string }) => e.statusCode === 400 && e.code === 'LocationRequired',
    );
  });

  test('when a storage account is created with the SDK (beginCreateAndWait), then ARM answers 202 + Location, the poll 202 then 200, and the account reads back on Microsoft-managed keys (storage-accounts/create)', async () => {
    await groups.createOrUpdate('rg-smoke-two', { location: 'eastus' });
    local.requestLog.clear();
    const account = await c.storage.storageAccounts.beginCreateAndWait(
      'rg-smoke-two',
      'stsmokecreate1',
      { location: 'eastus', sku: { name: 'Standard_LRS' }, kind: 'StorageV2', tags: { purpose: 'smoke' } },
      { updateIntervalInMs: 10 },
    );
    assert.equal(account.name, 'stsmokecreate1');
    assert.equal(account.encryption?.keySource, 'Microsoft.Storage');
    const log = local.requestLog.entries().filter((e) => e.service === 'arm');
    assert.deepEqual(log.map((e) => `${e.method} ${e.status}`).slice(0, 3), [
      'PUT 202',
      'GET 202',
      'GET 200',
    ]);
    assert.match(
      log[1]?.path ?? '',
      /\/providers\/Microsoft\.Storage\/locations\/eastus\/asyncoperations\//i,
    );
    const read = await c.storage.storageAccounts.getProperties('rg-smoke-two', 'stsmokecreate1');
    assert.deepEqual(read.tags, { purpose: 'smoke' });
  });

  test('when an existing storage account is created again, then ARM answers 200 with it, its tags updated; an identity at creation is refused as not emulated and nothing is made (storage-accounts/create)', async () => {
    const body = { location: 'eastus', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' } as const;
    await groups.createOrUpdate('rg-smoke-again', { location: 'eastus' });
    await c.storage.storageAccounts.beginCreateAndWait('rg-smoke-again', 'stsmokeagain1', body, {
      updateIntervalInMs: 10,
    });
    local.requestLog.clear();
    const again = await c.storage.storageAccounts.beginCreateAndWait(
      'rg-smoke-again',
      'stsmokeagain1',
      { ...body, tags: { purpose: 'again' } },
      { updateIntervalInMs: 10 },
    );
    assert.deepEqual(again.tags, { purpose: 'again' });
    assert.equal(local.requestLog.entries({ service: 'arm' })[0]?.status, 200);
    await assert.rejects(
      c.storage.storageAccounts.beginCreateAndWait(
        'rg-smoke-again',
        'stsmokeidentity',
        { ...body, identity: { type: 'SystemAssigned' } },
        { updateIntervalInMs: 10 },
      ),
      (e: { statusCode?: number; code?: string }) => e.statusCode === 400 && e.code === 'PropertyNotEmulated',
    );
    assert.equal(local.state.getStorageAccount(SUB, 'rg-smoke-again', 'stsmokeidentity'), undefined);
  });

  test('when a storage account name is invalid or taken, or its group is missing, then ARM refuses with AccountNameInvalid / StorageAccountAlreadyTaken / ResourceGroupNotFound and nothing is made', async () => {
    const body = { location: 'eastus', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' } as const;
    await assert.rejects(
      c.storage.storageAccounts.beginCreateAndWait('rg-smoke-two', 'Not_Valid', body, {
        updateIntervalInMs: 10,
      }),
      (e: { statusCode?: number; code?: string }) => e.statusCode === 400 && e.code === 'AccountNameInvalid',
    );
    // stfinance is a seeded account in another resource group.
    await assert.rejects(
      c.storage.storageAccounts.beginCreateAndWait('rg-smoke-two', 'stfinance', body, {
        updateIntervalInMs: 10,
      }),
      (e: { statusCode?: number; code?: string }) =>
        e.statusCode === 409 && e.code === 'StorageAccountAlreadyTaken',
    );
    await assert.rejects(
      c.storage.storageAccounts.beginCreateAndWait('rg-smoke-absent', 'stsmokenogroup', body, {
        updateIntervalInMs: 10,
      }),
      (e: { statusCode?: number; code?: string }) =>
        e.statusCode === 404 && e.code === 'ResourceGroupNotFound',
    );
    assert.equal(local.state.getStorageAccount(SUB, 'rg-smoke-absent', 'stsmokenogroup'), undefined);
  });

  test('when a resource group is deleted, then ARM answers 202 + Location until it is gone, and its accounts, identities and role assignments are gone and its purge-protected vault is soft-deleted (resource-groups/delete, soft-delete-overview)', async () => {
    await groups.createOrUpdate('rg-smoke-three', { location: 'eastus' });
    await c.storage.storageAccounts.beginCreateAndWait(
      'rg-smoke-three',
      'stsmokedelete1',
      { location: 'eastus', sku: { name: 'Standard_LRS' }, kind: 'StorageV2' },
      { updateIntervalInMs: 10 },
    );
    const identity = await c.msi.userAssignedIdentities.createOrUpdate('rg-smoke-three', 'id-smoke', {
      location: 'eastus',
    });
    await c.keyVault.vaults.beginCreateOrUpdateAndWait(
      'rg-smoke-three',
      'kv-smoke-delete1',
      {
        location: 'eastus',
        properties: {
          tenantId: local.tenantId,
          sku: { family: 'A', name: 'standard' },
          enablePurgeProtection: true,
          softDeleteRetentionInDays: 7,
          accessPolicies: [],
        },
      },
      { updateIntervalInMs: 10 },
    );
    const scope = `/subscriptions/${SUB}/resourceGroups/rg-smoke-three`;
    await c.authorization.roleAssignments.create(scope, '6a1b2c3d-0000-4000-8000-00000000d001', {
      roleDefinitionId: BLOB_DATA_READER,
      principalId: RUNBOOK_OID,
    });

    local.requestLog.clear();
    await groups.deleteAndWait('rg-smoke-three', { pollIntervalMs: 10 });
    const log = local.requestLog.entries().filter((e) => e.service === 'arm');
    assert.deepEqual(
      log.map((e) => `${e.method} ${e.status}`),
      ['DELETE 202', 'GET 202', 'GET 200'],
    );
    assert.match(log[1]?.path ?? '', new RegExp(`^/subscriptions/${SUB}/operationresults/`, 'i'));

    assert.equal(await groups.exists('rg-smoke-three'), false);
    assert.equal(local.state.getStorageAccount(SUB, 'rg-smoke-three', 'stsmokedelete1'), undefined);
    assert.equal(local.state.getPrincipal(identity.principalId!), undefined);
    assert.deepEqual(local.state.listRoleAssignments(scope), []);
    const deleted = await c.keyVault.vaults.getDeleted('kv-smoke-delete1', 'eastus');
    const days =
      (Date.parse(deleted.properties?.scheduledPurgeDate?.toISOString() ?? '') - Date.now()) / 86_400_000;
    assert.ok(days > 6.9 && days <= 7, `scheduled purge in ${days} days`);
    await assert.rejects(
      c.keyVault.vaults.beginPurgeDeletedAndWait('kv-smoke-delete1', 'eastus', { updateIntervalInMs: 10 }),
      (e: { statusCode?: number; code?: string }) => e.statusCode === 409 && e.code === 'InvalidOperation',
    );
  });
});
