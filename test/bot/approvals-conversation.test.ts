import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { conversationRefFor } from '../../src/shared/chat';
import type { RunResult } from '../../src/shared/runbooks';
import { SDKS } from './channel';
import { actionsOf, cardText, chatWith, chatPolicy, startChatStack } from './chat-stack';
import { beforeAll } from '../kit/suite';
import { APPROVER, APPROVER_2, REQUESTER } from './fixtures';

describe('approvals reach approvers in the approvals conversation (issue 14, measurement 9)', () => {
  const stack = beforeAll(() => startChatStack({ names: [APPROVER, APPROVER_2] }));
  const policy = chatPolicy({
    approvers: { configure: [APPROVER.aadObjectId, APPROVER_2.aadObjectId] },
  });

  for (const sdk of SDKS) {
    test(`when a request is made in a 1:1 chat (${sdk}), then its card is also posted to the approvals group chat @mentioning the approvers, the requester's card links there, and a decision there finishes the run on both cards`, async () => {
      const approvalsId = `19:approvals-${randomUUID().slice(0, 8)}@thread.v2`;
      const approvals = {
        conversation: conversationRefFor(approvalsId, stack.connector.serviceUrl, stack.tenantId),
        name: 'Key Custodians',
      };
      const side = await stack.startSide(sdk, { policy, trust: { approvals } });
      try {
        const personal = chatWith(stack, () => side);
        const custodians = chatWith(stack, () => side, {
          conversation: { id: approvalsId, conversationType: 'groupChat' },
        });
        const account = stack.newAccount();
        await personal.say(REQUESTER, `configure ${account.name}`);

        const request = await custodians.approvalCard();
        const entities = (request.card.msteams as { entities: { text: string; mentioned: { id: string } }[] })
          .entities;
        assert.deepEqual(
          entities.map((e) => [e.text, e.mentioned.id]),
          [
            [`<at>${APPROVER.name}</at>`, APPROVER.aadObjectId],
            [`<at>${APPROVER_2.name}</at>`, APPROVER_2.aadObjectId],
          ],
        );
        const first = (request.card.body as { text: string }[])[0]!.text;
        assert.equal(
          first,
          `Your approval is requested: <at>${APPROVER.name}</at> and <at>${APPROVER_2.name}</at>`,
        );
        assert.doesNotMatch(cardText(request.card), /The approvers were asked in/);

        const ownId = (await personal.approvalCard()).messageId;
        const own = await personal.cardShowing(ownId, '📣 The approvers were asked in Key Custodians.');
        const link = (own.actions as { title?: string; url?: string }[]).find(
          (a) => a.title === 'Open the request in Key Custodians',
        );
        assert.equal(
          link?.url,
          `https://teams.microsoft.com/l/message/${encodeURIComponent(approvalsId)}/${request.messageId}?context=${encodeURIComponent('{"contextType":"chat"}')}`,
        );

        assert.match(
          await custodians.click(APPROVER_2, 'approve', request.messageId, request.data),
          /Lee Gu approved/,
        );
        const result = (await stack.client.workflow.getHandle(account.workflowId).result()) as RunResult;
        assert.equal(result.outcome, 'succeeded', result.message);
        const requestCard = await custodians.cardShowing(request.messageId, '✅ Succeeded');
        assert.doesNotMatch(
          cardText(requestCard),
          /Your approval is requested/,
          'no more mentions once decided',
        );
        assert.deepEqual(actionsOf(requestCard), ['Open in Temporal UI']);
        await personal.cardShowing(ownId, '✅ Succeeded');
      } finally {
        await side.stop();
      }
    });
  }
});
