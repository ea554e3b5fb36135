import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientSecretCredential } from '@azure/identity';
import { StorageManagementClient } from '@azure/arm-storage';
import type { LocalAzure } from '../../src/local-azure';
import { Faults } from '../../src/local-azure/faults';
import { clientsFor, RG_STORAGE, SUB } from './clients';
import { startForTest } from './fixtures';

describe('tokens, limits, faults and the request log', () => {
  let local: LocalAzure;
  let c: ReturnType<typeof clientsFor>;
  before(async () => {
    local = await startForTest();
    c = clientsFor(local);
  });
  after(() => local.close());

  test('when the client secret is wrong, then Entra refuses the token', async () => {
    const bad = new ClientSecretCredential(local.tenantId, local.credentials.clientId, 'wrong', {
      agent: local.agent,
    });
    await assert.rejects(bad.getToken('https://management.azure.com/.default'), /AADSTS7000215/);
    const token = await c.credential.getToken('https://management.azure.com/.default');
    const claims = JSON.parse(Buffer.from(token.token.split('.')[1]!, 'base64url').toString()) as Record<
      string,
      string
    >;
    assert.deepEqual(
      [claims.oid, claims.tid, claims.aud],
      ['5d2e8f71-3c4b-4f0a-8e6d-00000000a991', local.tenantId, 'https://management.azure.com'],
    );
  });

  test('when reads exceed the subscription bucket, then ARM answers 429 with Retry-After and the SDK retries after it', async () => {
    const remaining: string[] = [];
    await c.storage.storageAccounts.getProperties(RG_STORAGE, 'stcontoso', {
      onResponse: (r) => remaining.push(r.headers.get('x-ms-ratelimit-remaining-subscription-reads') ?? ''),
    });
    assert.equal(remaining[0], '249', 'a read takes one token of the 250 burst');
    const small = await startForTest({ armLimits: { reads: { burst: 5, refillPerSecond: 2 } } });
    try {
      const sc = clientsFor(small);
      const impatient = new StorageManagementClient(sc.credential, SUB, {
        agent: small.agent,
        retryOptions: { maxRetries: 0 },
      });
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, () => impatient.storageAccounts.getProperties(RG_STORAGE, 'stcontoso')),
      );
      const throttled = results
        .filter((r) => r.status === 'rejected')
        .map((r) => r.reason as { statusCode?: number; code?: string });
      assert.ok(throttled.length >= 1);
      assert.ok(throttled.every((e) => e.statusCode === 429 && e.code === 'SubscriptionRequestsThrottled'));
      const patient = await sc.storage.storageAccounts.getProperties(RG_STORAGE, 'stcontoso');
      assert.equal(patient.name, 'stcontoso');
      const statuses = small.requestLog.entries({ path: /storageAccounts\/stcontoso$/ }).map((e) => e.status);
      assert.ok(statuses.includes(429) && statuses.at(-1) === 200);
    } finally {
      await small.close();
    }
  });

  test('when a route fails twice with 503, then the SDK retries and the third attempt succeeds', async () => {
    local.faults.set({
      routes: [
        {
          method: 'GET',
          pathPattern: '/storageAccounts/stfinance$',
          status: 503,
          code: 'ServiceUnavailable',
          times: 2,
        },
      ],
    });
    const a = await c.storage.storageAccounts.getProperties(RG_STORAGE, 'stfinance');
    assert.equal(a.name, 'stfinance');
    assert.deepEqual(
      local.requestLog.entries({ path: /stfinance$/ }).map((e) => e.status),
      [503, 503, 200],
    );
    local.faults.reset();
  });

  test('when a 429 storm has no Retry-After, then the SDK gives up at once; with Retry-After it waits and succeeds', async () => {
    local.faults.set({ routes: [{ pathPattern: '/keys/', status: 429, code: 'Throttled', times: 1 }] });
    await assert.rejects(
      c.keys('kv-nopurge').createRsaKey('storm'),
      (e: { statusCode?: number }) => e.statusCode === 429,
    );
    local.faults.set({
      routes: [
        {
          pathPattern: '/storageAccounts/starchive$',
          status: 429,
          code: 'TooManyRequests',
          times: 1,
          retryAfterSeconds: 0,
        },
      ],
    });
    const a = await c.storage.storageAccounts.getProperties(RG_STORAGE, 'starchive');
    assert.equal(a.name, 'starchive');
    local.faults.reset();
  });

  test('when latencies are set per service and method, then each request gets the first rule that matches it', () => {
    const faults = new Faults();
    faults.set({
      latencyMs: 5,
      latencies: [
        { service: 'arm', method: 'write', ms: 1000 },
        { service: 'arm', ms: 80 },
        { service: 'keyvault', method: 'POST', ms: 250 },
      ],
    });
    assert.deepEqual(
      [
        faults.latencyMs('arm', 'PATCH'),
        faults.latencyMs('arm', 'DELETE'),
        faults.latencyMs('arm', 'GET'),
        faults.latencyMs('keyvault', 'POST'),
        faults.latencyMs('keyvault', 'GET'),
        faults.latencyMs('blob', 'GET'),
      ],
      [1000, 1000, 80, 250, 5, 5],
    );
  });

  test('when faults are set through the admin endpoint, then every request fails until they are cleared', async () => {
    const set = await fetch(`${local.proxyUrl}/admin/faults`, {
      method: 'PUT',
      body: JSON.stringify({ errorRate: 1 }),
    });
    assert.equal(set.status, 200);
    const failing = new StorageManagementClient(c.credential, SUB, {
      agent: local.agent,
      retryOptions: { maxRetries: 0 },
    });
    await assert.rejects(
      failing.storageAccounts.getProperties(RG_STORAGE, 'stcontoso'),
      (e: { statusCode?: number }) => e.statusCode === 503,
    );
    assert.equal((await fetch(`${local.proxyUrl}/admin/faults`, { method: 'DELETE' })).status, 204);
    assert.equal((await failing.storageAccounts.getProperties(RG_STORAGE, 'stcontoso')).name, 'stcontoso');
    const before = local.clock.now().getTime();
    const moved = (await (
      await fetch(`${local.proxyUrl}/admin/clock/advance`, {
        method: 'POST',
        body: JSON.stringify({ ms: 3_600_000 }),
      })
    ).json()) as { now: string };
    assert.ok(Date.parse(moved.now) - before >= 3_600_000);
  });

  test('when changes are made, then the request log lists them as writes with the caller, and reads are not writes', async () => {
    local.requestLog.clear();
    await c.storage.storageAccounts.getProperties(RG_STORAGE, 'stcontoso');
    await c.storage.storageAccounts.update(RG_STORAGE, 'stcontoso', { tags: { owner: 'cmk' } });
    await c.keys('kv-nopurge').createRsaKey('logged');
    const writes = local.requestLog.writes().map((e) => [e.service, e.method, e.operation, e.principalId]);
    assert.deepEqual(writes, [
      ['arm', 'PATCH', 'storageAccounts.update', '5d2e8f71-3c4b-4f0a-8e6d-00000000a991'],
      ['keyvault', 'POST', 'keys.create', '5d2e8f71-3c4b-4f0a-8e6d-00000000a991'],
    ]);
    const viaAdmin = (await (
      await fetch(`${local.proxyUrl}/admin/requests?writes=true`)
    ).json()) as unknown[];
    assert.equal(viaAdmin.length, 2);
  });

  test('when a client tunnels to a host that is not Azure, then the proxy refuses the CONNECT', async () => {
    await assert.rejects(
      fetch(`${local.proxyUrl}/not-admin`).then((r) =>
        r.status === 403 ? Promise.reject(new Error('403')) : r,
      ),
      /403/,
    );
    const { request } = await import('node:https');
    const status = await new Promise<number | undefined>((resolve, reject) =>
      request('https://example.com/', { agent: local.agent }, (res) => resolve(res.statusCode))
        .on('error', reject)
        .end(),
    );
    assert.equal(status, 403);
  });
});
