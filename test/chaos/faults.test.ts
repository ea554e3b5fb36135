import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AccountRef } from '../../src/shared/accounts';
import { LOCAL, PEOPLE, resultOf, startLocalStack, testPolicy, type LocalStack } from '../helpers/stack';
import { decide, waitForApproval } from '../workflows/support';
import { printTable, type Row } from './support';

const rows: Row[] = [];

describe('the runbooks while 30 % of Azure calls fail with 429 or 503', () => {
  let s: LocalStack;
  before(async () => {
    s = await startLocalStack({ throttling: false });
  });
  after(async () => {
    await s?.close();
    printTable('Chaos: 30 % of Azure calls answered 429 or 503', rows);
  });

  test('when 30 % of calls are throttled or fail, then every configure and rotation completes with one key version per step', async () => {
    const context = { requester: PEOPLE.requester, policy: testPolicy({ alwaysApprove: ['configure'] }) };
    const accounts: { account: AccountRef; vault: string }[] = [1, 2, 3].map(() => ({
      account: s.newAccount('stfault'),
      vault: s.vaultName('kv-fault'),
    }));
    // 15 % throttled, then 18 % of the rest answered 503: 0.15 + 0.85 × 0.18 ≈ 30 % of all calls.
    s.local.faults.set({ throttleRate: 0.15, errorRate: 0.18 });
    const configured = await Promise.all(
      accounts.map(async ({ account, vault }) => {
        const handle = await s.start('configure', {
          account,
          vault: { name: vault, resourceGroup: LOCAL.keysGroup },
          key: { name: 'cmk-key', type: 'RSA', size: 2048 },
          identity: { type: 'SystemAssigned' },
          pinVersion: false,
          ...context,
        });
        await waitForApproval(handle);
        await decide(handle, PEOPLE.alice, 'approve');
        return resultOf(handle);
      }),
    );
    const rotated = await Promise.all(
      accounts.map(async ({ account }) => resultOf(await s.start('rotate', { account, ...context }))),
    );
    s.local.faults.reset();

    const answered = s.local.requestLog.entries().filter((e) => e.service !== 'admin');
    const injected = answered.filter((e) => e.status === 429 || e.status === 503).length;
    const share = injected / answered.length;
    rows.push({
      case: 'share of Azure calls failed by injection',
      expected: '≈ 30 %',
      got: `${(share * 100).toFixed(1)} % of ${answered.length}`,
      pass: share > 0.2 && share < 0.4,
    });
    accounts.forEach(({ account, vault }, i) => {
      const versions = s.local.state.listKeyVersions(vault, 'cmk-key').length;
      for (const [name, result] of [
        ['configure', configured[i]!],
        ['rotate', rotated[i]!],
      ] as const)
        rows.push({
          case: `${name} ${account.name}`,
          expected: 'succeeded',
          got: `${result.outcome}${result.outcome === 'succeeded' ? '' : `: ${result.message}`}`,
          pass: result.outcome === 'succeeded',
        });
      rows.push({
        case: `key versions ${vault}`,
        expected: '2',
        got: String(versions),
        pass: versions === 2,
      });
    });
    assert.ok(share > 0.2 && share < 0.4, `${(share * 100).toFixed(1)} % of calls were failed`);
    assert.deepEqual(
      [...configured, ...rotated].map((r) => r.outcome),
      Array(6).fill('succeeded'),
      [...configured, ...rotated].map((r) => r.message).join(' | '),
    );
    for (const { vault } of accounts) assert.equal(s.local.state.listKeyVersions(vault, 'cmk-key').length, 2);
  });
});
