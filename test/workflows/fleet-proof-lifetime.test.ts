import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PROOF_LIFETIME_SECONDS } from '../../src/shared/proof';
import { PEOPLE, resultOf, startStack, testPolicy } from '../helpers/stack';
import { uniqueId } from '../helpers/temporal';
import { onTimeSkipping } from '../kit/suite';
import { decide, waitForApproval } from './support';

// The bot signs a start for PROOF_LIFETIME_SECONDS (5 minutes). A fleet checks it when it starts;
// its rotations and its continued runs act on that start, however long approval or the fleet takes.
describe("a fleet outlives its start proof's lifetime (time skipping)", () => {
  const suite = onTimeSkipping((env) => startStack({ env }));

  test('when a fleet is approved half an hour after it was asked for, then every account is rotated (the rotations do not re-check the start for expiry)', async (t) => {
    if (!suite.env) return t.skip('the time-skipping test server is not installed');
    const accounts = [1, 2, 3].map(() =>
      suite.stack.azure.addCmkAccount(uniqueId('st').replace(/-/g, '').slice(0, 20), { pinned: true }),
    );
    const handle = await suite.stack.start('fleetRotate', {
      accounts,
      selection: 'three pinned accounts',
      requester: PEOPLE.requester,
      conversation: { conversation: { id: uniqueId('conv') } },
      policy: testPolicy(),
    });
    await waitForApproval(handle);
    await suite.env.sleep(`${PROOF_LIFETIME_SECONDS * 6}s`);
    await decide(handle, PEOPLE.alice, 'approve', { issuedAtMs: await suite.env.currentTimeMs() });
    const result = await resultOf(handle);

    assert.equal(result.outcome, 'succeeded', result.message);
    assert.deepEqual(result.fleetCounts, { succeeded: 3 });
  });

  test('when a fleet continues as new after its start proof expired, then the continued run goes on and every account is rotated', async (t) => {
    if (!suite.env) return t.skip('the time-skipping test server is not installed');
    const accounts = [1, 2, 3, 4].map(() =>
      suite.stack.azure.addCmkAccount(uniqueId('st').replace(/-/g, '').slice(0, 20), { pinned: true }),
    );
    const handle = await suite.stack.start('fleetRotate', {
      accounts,
      selection: 'four pinned accounts, two per run',
      accountsPerRun: 2,
      concurrency: 1,
      requester: PEOPLE.requester,
      conversation: { conversation: { id: uniqueId('conv') } },
      policy: testPolicy(),
    });
    await waitForApproval(handle);
    await suite.env.sleep(`${PROOF_LIFETIME_SECONDS * 2}s`);
    await decide(handle, PEOPLE.alice, 'approve', { issuedAtMs: await suite.env.currentTimeMs() });
    const result = await resultOf(handle);

    assert.equal(result.outcome, 'succeeded', result.message);
    assert.deepEqual(result.fleetCounts, { succeeded: 4 });
  });
});
