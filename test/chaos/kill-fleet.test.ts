import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fleetInterrupted, hurryQueue, showFleet } from './fleet-under-chaos';
import { suiteHarness } from './kill-runbook';
import type { Row } from './support';

const rows: Row[] = [];

describe('fleetRotate with its worker SIGKILLed mid-way', () => {
  const h = suiteHarness('Chaos: fleetRotate, worker SIGKILLed after the first account', rows);

  test('when the worker dies after the first of four rotations, then a fresh worker finishes the fleet with one rotate per key, one PATCH per account and a progress card of four succeeded', async () => {
    const kills = h.worker.kills;
    const { got, want, interruptedAfter, result } = await fleetInterrupted(h, async () => {
      await h.worker.kill();
      await hurryQueue(h);
      await h.worker.start();
    });
    rows.push({
      case: `killed after ${interruptedAfter} of 4 accounts`,
      expected: showFleet(want),
      got: showFleet(got),
      pass: JSON.stringify(got) === JSON.stringify(want) && h.worker.kills - kills === 1,
    });
    assert.equal(h.worker.kills - kills, 1);
    assert.deepEqual(got, want, result.message);
  });
});
