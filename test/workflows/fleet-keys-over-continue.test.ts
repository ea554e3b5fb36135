/**
 * A fleet that continues as new because Temporal suggested it, part-way through its share,
 * hands the keys it read on to the continued run, which then starts rotating without reading
 * every account again (`keysInUse`); accounts that share a key still end on one new version.
 * Its own dev server suggests continuing as new after 60 history events (Temporal's default is
 * some thousands: `limit.historyCount.suggestContinueAsNew`), with the real activities and SDK
 * clients on the local Azure.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import type { AccountRef } from '../../src/shared/accounts';
import { indexKeys, keysFromIndex, type KeyIndex } from '../../src/shared/fleet-tally';
import type { RunResult } from '../../src/shared/runbooks';
import { PEOPLE, startLocalStack, testPolicy, type LocalStack } from '../helpers/stack';
import { localDevServer } from '../helpers/temporal';
import { beforeAll } from '../kit/suite';
import { configuredPinned, decide, pinnedVersion, waitForApproval } from './support';

type Events = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>;

/** The activities a run scheduled, by type. */
function activitiesIn(events: Events): string[] {
  return events.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
}

async function suggestingStack(): Promise<{ s: LocalStack; close(): Promise<void> }> {
  const env = await localDevServer({ 'limit.historyCount.suggestContinueAsNew': 60 });
  const s = await startLocalStack({ env });
  return {
    s,
    close: async () => {
      await s.close();
      await env.teardown();
    },
  };
}

describe('a fleet continued as new on Temporal’s suggestion', () => {
  const stack = beforeAll(suggestingStack);
  const context = { requester: PEOPLE.requester, policy: testPolicy() };

  test('when keys are handed on in compact form, then each account gets its own back; an index that does not fit its accounts is refused, so the run reads them itself', () => {
    const keys = ['kv-a|k1', null, 'kv-a|k1', 'kv-b|k2', null];
    const index = indexKeys(keys);
    assert.deepEqual(index, { keys: ['kv-a|k1', 'kv-b|k2'], of: [0, -1, 0, 1, -1] });
    assert.deepEqual(keysFromIndex(index, keys.length), keys);
    assert.equal(keysFromIndex(index, keys.length + 1), undefined, 'another number of accounts');
    assert.equal(keysFromIndex({ keys: ['k'], of: [0, 1] }, 2), undefined, 'an entry past the keys');
    assert.equal(keysFromIndex({ keys: ['k'], of: [0.5] }, 1), undefined, 'an entry that is no index');
    assert.equal(keysFromIndex({ keys: 'k' } as unknown as KeyIndex, 1), undefined, 'no list at all');
    assert.equal(keysFromIndex(undefined, 0), undefined);
  });

  test('when Temporal suggests continuing as new part-way through a fleet, then the continued run rotates with the keys the first run read (no keysInUse) and each key still gains exactly one version', async () => {
    const { s } = stack;
    const vault = s.vaultName('kv-kc');
    const pinned = (keyName: string): Promise<AccountRef> =>
      configuredPinned(s, { vault, keyName, context, prefix: 'stkc' });
    const accounts: AccountRef[] = [];
    for (let i = 0; i < 4; i++) accounts.push(await pinned('shared'));
    for (let i = 0; i < 4; i++) accounts.push(await pinned(`own${i}`));
    const before = new Map(accounts.map((a) => [a.name, pinnedVersion(s, a)]));

    const fleet = await s.start('fleetRotate', { accounts, concurrency: 2, ...context });
    await waitForApproval(fleet);
    await decide(fleet, PEOPLE.alice, 'approve');
    const result = (await fleet.result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);

    // The chain's runs, first to last, and what each scheduled.
    const runs: Events[] = [];
    let runId: string | undefined = fleet.firstExecutionRunId;
    while (runId) {
      const events: Events =
        (await s.client.workflow.getHandle(fleet.workflowId, runId).fetchHistory()).events ?? [];
      runs.push(events);
      runId = events.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? undefined;
    }
    assert.ok(runs.length >= 2, `the fleet continued as new (${runs.length} run(s))`);
    for (const [i, events] of runs.entries())
      assert.deepEqual(
        activitiesIn(events).filter((a) => a === 'keysInUse'),
        [],
        `run ${i + 1} of ${runs.length} read no keys with keysInUse`,
      );

    // Azure: every account on a new version; the four on one key on one new version of it.
    for (const a of accounts) assert.notEqual(pinnedVersion(s, a), before.get(a.name), a.name);
    assert.equal(new Set(accounts.slice(0, 4).map((a) => pinnedVersion(s, a))).size, 1);
    assert.equal(
      s.local.state.listKeyVersions(vault, 'shared').length,
      2,
      'one new version of the shared key',
    );
    for (let i = 0; i < 4; i++) assert.equal(s.local.state.listKeyVersions(vault, `own${i}`).length, 2);
  });
});
