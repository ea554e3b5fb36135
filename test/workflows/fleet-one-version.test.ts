/**
 * A fleet rotation on the local Azure with the real activities and SDK clients: accounts that
 * share a key end on one new version of it, as one rotation of the key would leave them.
 */
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { CancelledFailure } from '@temporalio/common';
import { describe, test } from 'node:test';
import type { AccountRef } from '../../src/shared/accounts';
import type { RunResult } from '../../src/shared/runbooks';
import { PEOPLE, startLocalStack, testPolicy } from '../helpers/stack';
import { configuredPinned, decide, pinnedVersion, waitForApproval } from './support';
import { beforeAll } from '../kit/suite';

describe('fleet rotation of accounts that share a key', () => {
  const s = beforeAll(() => startLocalStack());

  const context = { requester: PEOPLE.requester, policy: testPolicy() };
  const configurePinned = (vault: string, keyName: string): Promise<AccountRef> =>
    configuredPinned(s, { vault, keyName, context, prefix: 'stfl' });
  const versionOf = (a: AccountRef) => pinnedVersion(s, a);
  /** Three pinned accounts on key `shared` of a new vault: the key's first account, and the two behind it. */
  const threeOnOneKey = async (prefix: string) => {
    const vault = s.vaultName(prefix);
    const shared: AccountRef[] = [];
    for (let i = 0; i < 3; i++) shared.push(await configurePinned(vault, 'shared'));
    const [first, ...behind] = shared as [AccountRef, ...AccountRef[]];
    return { vault, shared, first, behind };
  };
  /** Two pinned accounts in each of two new vaults, on the keys named, in vault order. */
  const twoInEachOfTwoVaults = async (prefixes: [string, string], keys: [string, string]) => {
    const vaults = prefixes.map((p) => s.vaultName(p));
    const accounts: AccountRef[] = [];
    for (const vault of vaults) for (const key of keys) accounts.push(await configurePinned(vault, key));
    return { vaults, accounts };
  };

  test('when three pinned accounts on one key and one on another are rotated as a fleet, then each key gains exactly one version and every account on it is pinned to that version', async () => {
    const vault = s.vaultName('kv-fl');
    const shared = [
      await configurePinned(vault, 'shared'),
      await configurePinned(vault, 'shared'),
      await configurePinned(vault, 'shared'),
    ];
    const alone = await configurePinned(vault, 'alone');
    const before = versionOf(shared[0]!);

    const fleet = await s.start('fleetRotate', {
      accounts: [shared[0]!, alone, shared[1]!, shared[2]!],
      concurrency: 4,
      ...context,
    });
    await waitForApproval(fleet);
    await decide(fleet, PEOPLE.alice, 'approve');
    const result = (await fleet.result()) as RunResult;

    assert.equal(result.outcome, 'succeeded', result.message);
    assert.equal(
      s.local.state.listKeyVersions(vault, 'shared').length,
      2,
      'one new version of the shared key',
    );
    assert.equal(s.local.state.listKeyVersions(vault, 'alone').length, 2);
    const after = new Set(shared.map(versionOf));
    assert.equal(after.size, 1, `one version for all three (${[...after].join(', ')})`);
    assert.notEqual([...after][0], before);
  });

  test("when a fleet's keys sit in two vaults and are listed vault by vault, then it rotates them vault by vault in turn, so rotations running at once wait on several vaults' paces instead of one's", async () => {
    const { vaults, accounts } = await twoInEachOfTwoVaults(['kv-fa', 'kv-fb'], ['first', 'second']);
    const since = new Date();
    const fleet = await s.start('fleetRotate', { accounts, concurrency: 1, ...context });
    await waitForApproval(fleet);
    await decide(fleet, PEOPLE.alice, 'approve');
    const result = (await fleet.result()) as RunResult;

    assert.equal(result.outcome, 'succeeded', result.message);
    // One at a time, so Key Vault's rotate calls come in the order the accounts were started.
    const rotated = s.local.requestLog
      .entries({ service: 'keyvault', operation: 'keys.rotate', status: 200, since })
      .map(
        (e) =>
          `${vaults.findIndex((v) => e.host.toLowerCase().startsWith(v.toLowerCase()))}:${e.path.split('/')[2]}`,
      );
    assert.deepEqual(rotated, ['0:first', '1:first', '0:second', '1:second']);
  });

  test("when the key's first account fails after its version was made, then the accounts behind it still rotate, onto that version", async () => {
    const { vault, shared, first, behind } = await threeOnOneKey('kv-ff');
    const before = versionOf(first);
    s.local.faults.set({
      routes: [
        {
          method: 'PATCH',
          pathPattern: `/storageAccounts/${first.name}$`,
          status: 403,
          code: 'AuthorizationFailed',
          message: 'The client does not have authorization to perform action.',
        },
      ],
    });
    let result: RunResult;
    try {
      const fleet = await s.start('fleetRotate', { accounts: shared, concurrency: 3, ...context });
      await waitForApproval(fleet);
      await decide(fleet, PEOPLE.alice, 'approve');
      result = (await fleet.result()) as RunResult;
    } finally {
      s.local.faults.reset();
    }

    assert.deepEqual(result.fleetCounts, { failed: 1, succeeded: 2 }, result.message);
    assert.equal(versionOf(first), before, 'the first account stays where it was');
    assert.equal(s.local.state.listKeyVersions(vault, 'shared').length, 2, 'one new version');
    const after = new Set(behind.map(versionOf));
    assert.equal(after.size, 1, 'both others on one version');
    assert.notEqual([...after][0], before);
  });

  test("when the key's first account takes 3 s longer to be moved, then the other accounts on the key are not held by it: the fleet made the version first, and they are moved while the first account's move is still unanswered", async () => {
    const { vault, shared, first, behind } = await threeOnOneKey('kv-fe');
    const since = new Date();
    // ARM answers the first account's move late (a synchronous write may take up to 60 s).
    s.local.faults.set({
      routes: [
        {
          method: 'PATCH',
          pathPattern: `/storageAccounts/${first.name}$`,
          status: 200,
          code: 'Late',
          answer: 'late',
          delayMs: 3_000,
          times: 1,
        },
      ],
    });
    try {
      const fleet = await s.start('fleetRotate', { accounts: shared, concurrency: 3, ...context });
      await waitForApproval(fleet);
      await decide(fleet, PEOPLE.alice, 'approve');
      const result = (await fleet.result()) as RunResult;
      assert.equal(result.outcome, 'succeeded', result.message);
    } finally {
      s.local.faults.reset();
    }

    assert.equal(s.local.state.listKeyVersions(vault, 'shared').length, 2, 'one new version');
    assert.equal(new Set(shared.map(versionOf)).size, 1, 'every account on it');
    // The log has each write when the local Azure carried it out; the late answer came 3 s after.
    const moves = s.local.requestLog.entries({ service: 'arm', method: 'PATCH', since });
    const at = (a: AccountRef) => Date.parse(moves.find((e) => e.path.endsWith(`/${a.name}`))!.at);
    const firstAnswered = at(first) + 3_000;
    for (const a of behind)
      assert.ok(
        at(a) < firstAnswered,
        `${a.name} was moved ${at(a) - firstAnswered} ms after the first account's move was answered, not before`,
      );
  });

  test('when a fleet is cancelled in Temporal while it makes the versions of two shared keys, then it ends cancelled at once and moves no account', async () => {
    const { accounts } = await twoInEachOfTwoVaults(['kv-fc', 'kv-fd'], ['shared', 'shared']);
    const before = accounts.map(versionOf);
    // Key Vault takes 3 s to answer a rotate, so both versions are still being made.
    s.local.faults.set({ latencies: [{ service: 'keyvault', method: 'POST', ms: 3_000 }] });
    try {
      const fleet = await s.start('fleetRotate', { accounts, concurrency: 4, ...context });
      await waitForApproval(fleet);
      await decide(fleet, PEOPLE.alice, 'approve');
      const makes = async (): Promise<number> =>
        ((await fleet.fetchHistory()).events ?? []).filter(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'makeKeyVersion',
        ).length;
      for (let i = 0; i < 100 && (await makes()) < 2; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(await makes(), 2, 'the fleet makes both versions');
      await fleet.cancel();
      const error = await Promise.race([
        fleet.result().then(
          () => undefined,
          (e: unknown) => e,
        ),
        new Promise((r) => setTimeout(() => r('still running 30 s after the cancel'), 30_000)),
      ]);
      assert.ok(
        error instanceof WorkflowFailedError && error.cause instanceof CancelledFailure,
        `cancelled, not ${String(error)}`,
      );
    } finally {
      s.local.faults.reset();
    }
    assert.deepEqual(accounts.map(versionOf), before, 'no account moved');
  });
});
