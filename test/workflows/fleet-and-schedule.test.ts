import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { workflowIdFor } from '../../src/shared/accounts';
import { statusQuery } from '../../src/shared/approval';
import type { FleetRotateInput, RunResult } from '../../src/shared/runbooks';
import {
  SCHEDULED_ROTATION_WORKFLOW,
  scheduleIdFor,
  type ScheduledRotationInput,
} from '../../src/shared/start';
import { PEOPLE, resultOf, startStack, testPolicy } from '../helpers/stack';
import { uniqueId } from '../helpers/temporal';
import { signedScheduleInput } from '../helpers/trust';
import { decide, waitForApproval } from './support';
import { beforeAll } from '../kit/suite';

describe('fleet and scheduled rotation', () => {
  const stack = beforeAll(() => startStack());
  const name = () => uniqueId('st').replace(/-/g, '').slice(0, 20);

  test('when a fleet of seven accounts is rotated two at a time in runs of three, then every account is rotated once and the summary counts each', async () => {
    const accounts = Array.from({ length: 7 }, () => stack.azure.addCmkAccount(name(), { pinned: true }));
    const conv = uniqueId('conv');
    const input: FleetRotateInput = {
      accounts,
      concurrency: 2,
      accountsPerRun: 3,
      requester: PEOPLE.requester,
      conversation: { id: conv },
      policy: testPolicy(),
    };
    const handle = await stack.start('fleetRotate', input);
    const asked = await waitForApproval(handle);
    assert.equal(asked.plan?.fleet?.rotate, 7, 'the plan card lists the seven accounts');
    await decide(handle, PEOPLE.alice, 'approve');
    const result = await resultOf(handle);

    assert.equal(result.outcome, 'succeeded', result.message);
    assert.deepEqual(result.fleetCounts, { succeeded: 7 });
    const names = new Set(accounts.map((a) => a.name));
    assert.ok(
      result.fleet?.every((o) => names.has(o.account.name) && o.outcome === 'succeeded'),
      'the result names a sample of the rotated accounts (continue-as-new carried counts, not every outcome)',
    );
    for (const a of accounts) {
      assert.equal(stack.azure.vaults.get(`kv-${a.name}`)!.keys.get('cmk-key')!.versions.length, 2, a.name);
    }
    assert.ok(
      stack.azure.maxConcurrentRotations <= 2,
      `at most 2 at once (saw ${stack.azure.maxConcurrentRotations})`,
    );
    assert.match(stack.chat.textsIn(conv).at(-1) ?? '', /Fleet rotation of 7 account\(s\): 7 succeeded/);
    const description = await handle.describe();
    assert.notEqual(description.runId, handle.firstExecutionRunId, 'it continued as new');
  });

  test("when a fleet continues as new, then the new run's status counts the accounts done before it from its first step, not 0 until its first child starts", async () => {
    const accounts = Array.from({ length: 2 }, () => stack.azure.addCmkAccount(name(), { pinned: true }));
    const firstRead = stack.azure.hold('keysInUse');
    const handle = await stack.start('fleetRotate', {
      accounts,
      concurrency: 1,
      accountsPerRun: 1,
      requester: PEOPLE.requester,
      policy: testPolicy(),
    });
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');
    await firstRead.reached;
    // Held again before the first run can finish its account and continue as new.
    firstRead.release();
    const continuedRead = stack.azure.hold('keysInUse');
    await continuedRead.reached;
    assert.notEqual((await handle.describe()).runId, handle.firstExecutionRunId, 'it continued as new');
    const status = await handle.query(statusQuery);
    assert.deepEqual(status.fleet?.counts, { succeeded: 1 });
    assert.equal(status.fleet?.total, 2);
    continuedRead.release();
    assert.deepEqual((await resultOf(handle)).fleetCounts, { succeeded: 2 });
  });

  test('when a fleet includes a busy account and one without CMK, then those are reported and the rest rotated', async () => {
    const ok = stack.azure.addCmkAccount(name());
    const plain = stack.azure.addAccount(name());
    const busy = stack.azure.addCmkAccount(name());
    const holder = await stack.start('revoke', {
      account: busy,
      disableKey: false,
      requester: PEOPLE.requester,
      policy: testPolicy(),
    });
    await waitForApproval(holder);
    const fleet = await stack.start('fleetRotate', {
      accounts: [ok, plain, busy],
      requester: PEOPLE.requester,
      policy: testPolicy(),
    });
    await waitForApproval(fleet);
    await decide(fleet, PEOPLE.bob, 'approve');
    const result = await resultOf(fleet);
    const byName = new Map(result.fleet?.map((o) => [o.account.name, o]));
    assert.equal(byName.get(ok.name)?.outcome, 'succeeded');
    assert.equal(byName.get(plain.name)?.outcome, 'blocked');
    assert.equal(byName.get(busy.name)?.outcome, 'blocked');
    assert.match(byName.get(busy.name)?.message ?? '', new RegExp(`busy with run ${workflowIdFor(busy)}`));
    assert.equal(result.outcome, 'failed');
    await decide(holder, PEOPLE.alice, 'reject');
    await holder.result();
  });

  test('when a rotation schedule fires, then the account is rotated by a child under its own workflow id; a busy account is skipped', async () => {
    const account = stack.azure.addCmkAccount(name(), { pinned: true });
    const args: [ScheduledRotationInput] = [await signedScheduleInput(account, PEOPLE.requester)];
    const scheduleId = `${scheduleIdFor(account)}-${randomUUID().slice(0, 6)}`;
    const schedule = await stack.client.schedule.create({
      scheduleId,
      spec: { intervals: [{ every: '365d' }] },
      action: {
        type: 'startWorkflow',
        workflowType: SCHEDULED_ROTATION_WORKFLOW,
        taskQueue: stack.taskQueue,
        args,
      },
      state: { paused: true },
    });
    try {
      await schedule.trigger();
      const child = stack.client.workflow.getHandle(workflowIdFor(account));
      const childResult = await waitForResult(child);
      assert.equal(childResult.outcome, 'succeeded', childResult.message);
      assert.equal(stack.azure.vaults.get(`kv-${account.name}`)!.keys.get('cmk-key')!.versions.length, 2);

      const holder = await stack.start('disable', {
        account,
        requester: PEOPLE.requester,
        policy: testPolicy(),
      });
      await waitForApproval(holder);
      await schedule.trigger();
      const runs = await waitForRuns(schedule, 2);
      const skipped = (await stack.client.workflow.getHandle(runs[1]!).result()) as RunResult;
      assert.equal(skipped.outcome, 'blocked');
      assert.match(skipped.message, /busy with run .*scheduled rotation was skipped/);
      assert.equal(stack.azure.vaults.get(`kv-${account.name}`)!.keys.get('cmk-key')!.versions.length, 2);
      await decide(holder, PEOPLE.alice, 'reject');
      await holder.result();
    } finally {
      await schedule.delete();
    }
  });
});

async function waitForResult(handle: {
  result(): Promise<unknown>;
  describe(): Promise<unknown>;
}): Promise<RunResult> {
  for (;;) {
    const started = await handle.describe().then(
      () => true,
      () => false,
    );
    if (started) return (await handle.result()) as RunResult;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function waitForRuns(
  schedule: {
    describe(): Promise<{ info: { recentActions: { action: { workflow: { workflowId: string } } }[] } }>;
  },
  count: number,
): Promise<string[]> {
  for (;;) {
    const actions = (await schedule.describe()).info.recentActions;
    if (actions.length >= count) return actions.map((a) => a.action.workflow.workflowId);
    await new Promise((r) => setTimeout(r, 50));
  }
}
