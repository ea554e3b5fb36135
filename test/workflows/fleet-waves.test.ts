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
});
