import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { PROOF_LIFETIME_SECONDS } from '../../src/shared/proof';
import { PEOPLE, resultOf, startStack, testPolicy, type Stack } from '../helpers/stack';
import { timeSkippingEnv, uniqueId } from '../helpers/temporal';
import { decide, waitForApproval } from './support';

// The bot signs a start for PROOF_LIFETIME_SECONDS (5 minutes). A fleet checks it when it starts;
// its rotations and its continued runs act on that start, however long approval or the fleet takes.
describe("a fleet outlives its start proof's lifetime (time skipping)", () => {
  let env: TestWorkflowEnvironment | undefined;
  let stack: Stack;
  before(async () => {
    env = await timeSkippingEnv();
    if (env) stack = await startStack({ env });
  });
  after(async () => {
    await stack?.close();
    await env?.teardown();
  });

  test('when a fleet is approved half an hour after it was asked for, then every account is rotated (the rotations do not re-check the start for expiry)', async (t) => {
    if (!env) return t.skip('the time-skipping test server is not installed');
    const accounts = [1, 2, 3].map(() =>
      stack.azure.addCmkAccount(uniqueId('st').replace(/-/g, '').slice(0, 20), { pinned: true }),
    );
    const handle = await stack.start('fleetRotate', {
      accounts,
      selection: 'three pinned accounts',
      requester: PEOPLE.requester,
      conversation: { conversation: { id: uniqueId('conv') } },
      policy: testPolicy(),
    });
    await waitForApproval(handle);
    await env.sleep(`${PROOF_LIFETIME_SECONDS * 6}s`);
    await decide(handle, PEOPLE.alice, 'approve', { issuedAtMs: await env.currentTimeMs() });
    const result = await resultOf(handle);

    assert.equal(result.outcome, 'succeeded', result.message);
    assert.deepEqual(result.fleetCounts, { succeeded: 3 });
  });

  test('when a fleet continues as new after its start proof expired, then the continued run goes on and every account is rotated', async (t) => {
    if (!env) return t.skip('the time-skipping test server is not installed');
    const accounts = [1, 2, 3, 4].map(() =>
      stack.azure.addCmkAccount(uniqueId('st').replace(/-/g, '').slice(0, 20), { pinned: true }),
    );
    const handle = await stack.start('fleetRotate', {
      accounts,
      selection: 'four pinned accounts, two per run',
      accountsPerRun: 2,
      concurrency: 1,
      requester: PEOPLE.requester,
      conversation: { conversation: { id: uniqueId('conv') } },
      policy: testPolicy(),
    });
    await waitForApproval(handle);
    await env.sleep(`${PROOF_LIFETIME_SECONDS * 2}s`);
    await decide(handle, PEOPLE.alice, 'approve', { issuedAtMs: await env.currentTimeMs() });
    const result = await resultOf(handle);

    assert.equal(result.outcome, 'succeeded', result.message);
    assert.deepEqual(result.fleetCounts, { succeeded: 4 });
  });
});
