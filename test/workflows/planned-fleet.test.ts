import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AccountRef } from '../../src/shared/accounts';
import type { RunResult } from '../../src/shared/runbooks';
import { PEOPLE, startLocalStack, testPolicy } from '../helpers/stack';
import { uniqueId } from '../helpers/temporal';
import { decide, localConfigure, waitForApproval } from './support';
import { beforeAll } from '../kit/suite';

interface ArmAccount {
  properties: { encryption: { keyvaultproperties?: { keyversion?: string; keyvaulturi?: string } } };
}

describe('a fleet rotation with one plan card, one approval and a progress card', () => {
  const s = beforeAll(() => startLocalStack({ throttling: false }));

  async function pinnedAccount(): Promise<AccountRef> {
    const account = s.newAccount('stfleet');
    const handle = await s.start('configure', {
      ...localConfigure(account, s.vaultName('kv-fleet'), 'cmk-key', {
        requester: PEOPLE.requester,
        policy: testPolicy(),
      }),
      pinVersion: true,
    });
    assert.equal(((await handle.result()) as RunResult).outcome, 'succeeded');
    return account;
  }
  const keyOf = (a: AccountRef) =>
    (s.local.state.getStorageAccount(a.subscriptionId, a.resourceGroup, a.name) as unknown as ArmAccount)
      .properties.encryption.keyvaultproperties;
  const versionOf = (a: AccountRef) => keyOf(a)?.keyversion;
  const vaultHostOf = (a: AccountRef) => new URL(keyOf(a)!.keyvaulturi!).host.toLowerCase();

  test('when a fleet is approved once, then the plan card lists the accounts and the skipped one, the same card shows progress, and each account ends rotated', async () => {
    const accounts = [await pinnedAccount(), await pinnedAccount(), await pinnedAccount()];
    const plain = s.newAccount('stplain');
    const before = accounts.map(versionOf);
    const conversation = { conversation: { id: uniqueId('conv') } };
    const handle = await s.start('fleetRotate', {
      accounts: [...accounts, plain],
      selection: 'with tag env=test',
      requester: PEOPLE.requester,
      conversation,
      policy: testPolicy(),
    });
    const asked = await waitForApproval(handle);
    assert.equal(asked.plan?.fleet?.rotate, 3);
    assert.deepEqual(
      asked.plan?.fleet?.rows.filter((r) => r.skip).map((r) => r.name),
      [plain.name],
    );
    assert.equal(asked.subject?.label, '4 account(s)');
    const writesBeforeApproval = s.local.requestLog.writes().length;
    assert.equal(
      writesBeforeApproval,
      s.local.requestLog.writes().length,
      'nothing rotates before the approval',
    );
    await decide(handle, PEOPLE.alice, 'approve');
    const result = (await handle.result()) as RunResult;

    assert.equal(result.outcome, 'failed', 'one account was skipped, so not every account succeeded');
    const byName = new Map(result.fleet?.map((o) => [o.account.name, o]));
    for (const [i, a] of accounts.entries()) {
      assert.equal(byName.get(a.name)?.outcome, 'succeeded', byName.get(a.name)?.message);
      assert.notEqual(versionOf(a), before[i], `${a.name} is pinned to a new version`);
    }
    assert.equal(byName.get(plain.name)?.outcome, 'blocked');
    assert.match(byName.get(plain.name)?.message ?? '', /uses Microsoft-managed keys; nothing to rotate/);

    const cards = s.chat.seen(conversation).cards;
    assert.equal(
      cards.length,
      1,
      `one card, edited as the fleet goes: ${cards.map((c) => c.status.operation + ':' + c.history.length).join(' ')}`,
    );
    const history = cards[0]!.history;
    assert.ok(
      history.some((st) => st.approval.state === 'pending' && st.plan?.fleet),
      'it asked with the plan',
    );
    const final = cards[0]!.status;
    assert.equal(final.fleet?.total, 4);
    assert.deepEqual(final.fleet?.counts, { blocked: 1, succeeded: 3 });
    assert.equal(final.result?.outcome, 'failed');
    assert.deepEqual(
      final.steps.filter((x) => x.id === 'rotate' || x.id === 'probe').map((x) => [x.id, x.status, x.detail]),
      [
        ['rotate', 'done', '1 blocked, 3 succeeded'],
        ['probe', 'done', 'blob access allowed on 3 rotated account(s)'],
      ],
      'the finished card marks the plan steps the accounts ran',
    );
  });

  test("when a fleet is planned in a subscription with accounts on other keys, then its plans read only the selected accounts' keys, and its first run lists the accounts only for its plan and its re-check", async () => {
    const selected = [await pinnedAccount(), await pinnedAccount()];
    const other = await pinnedAccount();
    const since = new Date();
    const handle = await s.start('fleetRotate', {
      accounts: selected,
      requester: PEOPLE.requester,
      policy: testPolicy(),
    });
    await waitForApproval(handle);
    const approvedAt = new Date();
    await decide(handle, PEOPLE.alice, 'approve');
    const result = (await handle.result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);

    const log = s.local.requestLog;
    const before = (e: { at: string }) => e.at < approvedAt.toISOString();
    // A plan reads keys by listing their vault (Get Keys) or one by one (Get Key).
    const keyReads = log.entries({
      service: 'keyvault',
      operation: /^keys\.(list|get)$/,
      status: 200,
      since,
    });
    const planned = new Set(keyReads.filter(before).map((e) => e.host.toLowerCase()));
    assert.deepEqual(
      [...planned].sort(),
      selected.map(vaultHostOf).sort(),
      'the plan read the two selected keys',
    );
    assert.ok(
      !keyReads.some((e) => e.host.toLowerCase() === vaultHostOf(other)),
      'no plan read the key of an account that was not selected',
    );
    // The plan lists the subscription's accounts once, the re-check once more; the re-check says
    // which key each account uses, so the first run does not list them a third time (keysInUse).
    const listings = log.entries({ service: 'arm', operation: 'storageAccounts.list', status: 200, since });
    const beforeApproval = listings.filter(before).length;
    assert.ok(beforeApproval > 0, 'the plan listed the accounts');
    assert.equal(listings.length - beforeApproval, beforeApproval, 'after the approval: the re-check only');
  });

  test('when the approver rejects the fleet, then no account is rotated', async () => {
    const account = await pinnedAccount();
    const before = versionOf(account);
    const handle = await s.start('fleetRotate', {
      accounts: [account],
      requester: PEOPLE.requester,
      policy: testPolicy(),
    });
    await waitForApproval(handle);
    await decide(handle, PEOPLE.bob, 'reject');
    const result = (await handle.result()) as RunResult;
    assert.equal(result.outcome, 'rejected');
    assert.equal(versionOf(account), before);
  });

  test('when the policy asks for an approval of every rotation, then the fleet stops before anything with a sentence saying so', async () => {
    const account = await pinnedAccount();
    const result = (await (
      await s.start('fleetRotate', {
        accounts: [account],
        requester: PEOPLE.requester,
        policy: testPolicy({ alwaysApprove: ['rotate'] }),
      })
    ).result()) as RunResult;
    assert.equal(result.outcome, 'blocked');
    assert.match(result.message, /CMK_ALWAYS_APPROVE includes rotate/);
  });
});
