import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createMetrics, type CmkMetrics } from '../../src/telemetry/metrics';
import { startHarness } from './harness';
import { beforeAll } from '../kit/suite';

/** `cmk_azure_requests_total` as {service/status: count}. */
async function counts(metrics: CmkMetrics): Promise<Record<string, number>> {
  const { values } = await metrics.azureRequests.get();
  return Object.fromEntries(values.map((v) => [`${v.labels.service}/${v.labels.status}`, v.value]));
}

describe('cmk_azure_requests_total: every Azure answer the worker gets, by service and status', () => {
  const h = beforeAll(() => startHarness({ metrics }));
  const metrics = createMetrics('worker');

  test('when the data-access probe runs twice on one cached blob client, then it answers both times and every blob data-plane call is counted under storage', async () => {
    const { account } = await h.cmkAccount({ keyName: 'cmk-metrics', pinVersion: false });
    // Each probe derives container and blob clients from the cached service client: they share
    // its pipeline, which must carry the counting policy once (twice fails every request).
    for (let i = 0; i < 2; i++) {
      const probe = await h.run((a) => a.probeDataAccess({ account, expect: 'allowed', withinMs: 2_000 }));
      assert.equal(probe.state, 'allowed');
    }
    const seen = await counts(metrics);
    const blob = h.local.requestLog.entries().filter((e) => e.service === 'blob');
    assert.ok(blob.length >= 2, `blob calls answered: ${blob.length}`);
    const byStatus = new Map<number, number>();
    for (const e of blob) byStatus.set(e.status, (byStatus.get(e.status) ?? 0) + 1);
    for (const [status, n] of byStatus)
      assert.equal(seen[`storage/${status}`], n, `storage/${status}: ${JSON.stringify(seen)}`);
    assert.ok((seen['arm/200'] ?? 0) > 0 && (seen['keyvault/200'] ?? 0) > 0, JSON.stringify(seen));
  });

  test('when Azure answers 503 once, then an ARM call counts both attempts and a blob call counts once, with its last attempt (storage-blob retries inside its pipeline)', async () => {
    const { account } = await h.cmkAccount({ keyName: 'cmk-retried', pinVersion: false });
    await h.run((a) => a.probeDataAccess({ account, expect: 'allowed', withinMs: 2_000 }));
    const before = await counts(metrics);
    const busy = { status: 503, code: 'ServerBusy', times: 1, retryAfterSeconds: 0 };
    h.local.faults.set({
      routes: [
        { ...busy, method: 'GET', pathPattern: `/storageAccounts/${account.name}$` },
        { ...busy, method: 'HEAD', pathPattern: '/canary$' },
      ],
    });
    try {
      await h.azure
        .storage(account.subscriptionId)
        .storageAccounts.getProperties(account.resourceGroup, account.name);
      const probe = await h.run((a) => a.probeDataAccess({ account, expect: 'allowed', withinMs: 2_000 }));
      assert.equal(probe.state, 'allowed');
    } finally {
      h.local.faults.reset();
    }
    const after = await counts(metrics);
    const added = (key: string) => (after[key] ?? 0) - (before[key] ?? 0);
    assert.equal(added('arm/503'), 1, 'the throttled ARM attempt');
    assert.equal(added('storage/503'), 0, 'the blob attempt storage-blob retried is not seen');
    assert.ok(added('storage/200') >= 1, 'the blob call, once, as it ended');
    assert.ok(
      h.local.requestLog.entries().some((e) => e.service === 'blob' && e.status === 503),
      'Azure did answer a blob call with 503 first',
    );
  });
});
