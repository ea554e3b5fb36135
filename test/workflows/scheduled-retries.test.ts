import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { workflowIdFor, type AccountRef } from '../../src/shared/accounts';
import type { RunResult } from '../../src/shared/runbooks';
import { SCHEDULED_ROTATION_WORKFLOW } from '../../src/shared/start';
import { PEOPLE, resultOf, startStack, testPolicy } from '../helpers/stack';
import { uniqueId } from '../helpers/temporal';
import { signedScheduleInput } from '../helpers/trust';
import { decide, waitForApproval } from './support';
import { beforeAll } from '../kit/suite';

describe('a scheduled rotation that finds its account busy (issue 14, measurement 6)', () => {
  const stack = beforeAll(() => startStack());
  const name = () => uniqueId('st').replace(/-/g, '').slice(0, 20);

  /** A tick of a schedule with period `everyMs`, as the Schedule starts it. */
  async function tick(account: AccountRef, everyMs: number) {
    return stack.client.workflow.start(SCHEDULED_ROTATION_WORKFLOW, {
      workflowId: uniqueId('scheduled-tick'),
      taskQueue: stack.taskQueue,
      args: [{ ...(await signedScheduleInput(account, PEOPLE.requester)), everyMs }],
    });
  }

  /** Another run holding the account: a disable waiting for approval. */
  async function holder(account: AccountRef) {
    const handle = await stack.start('disable', {
      account,
      requester: PEOPLE.requester,
      policy: testPolicy(),
    });
    await waitForApproval(handle);
    return handle;
  }

  const versionsOf = (account: AccountRef) =>
    stack.azure.vaults.get(`kv-${account.name}`)!.keys.get('cmk-key')!.versions.length;

  test('when the account is busy at the tick and free a little later, then the rotation happens within the same period', async () => {
    const account = stack.azure.addCmkAccount(name(), { pinned: true });
    const busy = await holder(account);
    const scheduled = await tick(account, 20_000);
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal((await scheduled.describe()).status.name, 'RUNNING', 'the tick waits instead of giving up');
    await decide(busy, PEOPLE.alice, 'reject');
    assert.equal((await resultOf(busy)).outcome, 'rejected');

    const result: RunResult = await resultOf(scheduled);
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.equal(versionsOf(account), 2, 'rotated once, in this period');
    assert.equal(
      (await resultOf(stack.client.workflow.getHandle(workflowIdFor(account)))).outcome,
      'succeeded',
    );
  });

  test('when the account stays busy for the whole period, then the tick gives up before the next one is due and says so', async () => {
    const account = stack.azure.addCmkAccount(name(), { pinned: true });
    const busy = await holder(account);
    const started = Date.now();
    const result = await resultOf(await tick(account, 10_000));
    assert.equal(result.outcome, 'blocked');
    assert.match(
      result.message,
      /was busy with run .* for this whole period \(10s\); this scheduled rotation was skipped/,
    );
    assert.ok(Date.now() - started < 10_000, 'it ended before the next tick would start');
    assert.equal(versionsOf(account), 1);
    await decide(busy, PEOPLE.alice, 'reject');
  });
});
