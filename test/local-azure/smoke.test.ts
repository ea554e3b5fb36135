import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startLocalAzure, type LocalAzure } from '../../src/local-azure';
import { clientsFor, RG_KEYS, RG_STORAGE } from './clients';

describe('smoke', () => {
  let local: LocalAzure;
  before(async () => {
    local = await startLocalAzure({ roleAssignmentPropagationMs: 50, revocationPropagationMs: 50 });
  });
  after(() => local.close());

  test('when clients are pointed at the local Azure, then the basic flow works', async () => {
    const c = clientsFor(local);
    const acct = await c.storage.storageAccounts.getProperties(RG_STORAGE, 'stcontoso');
    assert.equal(acct.name, 'stcontoso');
    const poller = await c.keyVault.vaults.beginCreateOrUpdateAndWait(
      RG_KEYS,
      'kv-smoke',
      {
        location: 'eastus',
        properties: {
          tenantId: local.tenantId,
          sku: { family: 'A', name: 'standard' },
          enablePurgeProtection: true,
          enableRbacAuthorization: false,
          accessPolicies: [
            {
              tenantId: local.tenantId,
              objectId: '5d2e8f71-3c4b-4f0a-8e6d-00000000a991',
              permissions: { keys: ['all'] },
            },
          ],
        },
      },
      { updateIntervalInMs: 10 },
    );
    assert.equal(poller.properties?.provisioningState, 'Succeeded');
    const key = await c.keys('kv-smoke').createRsaKey('k1', { keySize: 2048, tags: { run: 'x' } });
    assert.match(key.id ?? '', /^https:\/\/kv-smoke\.vault\.azure\.net\/keys\/k1\/[0-9a-f]{32}$/);
    const got = await c.keys('kv-smoke').getKey('k1');
    assert.equal(got.properties.tags?.run, 'x');
    const wrapped = await c.crypto(got.id!).wrapKey('RSA-OAEP', Buffer.from('hello'));
    const un = await c.crypto(got.id!).unwrapKey('RSA-OAEP', wrapped.result);
    assert.equal(Buffer.from(un.result).toString(), 'hello');
    console.log(
      local.requestLog
        .entries()
        .map((e) => `${e.service} ${e.method} ${e.path} ${e.status} ${e.operation}`)
        .join('\n'),
    );
  });
});
