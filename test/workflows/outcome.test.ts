import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { cancelUpdate, statusQuery } from '../../src/shared/approval';
import { SA, type RunResult } from '../../src/shared/runbooks';
import { PEOPLE, resultOf, startStack, testPolicy } from '../helpers/stack';
import { temporalAddress } from '../chaos/temporal-address';
import { temporalCli } from '../helpers/temporal-cli';
import { uniqueId } from '../helpers/temporal';
import { signedCancel } from '../helpers/trust';
import { configureInput, decide, waitForApproval, waitForStage } from './support';
import { beforeAll } from '../kit/suite';

/** Why an update was refused: the failure type (the refusal's class) and its sentence. */
async function refusalOf(update: Promise<unknown>): Promise<{ type?: string; message: string }> {
  const error = await update.then(
    () => assert.fail('the update was accepted'),
    (e: unknown) => e,
  );
  assert.ok(error instanceof WorkflowUpdateFailedError, String(error));
  const cause = error.cause as ApplicationFailure;
  return { type: cause.type ?? undefined, message: cause.message };
}

describe('outcomes are first-class: CmkOutcome, failed workflows, cancel (issue 14, measurements 2 and 4)', () => {
  const stack = beforeAll(() => startStack());
  const name = () => uniqueId('st').replace(/-/g, '').slice(0, 20);

  test('when a run fails, then it is a failed workflow carrying its result, CmkOutcome says failed and the temporal CLI finds it by outcome', async () => {
    const account = stack.azure.addAccount(name());
    stack.azure.failNext(
      'grantKeyAccess',
      'AuthorizationFailed',
      'Give the runbook User Access Administrator.',
    );
    const handle = await stack.start('configure', configureInput(account, testPolicy(), uniqueId('conv')));
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');

    const error = await handle.result().then(
      () => assert.fail('a failed run must not complete'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof WorkflowFailedError);
    assert.ok(error.cause instanceof ApplicationFailure);
    assert.equal(error.cause.type, 'AuthorizationFailed');
    assert.match(error.cause.message, /User Access Administrator/);
    const result = await resultOf(handle);
    assert.equal(result.outcome, 'failed');

    const described = await handle.describe();
    assert.equal(described.status.name, 'FAILED');
    assert.equal(described.typedSearchAttributes.get(SA.outcome), 'failed');
    assert.equal((await handle.query(statusQuery)).result?.outcome, 'failed');
    const listed = await temporalCli([
      'workflow',
      'list',
      '--query',
      `WorkflowId = "${handle.workflowId}" AND CmkOutcome = "failed" AND ExecutionStatus = "Failed"`,
      '--output',
      'json',
      '--address',
      await temporalAddress(),
      '--namespace',
      'default',
    ]);
    assert.equal(listed.status, 0, listed.output);
    assert.match(listed.output, new RegExp(handle.workflowId.replace(/\//g, '\\/')));
  });

  test('when runs are rejected, blocked or succeed, then each completes with its outcome in CmkOutcome', async () => {
    const rejected = await stack.start(
      'configure',
      configureInput(stack.azure.addAccount(name()), testPolicy(), uniqueId('conv')),
    );
    await waitForApproval(rejected);
    await decide(rejected, PEOPLE.alice, 'reject');
    const rotated = await stack.start('rotate', {
      account: stack.azure.addCmkAccount(name(), { pinned: true }),
      requester: PEOPLE.requester,
      policy: testPolicy(),
    });
    const blocked = await stack.start('rotate', {
      account: stack.azure.addAccount(name()),
      requester: PEOPLE.requester,
      policy: testPolicy(),
    });
    for (const [handle, outcome] of [
      [rejected, 'rejected'],
      [rotated, 'succeeded'],
      [blocked, 'blocked'],
    ] as const) {
      const result = await resultOf(handle);
      assert.equal(result.outcome, outcome, result.message);
      const described = await handle.describe();
      assert.equal(described.status.name, 'COMPLETED');
      assert.equal(described.typedSearchAttributes.get(SA.outcome), outcome);
    }
  });

  test('when a run is changing Azure, then a cancel is refused as too late with a sentence and the run finishes', async () => {
    const account = stack.azure.addAccount(name());
    const held = stack.azure.hold('ensureKey');
    const handle = await stack.start('configure', configureInput(account, testPolicy(), uniqueId('conv')));
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');
    await held.reached;
    const running = await waitForStage(handle, 'running');
    const refused = await refusalOf(
      handle.executeUpdate(cancelUpdate, { args: [await signedCancel(running, PEOPLE.requester)] }),
    );
    held.release();
    assert.equal(refused.type, 'RunNotCancellable');
    assert.match(refused.message, /already changing Azure, so it cannot be withdrawn halfway/);
    assert.equal((await resultOf(handle)).outcome, 'succeeded');
  });

  test('when a cancel is unsigned, names another run or comes from someone else than the requester or an approver, then it is refused and the run keeps waiting', async () => {
    const handle = await stack.start(
      'configure',
      configureInput(stack.azure.addAccount(name()), testPolicy(), uniqueId('conv')),
    );
    const waiting = await waitForApproval(handle);
    const unsigned = await refusalOf(
      handle.executeUpdate(cancelUpdate, {
        args: [{ aadObjectId: PEOPLE.requester.aadObjectId, name: PEOPLE.requester.name }],
      }),
    );
    assert.equal(unsigned.type, 'RunActionProofInvalid');
    assert.match(unsigned.message, /not signed by the bot/);
    const elsewhere = await refusalOf(
      handle.executeUpdate(cancelUpdate, {
        args: [await signedCancel({ ...waiting, runId: 'another-run' }, PEOPLE.requester)],
      }),
    );
    assert.equal(elsewhere.type, 'StaleCard');
    const outsider = await refusalOf(
      handle.executeUpdate(cancelUpdate, { args: [await signedCancel(waiting, PEOPLE.mallory)] }),
    );
    assert.equal(outsider.type, 'CancelNotAllowed');
    assert.match(outsider.message, /Only Rita Requester or an approver of Configure CMK may cancel/);
    assert.equal((await handle.query(statusQuery)).stage, 'awaiting-approval');

    const byApprover = await handle.executeUpdate(cancelUpdate, {
      args: [await signedCancel(waiting, PEOPLE.bob)],
    });
    assert.equal(byApprover.cancelled?.by.name, PEOPLE.bob.name);
    const result: RunResult = await resultOf(handle);
    assert.equal(result.outcome, 'cancelled');
    assert.match(result.message, /Cancelled by Bob Approver before any change/);
    assert.equal(
      stack.azure.account(handle.workflowId.split('/').at(-1)!).encryption.keySource,
      'Microsoft.Storage',
    );
  });
});
