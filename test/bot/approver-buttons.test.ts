import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { statusQuery } from '../../src/shared/approval';
import { SDKS } from './channel';
import { actionsOf, cardText, chatPolicy, chatWith, startChatStack } from './chat-stack';
import { beforeAll } from '../kit/suite';
import { APPROVER, APPROVER_2, REQUESTER } from './fixtures';

const OUTSIDER = { aadObjectId: '00000000-0000-0000-0000-0000000000f1', name: 'Oscar Outsider' };

describe('approvers get their buttons without pressing Refresh (issue 14, measurement 3)', () => {
  const stack = beforeAll(() => startChatStack({ names: [APPROVER, APPROVER_2] }));
  const policy = chatPolicy({
    approvers: { configure: [APPROVER.aadObjectId, APPROVER_2.aadObjectId] },
    quorum: { configure: 2 },
  });
  afterEach(() => {
    stack.connector.members.unknown = false;
  });

  for (const sdk of SDKS) {
    test(`when Teams names the approvers (${sdk}), then their clients refresh to the buttons by themselves, the card names them, and someone who decided drops out of the refresh`, async () => {
      const side = await stack.startSide(sdk, { policy });
      try {
        const chat = chatWith(stack, () => side);
        const account = stack.newAccount();
        await chat.say(REQUESTER, `configure ${account.name}`);
        const { messageId, card, data } = await chat.approvalCard();
        assert.deepEqual(
          (card.refresh as { userIds: string[] }).userIds.sort(),
          [`29:${APPROVER.aadObjectId}`, `29:${APPROVER_2.aadObjectId}`].sort(),
        );
        assert.deepEqual(
          actionsOf(card),
          ['Refresh', 'Open in Temporal UI'],
          'no buttons in everyone’s view',
        );
        assert.match(cardText(card), /Approvals: 0 of 2 · from Megan Bowen, Lee Gu/);

        assert.match(await chat.click(APPROVER, 'refresh', messageId, data), /Approve[\s\S]*Reject/);
        await chat.click(APPROVER, 'approve', messageId, data);
        const after = await chat.cardShowing(messageId, /Approvals: 1 of 2 · from Lee Gu/);
        assert.deepEqual((after.refresh as { userIds: string[] }).userIds, [`29:${APPROVER_2.aadObjectId}`]);
        await stack.client.workflow.getHandle(account.workflowId).terminate('test done');
      } finally {
        await side.stop();
      }
    });

    test(`when Teams cannot look the approvers up (${sdk}), then everyone's card carries Approve and Reject, an outsider's click is refused with the workflow's sentence and an approver's counts`, async () => {
      stack.connector.members.unknown = true;
      const side = await stack.startSide(sdk, { policy });
      try {
        const chat = chatWith(stack, () => side);
        const account = stack.newAccount();
        await chat.say(REQUESTER, `configure ${account.name}`);
        const { messageId, card, data } = await chat.approvalCard();
        assert.deepEqual(actionsOf(card), ['Approve', 'Reject', 'Refresh', 'Open in Temporal UI']);
        assert.equal(
          (card.refresh as { userIds?: string[] }).userIds,
          undefined,
          'every member’s client refreshes to their own view',
        );
        // No names to point at: the card says who may decide without claiming it named them.
        assert.match(cardText(card), /Approvals: 0 of 2 · from any of 2 approvers/);
        assert.match(cardText(card), /Only this run's approvers can approve or reject/);
        assert.doesNotMatch(cardText(card), /named above/);

        assert.match(
          await chat.click(OUTSIDER, 'approve', messageId, data),
          /Not recorded: You are not an approver for Configure CMK\./,
        );
        assert.match(
          await chat.click(REQUESTER, 'approve', messageId, data),
          /Not recorded: You requested this run; someone else must approve it\./,
        );
        assert.match(await chat.click(APPROVER, 'approve', messageId, data), /Megan Bowen approved/);
        const status = await stack.client.workflow.getHandle(account.workflowId).query(statusQuery);
        assert.deepEqual(
          status.approval.decisions.map((d) => d.approverName),
          [APPROVER.name],
          'only the approver’s click was recorded',
        );
        await stack.client.workflow.getHandle(account.workflowId).terminate('test done');
      } finally {
        await side.stop();
      }
    });
  }
});
