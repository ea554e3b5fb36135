import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LocalAzure } from '../../src/local-azure';
import { clientsFor, RG_STORAGE } from './clients';
import { createCmkVault, grantAccountKeyAccess, startForTest } from './fixtures';

// Source: learn.microsoft.com storage/blobs/encryption-scope-manage ("Create an encryption scope
// protected by customer-managed keys": the account's managed identity needs get, wrapKey and
// unwrapKey on the key; scopes are disabled, never deleted) and the REST API EncryptionScopes
// (Put 200/201, Patch 200, Get 200, List {value, nextLink}).
describe('encryption scopes of a storage account', () => {
  let local: LocalAzure;
  let c: ReturnType<typeof clientsFor>;
  let vaultUri: string;
  let version: string;
  before(async () => {
    local = await startForTest();
    c = clientsFor(local);
    const made = await createCmkVault(local, 'kv-scopes');
    vaultUri = made.vaultUri;
    version = made.key.properties.version!;
  });
  after(() => local.close());

  test('when a scope names a key the account identity may use, then Storage records the version it uses and lists it', async () => {
    await grantAccountKeyAccess(local, 'starchive', 'kv-scopes');
    const made = await c.storage.encryptionScopes.put(RG_STORAGE, 'starchive', 'scope-cmk', {
      source: 'Microsoft.KeyVault',
      keyVaultProperties: { keyUri: `${vaultUri}keys/cmk` },
    });
    assert.equal(made.source, 'Microsoft.KeyVault');
    assert.equal(made.state, 'Enabled');
    assert.equal(made.keyVaultProperties?.currentVersionedKeyIdentifier, `${vaultUri}keys/cmk/${version}`);
    await c.storage.encryptionScopes.put(RG_STORAGE, 'starchive', 'scope-msft', {
      source: 'Microsoft.Storage',
    });
    const names: string[] = [];
    for await (const s of c.storage.encryptionScopes.list(RG_STORAGE, 'starchive')) names.push(s.name ?? '');
    assert.deepEqual(names.sort(), ['scope-cmk', 'scope-msft']);
  });

  test('when the account identity has no access to the key, then the scope is refused with KeyVaultAuthenticationFailure', async () => {
    await c.storage.storageAccounts.update(RG_STORAGE, 'stcontoso', { identity: { type: 'SystemAssigned' } });
    await assert.rejects(
      c.storage.encryptionScopes.put(RG_STORAGE, 'stcontoso', 'scope-denied', {
        source: 'Microsoft.KeyVault',
        keyVaultProperties: { keyUri: `${vaultUri}keys/cmk` },
      }),
      (e: { statusCode?: number; code?: string }) =>
        e.statusCode === 400 && e.code === 'KeyVaultAuthenticationFailure',
    );
    await assert.rejects(c.storage.encryptionScopes.get(RG_STORAGE, 'stcontoso', 'scope-denied'), {
      statusCode: 404,
    });
  });

  test('when a scope name breaks the naming rule, then it is refused and nothing is stored', async () => {
    await assert.rejects(
      c.storage.encryptionScopes.put(RG_STORAGE, 'starchive', 'Bad_Scope', { source: 'Microsoft.Storage' }),
      (e: { code?: string }) => e.code === 'InvalidEncryptionScopeName',
    );
  });

  test('when a scope is disabled by patch, then it stays listed with state Disabled', async () => {
    const patched = await c.storage.encryptionScopes.patch(RG_STORAGE, 'starchive', 'scope-msft', {
      state: 'Disabled',
    });
    assert.equal(patched.state, 'Disabled');
    assert.equal(
      (await c.storage.encryptionScopes.get(RG_STORAGE, 'starchive', 'scope-msft')).state,
      'Disabled',
    );
  });
});
