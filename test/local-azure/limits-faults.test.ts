import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientSecretCredential } from '@azure/identity';
import { StorageManagementClient } from '@azure/arm-storage';
import { AuthorizationManagementClient } from '@azure/arm-authorization';
import { Faults } from '../../src/local-azure/faults';
import { clientsFor, RG_STORAGE, SUB } from './clients';
import { startForTest } from './fixtures';
import { beforeAll, lazy } from '../kit/suite';

describe('tokens, limits, faults and the request log', () => {
  const local = beforeAll(() => startForTest());
  const c = lazy(() => clientsFor(local));

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

  test('when resources are deleted, then ARM spends its own deletes bucket and reports x-ms-ratelimit-remaining-subscription-deletes (learn.microsoft.com: request-limits-and-throttling)', async () => {
    const small = await startForTest({ armLimits: { deletes: { burst: 2, refillPerSecond: 0.1 } } });
    try {
      const sc = clientsFor(small);
      const impatient = new AuthorizationManagementClient(sc.credential, SUB, {
        agent: small.agent,
        retryOptions: { maxRetries: 0 },
      });
      const scope = `/subscriptions/${SUB}/resourceGroups/${RG_STORAGE}`;
      const headers: Array<[string | undefined, string | undefined]> = [];
      const onResponse = (r: { headers: { get(n: string): string | undefined } }) =>
        headers.push([
          r.headers.get('x-ms-ratelimit-remaining-subscription-deletes'),
          r.headers.get('x-ms-ratelimit-remaining-subscription-writes'),
        ]);
      await impatient.roleAssignments.delete(scope, '0d1e2f30-4a5b-4c6d-8e7f-0000000000d1', { onResponse });
      await impatient.roleAssignments.delete(scope, '0d1e2f30-4a5b-4c6d-8e7f-0000000000d2', { onResponse });
      assert.deepEqual(headers, [
        ['1', undefined],
        ['0', undefined],
      ]);
      await assert.rejects(
        impatient.roleAssignments.delete(scope, '0d1e2f30-4a5b-4c6d-8e7f-0000000000d3'),
        (e: { statusCode?: number; code?: string; message: string }) =>
          e.statusCode === 429 &&
          e.code === 'SubscriptionRequestsThrottled' &&
          /Number of 'delete' requests/.test(e.message),
      );
      const written = await sc.storage.storageAccounts.update(RG_STORAGE, 'stcontoso', { tags: { a: 'b' } });
      assert.equal(written.tags?.a, 'b', 'writes have their own bucket');
    } finally {
      await small.close();
    }
  });

  test("when ARM answers, then it carries x-ms-correlation-request-id (the caller's, echoed) and x-ms-routing-request-id as REGION:timestamp:guid (ARM response headers)", async () => {
    const seen: Array<Record<string, string | undefined>> = [];
    const onResponse = (r: { headers: { get(n: string): string | undefined } }) =>
      seen.push({
        correlation: r.headers.get('x-ms-correlation-request-id'),
        routing: r.headers.get('x-ms-routing-request-id'),
      });
    await c.storage.storageAccounts.getProperties(RG_STORAGE, 'stcontoso', { onResponse });
    const traced = new StorageManagementClient(c.credential, SUB, {
      agent: local.agent,
      additionalPolicies: [
        {
          position: 'perCall',
          policy: {
            name: 'correlation',
            sendRequest: (request, next) => {
              request.headers.set('x-ms-correlation-request-id', 'trace-42');
              return next(request);
            },
          },
        },
      ],
    });
    await traced.storageAccounts.getProperties(RG_STORAGE, 'stcontoso', { onResponse });
    await assert.rejects(c.storage.storageAccounts.getProperties(RG_STORAGE, 'stnone', { onResponse }));
    assert.equal(seen.length, 3);
    for (const s of seen) assert.match(s.routing ?? '', /^[A-Z]+:\d{8}T\d{6}Z:[0-9a-f-]{36}$/);
    assert.match(seen[0]!.correlation ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(seen[1]!.correlation, 'trace-42');
    assert.match(seen[2]!.correlation ?? '', /^[0-9a-f-]{36}$/, 'errors carry them too');
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
