import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CryptographyClient, KeyClient } from '@azure/keyvault-keys';
import type { LocalAzure } from '../../src/local-azure';
import { clientsFor } from './clients';
import { addWrapOnlyPrincipal, createCmkVault, createVault, plain, startForTest, WRAPPER } from './fixtures';

describe('Key Vault data plane', () => {
  let local: LocalAzure;
  let c: ReturnType<typeof clientsFor>;
  let keys: KeyClient;
  before(async () => {
    local = await startForTest();
    c = clientsFor(local);
    await createCmkVault(local, 'kv-data', 'first');
    await createCmkVault(local, 'kv-data-np', 'first', false);
    keys = c.keys('kv-data');
  });
  after(() => local.close());

  test('when a client calls for the first time, then it is challenged without a token and retries with one', async () => {
    const fresh = c.keys('kv-data');
    local.requestLog.clear();
    const key = await fresh.getKey('first');
    assert.equal(key.name, 'first');
    const calls = local.requestLog
      .entries({ service: 'keyvault' })
      .map((e) => [e.status, e.principalId ?? null, e.query['api-version']]);
    assert.deepEqual(calls, [
      [401, null, '2025-07-01'],
      [200, '5d2e8f71-3c4b-4f0a-8e6d-00000000a991', '2025-07-01'],
    ]);
  });

  test('when an HSM key is asked of a standard vault or an RSA key has a bad size, then Key Vault refuses it', async () => {
    await assert.rejects(
      keys.createRsaKey('hsm', { hsm: true }),
      (e: { code?: string; message: string }) =>
        e.code === 'BadParameter' && /standard vault/.test(e.message),
    );
    await assert.rejects(
      keys.createRsaKey('small', { keySize: 1024 }),
      (e: { code?: string }) => e.code === 'BadParameter',
    );
    const premium = c.keys('kv-rbac');
    const hsm = await premium.createRsaKey('hsm', { hsm: true, keySize: 2048 });
    assert.equal(hsm.keyType, 'RSA-HSM');
  });

  test('when a key has several versions, then listing them pages with nextLink', async () => {
    await keys.createRsaKey('paged', { tags: { run: 'cmk/sub/rg/acct' } });
    await keys.rotateKey('paged');
    await keys.rotateKey('paged');
    const pages: number[] = [];
    for await (const page of keys.listPropertiesOfKeyVersions('paged').byPage({ maxPageSize: 2 }))
      pages.push(page.length);
    assert.deepEqual(pages, [2, 1]);
    assert.equal(local.state.listKeyVersions('kv-data', 'paged').length, 3);
    const latest = await keys.getKey('paged');
    assert.equal(latest.properties.tags?.run, 'cmk/sub/rg/acct');
  });

  test('when a key version is disabled and given an expiry, then the vault reports it', async () => {
    const versions = local.state.listKeyVersions('kv-data', 'paged') as Array<{ key: { kid: string } }>;
    const first = versions[0]!.key.kid.split('/').pop()!;
    const expiresOn = new Date(Date.now() + 30 * 86_400_000);
    const updated = await keys.updateKeyProperties('paged', first, { enabled: false, expiresOn });
    assert.equal(updated.properties.enabled, false);
    assert.equal(updated.properties.expiresOn?.getTime(), Math.floor(expiresOn.getTime() / 1000) * 1000);
    const again = local.state.listKeyVersions('kv-data', 'paged') as Array<{
      attributes: { enabled: boolean };
    }>;
    assert.deepEqual(
      again.map((v) => v.attributes.enabled),
      [false, true, true],
    );
  });

  test('when no rotation policy is set, then the default Notify action is returned; a set policy keeps Notify', async () => {
    const initial = await keys.getKeyRotationPolicy('first');
    assert.deepEqual(plain(initial.lifetimeActions), [{ action: 'Notify', timeBeforeExpiry: 'P30D' }]);
    const set = await keys.updateKeyRotationPolicy('first', {
      lifetimeActions: [{ action: 'Rotate', timeAfterCreate: 'P90D' }],
      expiresIn: 'P1Y',
    });
    assert.deepEqual(plain(set.lifetimeActions), [
      { action: 'Rotate', timeAfterCreate: 'P90D' },
      { action: 'Notify', timeBeforeExpiry: 'P30D' },
    ]);
    assert.equal(set.expiresIn, 'P1Y');
    await assert.rejects(
      keys.updateKeyRotationPolicy('first', { lifetimeActions: [], expiresIn: 'P7D' }),
      (e: { code?: string }) => e.code === 'BadParameter',
    );
    const rotated = await keys.rotateKey('first');
    assert.ok(
      rotated.properties.expiresOn && rotated.properties.expiresOn.getTime() > Date.now() + 300 * 86_400_000,
    );
  });

  test('when a key is deleted, then it is soft-deleted, its name is reserved, and it can be recovered', async () => {
    await keys.createRsaKey('gone');
    const poller = await keys.beginDeleteKey('gone', { intervalInMs: 5 });
    const deleted = await poller.pollUntilDone();
    assert.equal(deleted.properties.recoveryId, 'https://kv-data.vault.azure.net/deletedkeys/gone');
    assert.equal(
      local.state.listKeys('kv-data').some((k) => (k as { key: { kid: string } }).key.kid.includes('/gone/')),
      false,
    );
    await assert.rejects(
      keys.createRsaKey('gone'),
      (e: { statusCode?: number; message: string }) =>
        e.statusCode === 409 && /deleted but recoverable/.test(e.message),
    );
    const recover = await keys.beginRecoverDeletedKey('gone', { intervalInMs: 5 });
    assert.equal((await recover.pollUntilDone()).name, 'gone');
    assert.equal((await keys.getKey('gone')).properties.enabled, true);
  });

  test('when a deleted key is purged, then purge protection refuses it; without it the key is gone for good', async () => {
    await (await keys.beginDeleteKey('gone', { intervalInMs: 5 })).pollUntilDone();
    await assert.rejects(
      keys.purgeDeletedKey('gone'),
      (e: { statusCode?: number; message: string }) =>
        e.statusCode === 403 && /purge protection/.test(e.message),
    );
    const np = c.keys('kv-data-np');
    await (await np.beginDeleteKey('first', { intervalInMs: 5 })).pollUntilDone();
    await np.purgeDeletedKey('first');
    await assert.rejects(np.getDeletedKey('first'), (e: { statusCode?: number }) => e.statusCode === 404);
    const fresh = await np.createRsaKey('first');
    assert.equal(fresh.name, 'first');
  });

  test('when a principal may only wrap and unwrap, then the service wraps and unwraps for real and refuses reads', async () => {
    const credential = await addWrapOnlyPrincipal(local, 'kv-data');
    const kid = (await keys.getKey('first')).id!;
    const crypto = new CryptographyClient(kid, credential, { agent: local.agent });
    const secret = Buffer.from('0123456789abcdef0123456789abcdef');
    for (const alg of ['RSA-OAEP', 'RSA-OAEP-256'] as const) {
      const wrapped = await crypto.wrapKey(alg, secret);
      assert.notDeepEqual(Buffer.from(wrapped.result), secret);
      const unwrapped = await crypto.unwrapKey(alg, wrapped.result);
      assert.deepEqual(Buffer.from(unwrapped.result), secret);
    }
    assert.ok(
      local.requestLog.entries({ operation: 'keys.wrapKey', principalId: WRAPPER.objectId, status: 200 })
        .length >= 2,
      'wrap ran in the service',
    );
    const reader = new KeyClient('https://kv-data.vault.azure.net', credential, { agent: local.agent });
    await assert.rejects(
      reader.getKey('first'),
      (e: { statusCode?: number; message: string }) =>
        e.statusCode === 403 && /does not have keys get permission/.test(e.message),
    );
    await keys.updateKeyProperties('first', kid.split('/').pop()!, { enabled: false });
    await assert.rejects(
      crypto.unwrapKey('RSA-OAEP', Buffer.alloc(256)),
      (e: { statusCode?: number }) => e.statusCode === 403,
    );
  });

  test('when more than 20 keys are created in a vault within 10 seconds, then Key Vault throttles with 429', async () => {
    // A vault no create has touched: the burst opens its fixed 10-second window, so all 21 land in
    // one window however slowly the tests before it ran (an earlier create there opens the window
    // early, and the burst can straddle its end).
    await createVault(local, 'kv-data-burst');
    const impatient = new KeyClient('https://kv-data-burst.vault.azure.net', c.credential, {
      agent: local.agent,
      retryOptions: { maxRetries: 0 },
    });
    const created = await Promise.allSettled(
      Array.from({ length: 21 }, (_, i) => impatient.createRsaKey(`burst-${i}`)),
    );
    const throttled = created
      .filter((r) => r.status === 'rejected')
      .map((r) => r.reason as { statusCode?: number; code?: string });
    assert.ok(
      throttled.length >= 1 && throttled.every((e) => e.statusCode === 429 && e.code === 'Throttled'),
    );
    assert.ok(local.requestLog.entries({ status: 429, service: 'keyvault' }).length >= 1);
  });
});
