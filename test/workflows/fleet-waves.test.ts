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
    // A write takes 3 s: every account is waiting before the first one ends.
    s.local.faults.set({ latencies: [{ service: 'arm', method: 'write', ms: 3_000 }] });
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

    // After the key's first account ended: 20 start at once, one pause per later wave (300 and
    // 600 ms), and the other 24 start only once the first pause has fired (a busy worker may
    // take both fired pauses in one task).
    const events = (await handle.fetchHistory()).events ?? [];
    const ended = events.findIndex((e) => e.childWorkflowExecutionCompletedEventAttributes);
    const after = events.slice(ended + 1);
    const pauses = new Map<string, number>();
    for (const e of after) {
      const t = e.timerStartedEventAttributes;
      const ms = t?.startToFireTimeout
        ? Number(t.startToFireTimeout.seconds ?? 0) * 1000 + (t.startToFireTimeout.nanos ?? 0) / 1e6
        : 0;
      if (t?.timerId && ms > 0 && ms % WAVE_GAP_MS === 0 && ms < 5_000) pauses.set(t.timerId, ms);
    }
    assert.deepEqual([...pauses.values()], [WAVE_GAP_MS, 2 * WAVE_GAP_MS]);
    const firstPause = after.findIndex((e) => pauses.has(e.timerFiredEventAttributes?.timerId ?? ''));
    const starts = (from: number, to: number) =>
      after.slice(from, to).filter((e) => e.startChildWorkflowExecutionInitiatedEventAttributes).length;
    assert.equal(starts(0, firstPause), START_WAVE);
    assert.equal(starts(firstPause, after.length), 44 - START_WAVE);
  });

  test('when more accounts share a key than rotate at once, then only those waiting when its first account ends start in waves; the later ones start as slots free, without a pause', async () => {
    const seeded = await seedFleet(s.local, 45, { accountsPerKey: 45 });
    const handle = await s.start('fleetRotate', {
      accounts: [],
      groups: groupAccounts(seeded.map((f) => f.account)),
      concurrency: 25,
      requester: PEOPLE.requester,
      policy: testPolicy(),
    });
    await waitForApproval(handle);
    s.local.faults.set({ latencies: [{ service: 'arm', method: 'write', ms: 3_000 }] });
    let result;
    try {
      await decide(handle, PEOPLE.alice, 'approve');
      result = await resultOf(handle);
    } finally {
      s.local.faults.reset();
    }

    assert.equal(result.outcome, 'succeeded', result.message);
    assert.deepEqual(result.fleetCounts, { succeeded: 45 });
    // 24 waited: two waves, one pause of WAVE_GAP_MS; the 20 after them none.
    const events = (await handle.fetchHistory()).events ?? [];
    const pauses = events
      .map((e) => e.timerStartedEventAttributes?.startToFireTimeout)
      .filter((t) => t !== undefined && t !== null)
      .map((t) => Number(t.seconds ?? 0) * 1000 + (t.nanos ?? 0) / 1e6)
      .filter((ms) => ms % WAVE_GAP_MS === 0 && ms < 5_000);
    assert.deepEqual(pauses, [WAVE_GAP_MS, WAVE_GAP_MS]);
  });
});
