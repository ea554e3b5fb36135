/**
 * A fleet's first rotations start in waves, so the first wave's ARM writes go out while the
 * later waves still read: on the local Azure with the real activities and SDK clients.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { groupAccounts } from '../../src/shared/fleet-tally';
import { START_WAVE, WAVE_GAP_MS } from '../../src/workflows/fleet-rotation';
import { seedFleet } from '../../bench/p1-seed';
import { PEOPLE, resultOf, startLocalStack, testPolicy } from '../helpers/stack';
import { armAccount, decide, waitForApproval } from './support';
import { beforeAll } from '../kit/suite';

describe('a fleet that starts its rotations in waves', () => {
  const s = beforeAll(() => startLocalStack());

  test(`when 50 accounts rotate 50 at a time, then the children start ${START_WAVE} to a wave with a timer between waves, and every account ends on a new version`, async () => {
    const seeded = await seedFleet(s.local, 50);
    const handle = await s.start('fleetRotate', {
      accounts: [],
      groups: groupAccounts(seeded.map((f) => f.account)),
      concurrency: 50,
      requester: PEOPLE.requester,
      policy: testPolicy(),
    });
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');
    const result = await resultOf(handle);

    assert.equal(result.outcome, 'succeeded', result.message);
    assert.deepEqual(result.fleetCounts, { succeeded: 50 });
    for (const f of seeded) {
      const pinned = armAccount(s, f.account).properties.encryption.keyvaultproperties?.keyversion;
      assert.ok(pinned && pinned !== f.seedVersion, `${f.account.name} moved off its seeded version`);
    }

    // The children started between the fleet's pauses (its other timers aside): 20, 20, then 10.
    const history = await handle.fetchHistory();
    const waves: number[] = [0];
    for (const e of history.events ?? []) {
      const timeout = e.timerStartedEventAttributes?.startToFireTimeout;
      const ms = timeout ? Number(timeout.seconds ?? 0) * 1000 + (timeout.nanos ?? 0) / 1e6 : undefined;
      if (ms === WAVE_GAP_MS) waves.push(0);
      if (e.startChildWorkflowExecutionInitiatedEventAttributes) waves[waves.length - 1]!++;
    }
    assert.deepEqual(waves, [START_WAVE, START_WAVE, 50 - 2 * START_WAVE]);
  });

  test(`when 45 accounts share one key, then the 44 that wait for its first account start ${START_WAVE} to a wave once it ends, and all end on the one new version`, async () => {
    const seeded = await seedFleet(s.local, 45, { accountsPerKey: 45 });
    const handle = await s.start('fleetRotate', {
      accounts: [],
      groups: groupAccounts(seeded.map((f) => f.account)),
      concurrency: 50,
      requester: PEOPLE.requester,
      policy: testPolicy(),
    });
    await waitForApproval(handle);
    // A write takes a second, as on Azure: every account is waiting before the first one ends.
    s.local.faults.set({ latencies: [{ service: 'arm', method: 'write', ms: 1_000 }] });
    let result;
    try {
      await decide(handle, PEOPLE.alice, 'approve');
      result = await resultOf(handle);
    } finally {
      s.local.faults.reset();
    }

    assert.equal(result.outcome, 'succeeded', result.message);
    assert.deepEqual(result.fleetCounts, { succeeded: 45 });
    const { vaultName, keyName } = seeded[0]!;
    const versions = s.local.state.listKeyVersions(vaultName, keyName);
    assert.equal(versions.length, 2, 'the key gained one version');
    const pinned = new Set(
      seeded.map((f) => armAccount(s, f.account).properties.encryption.keyvaultproperties?.keyversion),
    );
    assert.equal(pinned.size, 1, 'every account on the one new version');

    // After the key's first account ended: its followers by the workflow task that started them,
    // each wave's task at least its pause after the end.
    const events = (await handle.fetchHistory()).events ?? [];
    const ended = events.find((e) => e.childWorkflowExecutionCompletedEventAttributes)!;
    const msOf = (e: (typeof events)[number]) =>
      Number(e.eventTime?.seconds ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
    const byTask = new Map<string, number[]>();
    for (const e of events.filter((e) => Number(e.eventId) > Number(ended.eventId))) {
      const task = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowTaskCompletedEventId;
      if (task !== undefined && task !== null)
        byTask.set(String(task), [...(byTask.get(String(task)) ?? []), msOf(e)]);
    }
    const waves = [...byTask.values()].map((starts) => starts.length);
    [...byTask.values()].forEach((starts, wave) =>
      assert.ok(
        starts[0]! - msOf(ended) >= wave * WAVE_GAP_MS,
        `wave ${wave} started ${starts[0]! - msOf(ended)} ms after`,
      ),
    );
    assert.deepEqual(waves, [START_WAVE, START_WAVE, 44 - 2 * START_WAVE]);
  });
});
