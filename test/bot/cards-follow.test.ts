import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RunResult } from '../../src/shared/runbooks';
import { SDKS } from './channel';
import { actionsOf, cardText, chatWith, chatPolicy, startChatStack, type ChatSide } from './chat-stack';
import { beforeAll } from '../kit/suite';
import { APPROVER, REQUESTER } from './fixtures';

describe('cards follow the run to its end, from every view (issue 14, measurement 5)', () => {
  const stack = beforeAll(() => startChatStack());
  const policy = chatPolicy({
    approvers: { configure: [APPROVER.aadObjectId] },
  });

  for (const sdk of SDKS) {
    test(`when an approver rejects on the card (${sdk}), then the card ends on the rejection, for everyone, with no buttons and no refresh`, async () => {
      const side = await stack.startSide(sdk, { policy });
      try {
        const chat = chatWith(stack, () => side);
        const account = stack.newAccount();
        await chat.say(REQUESTER, `configure ${account.name}`);
        const { messageId, data } = await chat.approvalCard();
        // The card answering the click may be shown after the run's own last edit (the Playground
        // does so), so it already carries the outcome rather than a stage the run has left.
        const answer = await chat.click(APPROVER, 'reject', messageId, data);
        assert.match(answer, /Megan Bowen rejected/);
        assert.match(answer, /🚫 Rejected[\s\S]*Rejected by Megan Bowen\. Nothing was changed\./);
        assert.doesNotMatch(answer, /Waiting for approval/);
        const result = (await stack.client.workflow.getHandle(account.workflowId).result()) as RunResult;
        assert.equal(result.outcome, 'rejected');
        await side.server.settled();

        // The last edit of the message is the run's own, with its outcome: nothing older lands after it.
        const last = chat.cards().get(messageId)!;
        assert.match(cardText(last), /🚫 Rejected/);
        assert.match(cardText(last), /Rejected by Megan Bowen\. Nothing was changed\./);
        // Its "After" is what is still so, not the plan that was turned down.
        assert.match(cardText(last), /After[\s\S]*Key source\nunchanged \(Microsoft-managed keys\)/);
        assert.doesNotMatch(cardText(last), /After[\s\S]*Customer-managed/);
        assert.equal(last.refresh, undefined);
        assert.deepEqual(actionsOf(last), ['Open in Temporal UI']);
        assert.equal(stack.keySourceOf(account), 'Microsoft.Storage');
      } finally {
        await side.stop();
      }
    });

    test(`when a run is approved from the card \`status\` posted, across a restart of bot and worker (${sdk}), then that card and the run's own card both follow it to its outcome`, async () => {
      let side: ChatSide = await stack.startSide(sdk, { policy });
      try {
        const chat = chatWith(stack, () => side);
        const account = stack.newAccount();
        await chat.say(REQUESTER, `configure ${account.name}`);
        const own = await chat.approvalCard();
        const mark = chat.sent().length;
        await chat.say(APPROVER, `status ${account.name}`);
        const statusCard = await chat.approvalCard(mark);
        assert.notEqual(statusCard.messageId, own.messageId);

        await side.stop();
        side = await stack.startSide(sdk, { policy, taskQueue: side.taskQueue });

        assert.match(
          await chat.click(APPROVER, 'approve', statusCard.messageId, statusCard.data),
          /Megan Bowen approved/,
        );
        const result = (await stack.client.workflow.getHandle(account.workflowId).result()) as RunResult;
        assert.equal(result.outcome, 'succeeded', result.message);
        for (const messageId of [own.messageId, statusCard.messageId]) {
          const card = await chat.cardShowing(messageId, '✅ Succeeded');
          assert.match(cardText(card), /Approved \(1 of 1\)/);
          assert.equal(card.refresh, undefined, `${messageId} refreshes for nobody once the run ended`);
        }
      } finally {
        await side.stop();
      }
    });
  }
});
