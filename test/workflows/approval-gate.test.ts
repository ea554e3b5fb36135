import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { PEOPLE, resultOf, startStack, testPolicy } from '../helpers/stack';
import { uniqueId } from '../helpers/temporal';
import { configureInput, decide, waitForApproval, waitForStatus } from './support';
import { statusQuery } from '../../src/shared/approval';
import { SA } from '../../src/shared/runbooks';
import { beforeAll } from '../kit/suite';

describe('the approval gate', () => {
  const stack = beforeAll(() => startStack());

  const refusal = (message: string) => (error: unknown) =>
    error instanceof WorkflowUpdateFailedError && error.cause?.message === message;

  test('when an approver approves a configure plan that creates a vault, then the account ends on its new key and the card shows success', async () => {
    const account = stack.azure.addAccount(uniqueId('st').replace(/-/g, '').slice(0, 20));
    const conv = uniqueId('conv');
    const handle = await stack.start('configure', configureInput(account, testPolicy(), conv));
    const waiting = await waitForApproval(handle);
    assert.equal(waiting.approval.state, 'pending');
    assert.deepEqual(waiting.plan?.irreversible, ['Purge protection on']);
    assert.equal(
      stack.azure.account(account.name).encryption.keySource,
      'Microsoft.Storage',
      'nothing changes before approval',
    );

    const afterDecision = await decide(handle, PEOPLE.alice, 'approve', {
      fingerprint: waiting.plan.fingerprint,
    });
    assert.equal(afterDecision.approval.decisions[0]?.approverAadId, PEOPLE.alice.aadObjectId);
    const result = await resultOf(handle);

    assert.equal(result.outcome, 'succeeded', result.message);
    const encryption = stack.azure.account(account.name).encryption;
    assert.equal(encryption.keySource, 'Microsoft.Keyvault');
    assert.equal(encryption.keyName, 'cmk-key');
    assert.equal(encryption.keyVersion, '', 'versionless');
    assert.equal(stack.azure.dataAccess(account.name), 'allowed');
    assert.deepEqual(result.remaining, []);
    const card = stack.chat.latestCard(conv);
    assert.equal(card?.stage, 'done');
    assert.equal(card?.result?.outcome, 'succeeded');
    assert.equal(stack.chat.cardsIn(conv).length, 1, 'one card, updated in place');
    assert.match(card?.uiUrl ?? '', /^http:\/\/localhost:8233\/namespaces\/default\/workflows\//);
    const { typedSearchAttributes: attributes } = await handle.describe();
    assert.equal(attributes.get(SA.stage), 'done');
    assert.equal(attributes.get(SA.approval), 'approved');
    assert.equal(attributes.get(SA.operation), 'configure');
    assert.equal(attributes.get(SA.vault), `kv-${account.name}`.slice(0, 24));
    assert.equal(attributes.get(SA.requestedBy), 'chat', 'search attributes hold no person');
  });

  test('when an approver rejects, then the run ends rejected with the comment and Azure is unchanged', async () => {
    const account = stack.azure.addAccount(uniqueId('st').replace(/-/g, '').slice(0, 20));
    const handle = await stack.start('configure', configureInput(account, testPolicy(), uniqueId('conv')));
    await waitForApproval(handle);
    await decide(handle, PEOPLE.bob, 'reject', { comment: 'not during the freeze' });
    const result = await resultOf(handle);
    assert.equal(result.outcome, 'rejected');
    assert.match(result.message, /Bob Approver: not during the freeze/);
    assert.equal(stack.azure.account(account.name).encryption.keySource, 'Microsoft.Storage');
    assert.equal(stack.azure.vaults.has(`kv-${account.name}`.slice(0, 24)), false, 'no vault was created');
  });

  test('when someone outside the allow-list, the requester, a repeat approver or a stale card decides, then each is refused with a precise reason', async () => {
    const account = stack.azure.addAccount(uniqueId('st').replace(/-/g, '').slice(0, 20));
    const policy = testPolicy({ quorum: { configure: 2 } });
    const handle = await stack.start('configure', configureInput(account, policy, uniqueId('conv')));
    const waiting = await waitForApproval(handle);

    await assert.rejects(
      decide(handle, PEOPLE.mallory, 'approve'),
      refusal('You are not an approver for Configure CMK.'),
    );
    await assert.rejects(
      decide(handle, PEOPLE.requester, 'approve'),
      refusal('You requested this run; someone else must approve it.'),
    );
    await assert.rejects(
      decide(handle, PEOPLE.alice, 'approve', { fingerprint: 'f'.repeat(64) }),
      refusal('This card shows an older plan; refresh it.'),
    );
    await decide(handle, PEOPLE.alice, 'approve', { fingerprint: waiting.plan!.fingerprint });
    await assert.rejects(decide(handle, PEOPLE.alice, 'approve'), refusal('You already approved this run.'));

    const status = await handle.query(statusQuery);
    assert.equal(status.approval.decisions.length, 1, 'refused attempts are not recorded');
    assert.equal(status.approval.state, 'pending', 'one of two approvals');
    await decide(handle, PEOPLE.bob, 'approve');
    assert.equal((await resultOf(handle)).outcome, 'succeeded');
  });

  test('when a decision arrives after the run was approved, then it is refused as late', async () => {
    const account = stack.azure.addAccount(uniqueId('st').replace(/-/g, '').slice(0, 20));
    const held = stack.azure.hold('probeDataAccess');
    const handle = await stack.start('configure', configureInput(account, testPolicy(), uniqueId('conv')));
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');
    await held.reached;
    await assert.rejects(decide(handle, PEOPLE.bob, 'approve'), refusal('This run was already approved.'));
    held.release();
    assert.equal((await resultOf(handle)).outcome, 'succeeded');
  });

  test('when Azure changes after the approval was given, then the approval lapses and the new plan needs its own approval', async () => {
    const account = stack.azure.addAccount(uniqueId('st').replace(/-/g, '').slice(0, 20));
    const conv = uniqueId('conv');
    const handle = await stack.start('configure', configureInput(account, testPolicy(), conv));
    const first = await waitForApproval(handle);
    stack.azure.addVault(`kv-${account.name}`.slice(0, 24), { purgeProtection: false });

    await decide(handle, PEOPLE.alice, 'approve', { fingerprint: first.plan!.fingerprint });
    const lapsed = await waitForStatus(
      handle,
      (s) => s.stage === 'awaiting-approval' && s.plan?.fingerprint !== first.plan!.fingerprint,
    );
    assert.notEqual(lapsed.plan?.fingerprint, first.plan!.fingerprint);
    assert.match(lapsed.approval.lapsedReason ?? '', /changed in Azure after approval/);
    assert.equal(lapsed.approval.state, 'pending');
    assert.equal(
      stack.azure.changes.filter((c) => c.includes(account.name)).length,
      0,
      'nothing changed yet',
    );

    await assert.rejects(
      decide(handle, PEOPLE.bob, 'approve', { fingerprint: first.plan!.fingerprint }),
      refusal('This card shows an older plan; refresh it.'),
    );
    await decide(handle, PEOPLE.bob, 'approve', { fingerprint: lapsed.plan!.fingerprint });
    const result = await resultOf(handle);
    assert.equal(result.outcome, 'succeeded', result.message);
    assert.equal(stack.azure.vaults.get(`kv-${account.name}`.slice(0, 24))?.purgeProtection, true);
  });

  test('when approval is needed but nobody may approve the operation, then the run is blocked and names the setting', async () => {
    const account = stack.azure.addAccount(uniqueId('st').replace(/-/g, '').slice(0, 20));
    const policy = testPolicy({ approvers: {} });
    const handle = await stack.start('configure', configureInput(account, policy, uniqueId('conv')));
    const result = await resultOf(handle);
    assert.equal(result.outcome, 'blocked');
    assert.match(result.message, /CMK_APPROVERS_CONFIGURE/);
    assert.equal(stack.azure.account(account.name).encryption.keySource, 'Microsoft.Storage');
  });

  test('when the policy needs a Key Vault and a Storage approver, then two approvals from one role are not enough', async () => {
    const account = stack.azure.addAccount(uniqueId('st').replace(/-/g, '').slice(0, 20));
    const carol = { aadObjectId: 'dddddddd-dddd-4ddd-8ddd-dddddddddddd', name: 'Carol Storage' };
    const policy = testPolicy({
      quorum: { configure: 2 },
      roles: {
        configure: [
          { name: 'Key Vault', approvers: [PEOPLE.alice.aadObjectId, PEOPLE.bob.aadObjectId] },
          { name: 'Storage', approvers: [carol.aadObjectId] },
        ],
      },
    });
    const handle = await stack.start('configure', configureInput(account, policy, uniqueId('conv')));
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');
    await decide(handle, PEOPLE.bob, 'approve');
    assert.equal((await handle.query(statusQuery)).approval.state, 'pending');
    await decide(handle, carol, 'approve');
    assert.equal((await resultOf(handle)).outcome, 'succeeded');
  });
});
