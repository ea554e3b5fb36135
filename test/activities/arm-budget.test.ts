import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ArmBudget } from '../../src/activities/arm-budget';
import type { AccountRef } from '../../src/shared/accounts';
import { SUB, startHarness } from './harness';
import { beforeAll } from '../kit/suite';

/** A budget on a virtual clock: sleeping moves the clock, and every wait is recorded. */
function virtualBudget(burst: number, perSecond: number): { budget: ArmBudget; waits: number[] } {
  let now = 0;
  const waits: number[] = [];
  const limit = { burst, perSecond };
  const budget = new ArmBudget(
    { reads: limit, writes: limit, deletes: limit },
    () => now,
    (ms) => {
      waits.push(Math.round(ms));
      now += ms;
      return Promise.resolve();
    },
  );
  return { budget, waits };
}

describe('ARM budget', () => {
  test('when more writes than the burst are sent at once, then the surplus goes one refilled token at a time, in order', async () => {
    const { budget, waits } = virtualBudget(3, 10);
    const order = await Promise.all(Array.from({ length: 6 }, () => budget.take(SUB, 'writes')));
    assert.deepEqual(order, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(waits, [100, 100, 100]);
    assert.equal(budget.balance(SUB, 'writes'), 0);
    assert.equal(budget.balance(SUB, 'reads'), 3, 'reads have their own bucket');
  });

  test('when ARM says fewer requests remain than the worker counted, then the worker believes ARM, less what it sent since', async () => {
    const { budget, waits } = virtualBudget(200, 10);
    const first = await budget.take(SUB, 'writes');
    await budget.take(SUB, 'writes');
    budget.observe(SUB, 'writes', 1, first);
    assert.equal(
      budget.balance(SUB, 'writes'),
      0,
      'the second write may not have reached ARM when it answered the first',
    );
    await budget.take(SUB, 'writes');
    assert.deepEqual(waits, [100], 'the next write waits for a refill instead of drawing a 429');
  });

  describe('against the local Azure', () => {
    const h = beforeAll(() => startHarness({ timing: { vaultListingMaxAgeMs: 5_000 } }));

    test('when 300 account reads go at once against the ARM read bucket (250 + 25/s), then every read succeeds without a single 429', async () => {
      const account = h.newAccount();
      h.local.requestLog.clear();
      const client = h.azure.storage(SUB);
      const reads = await Promise.all(
        Array.from({ length: 300 }, () =>
          client.storageAccounts.getProperties(account.resourceGroup, account.name),
        ),
      );
      assert.equal(reads.length, 300);
      const log = h.local.requestLog.entries({ service: 'arm', method: 'GET' });
      assert.equal(log.filter((e) => e.status === 429).length, 0);
      assert.equal(log.filter((e) => e.status === 200).length, 300);
    });

    test('when pinned accounts sharing a vault are planned, rotated and probed, then each costs two ARM reads and one ARM write', async () => {
      const vault = await h.run((a) =>
        a.ensureVault({
          account: h.newAccount(),
          vault: { name: h.vaultName(), rbac: false },
          location: 'eastus',
        }),
      );
      const accounts: AccountRef[] = [];
      for (let i = 0; i < 4; i++)
        accounts.push((await h.cmkAccount({ keyName: `cmk${i}`, pinVersion: true, vault })).account);
      h.local.requestLog.clear();
      const results = await Promise.all(
        accounts.map(async (account) => {
          const plan = await h.run((a) => a.inspect({ account, request: { operation: 'rotate' } }));
          const rotation = await h.run((a) =>
            a.rotateKey({ account, runId: `rot-${account.name}`, confirmWithinMs: 0 }),
          );
          const probe = await h.run((a) =>
            a.probeDataAccess({ account, expect: 'allowed', withinMs: 0, blobEndpoint: plan.blobEndpoint }),
          );
          return { plan, rotation, probe };
        }),
      );
      for (const r of results) {
        assert.deepEqual(r.plan.blockers, []);
        assert.equal(r.rotation.accountState, 'moved');
        assert.equal(r.probe.state, 'allowed');
      }
      const arm = h.local.requestLog.entries({ service: 'arm' });
      const accountReads = arm.filter(
        (e) => e.method === 'GET' && e.operation === 'storageAccounts.getProperties',
      );
      const otherReads = arm.filter(
        (e) => e.method === 'GET' && e.operation !== 'storageAccounts.getProperties',
      );
      assert.equal(
        accountReads.length,
        2 * accounts.length,
        'the preflight and the rotation read the account once each',
      );
      assert.deepEqual(
        otherReads.map((e) => e.operation),
        ['vaults.list'],
        'one shared listing of the vaults serves every plan',
      );
      assert.equal(h.local.requestLog.writes({ service: 'arm' }).length, accounts.length);
    });

    test('when a re-check follows a change to the vault, then it reads the vault afresh and the fingerprint changes', async () => {
      const { account, vault } = await h.cmkAccount({ keyName: 'cmk', pinVersion: false });
      const first = await h.run((a) =>
        a.inspect({ account, request: { operation: 'revoke', disableKey: false } }),
      );
      // Someone else removes the grant through Azure, not through this worker.
      h.local.state.data.vaults[vault.name.toLowerCase()]!.properties.accessPolicies = [];
      h.local.state.changed();
      const recheck = await h.run((a) =>
        a.inspect({ account, request: { operation: 'revoke', disableKey: false }, recheck: true }),
      );
      assert.notEqual(recheck.fingerprint, first.fingerprint);
    });
  });
});
