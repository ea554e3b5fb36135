import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { statusQuery } from '../../src/shared/approval';
import type { RunResult } from '../../src/shared/runbooks';
import { uniqueId } from '../helpers/temporal';
import { SDKS } from './channel';
import { cardText, chatPolicy, chatWith, startChatStack, type ChatSide } from './chat-stack';
import { beforeAll } from '../kit/suite';
import { APPROVER, REQUESTER } from './fixtures';

const OUTSIDER = { aadObjectId: '00000000-0000-0000-0000-0000000000f1', name: 'Oscar Outsider' };

describe('approvals from chat to Azure and back, on each bot SDK', () => {
  const stack = beforeAll(() => startChatStack());
  const policy = chatPolicy({ approvers: { configure: [APPROVER.aadObjectId, REQUESTER.aadObjectId] } });

  const startChatSide = (sdk: ChatSide['sdk'], taskQueue: string) =>
    stack.startSide(sdk, { policy, taskQueue });

  for (const sdk of SDKS) {
    test(`when configure is approved on the card (${sdk}), then the account is encrypted and the card shows the outcome`, async () => {
      const side = await startChatSide(sdk, uniqueId(`bot-flow-${sdk}`));
      try {
        const { click, say, approvalCard, cardShowing } = chatWith(stack, () => side);
        const account = stack.newAccount();
        const { name, workflowId } = account;
        assert.equal((await say(REQUESTER, `configure ${name}`)).status, 200);

        const { messageId, card, data } = await approvalCard();
        assert.deepEqual(
          (card.refresh as { userIds: string[] }).userIds.sort(),
          [`29:${APPROVER.aadObjectId}`, `29:${REQUESTER.aadObjectId}`].sort(),
        );

        assert.match(await click(APPROVER, 'refresh', messageId, data), /Approve[\s\S]*Reject/);
        assert.match(await click(OUTSIDER, 'refresh', messageId, data), /^(?![\s\S]*\nApprove\n)/);

        assert.match(
          await click(REQUESTER, 'approve', messageId, data),
          /Not recorded: You requested this run; someone else must approve it\./,
        );
        assert.match(
          await click(OUTSIDER, 'approve', messageId, data),
          /Not recorded: You are not an approver for Configure CMK\./,
        );
        assert.match(
          await click(APPROVER, 'approve', messageId, data, {
            channelData: { tenant: { id: randomUUID() } },
          }),
          /Not recorded: You are signed in to another organisation/,
        );

        const clickId = randomUUID();
        assert.match(
          await click(APPROVER, 'approve', messageId, data, { id: clickId }),
          /Megan Bowen approved/,
        );
        await click(APPROVER, 'approve', messageId, data, { id: clickId });
        const status = await stack.client.workflow.getHandle(workflowId).query(statusQuery);
        assert.equal(status.approval.decisions.length, 1);

        const result = (await stack.client.workflow.getHandle(workflowId).result()) as RunResult;
        assert.equal(result.outcome, 'succeeded', result.message);
        assert.equal(stack.keySourceOf(account), 'Microsoft.Keyvault');

        const final = await cardShowing(messageId, 'Succeeded');
        assert.match(cardText(final), /Approved \(1 of 1\)/);
        assert.equal(final.refresh, undefined);

        const statusCard = (await say(REQUESTER, `status ${name}`)).text;
        assert.match(statusCard, /Succeeded/);
        assert.match(statusCard, /After[\s\S]*Customer-managed \(Key Vault\)[\s\S]*cmk-key/);
        const runsCard = (await say(REQUESTER, 'runs')).text;
        assert.match(runsCard, new RegExp(`Configure CMK · ${name}`));
        assert.ok(
          runsCard.includes(`http://ui.test/namespaces/default/workflows/${encodeURIComponent(workflowId)}/`),
        );
      } finally {
        await side.stop();
      }
    });
  }

  for (const from of SDKS) {
    for (const to of SDKS.filter((sdk) => sdk !== from)) {
      test(`when a run waits for approval under ${from} and the installation moves to ${to}, then the approval on ${to} finishes it and the card ${from} posted shows the outcome`, async () => {
        const taskQueue = uniqueId(`bot-move-${from}`);
        let side = await startChatSide(from, taskQueue);
        const { click, say, approvalCard, cardShowing } = chatWith(stack, () => side);
        try {
          const account = stack.newAccount();
          const { name, workflowId } = account;
          assert.equal((await say(REQUESTER, `configure ${name}`)).status, 200);
          const { messageId, data } = await approvalCard();

          await side.stop();
          side = await startChatSide(to, taskQueue);

          assert.match(await click(APPROVER, 'approve', messageId, data), /Megan Bowen approved/);
          const result = (await stack.client.workflow.getHandle(workflowId).result()) as RunResult;
          assert.equal(result.outcome, 'succeeded', result.message);
          assert.equal(stack.keySourceOf(account), 'Microsoft.Keyvault');
          assert.match(cardText(await cardShowing(messageId, 'Succeeded')), /Approved \(1 of 1\)/);
        } finally {
          await side.stop();
        }
      });
    }
  }
});
