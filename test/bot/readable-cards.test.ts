import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { SDKS } from './channel';
import { cardText, chatWith, chatPolicy, startChatStack } from './chat-stack';
import { beforeAll } from '../kit/suite';
import { APPROVER, REQUESTER } from './fixtures';

/** The runbook's service principal in the local Azure's seed. */
const RUNBOOK_OBJECT_ID = '5d2e8f71-3c4b-4f0a-8e6d-00000000a991';

describe('cards a person can read (issue 14, measurement 7)', () => {
  const stack = beforeAll(() => startChatStack({ names: [REQUESTER, APPROVER] }));
  const policy = chatPolicy({
    approvers: { configure: [APPROVER.aadObjectId], revoke: [APPROVER.aadObjectId] },
    deadline: '24h',
    alwaysApprove: ['configure', 'revoke'],
  });

  for (const sdk of SDKS) {
    test(`when configure turns purge protection on for an existing vault (${sdk}), then the card names people, gives the deadline in the reader's zone, and each step says what it did ("turned on", not "exists; checked")`, async () => {
      const side = await stack.startSide(sdk, { policy });
      try {
        const chat = chatWith(stack, () => side);
        const account = stack.newAccount();
        const vault = `kv-rd${randomUUID().replace(/-/g, '').slice(0, 10)}`;
        // Like the seed's kv-nopurge: soft delete, no purge protection, the runbook in its access policy.
        stack.azure.state.addVault({
          subscriptionId: stack.subscription,
          resourceGroup: 'rg-storage',
          name: vault,
          accessPolicies: [
            {
              objectId: RUNBOOK_OBJECT_ID,
              permissions: { keys: ['get', 'list', 'create', 'update', 'wrapKey', 'unwrapKey', 'rotate'] },
            },
          ],
        });
        // A client that sends no display name: the bot asks Teams for it rather than show an object id.
        const unnamed = { aadObjectId: REQUESTER.aadObjectId, name: '' };
        await chat.say(unnamed, `configure ${account.name} --vault ${vault} --enable-purge-protection`);
        const { messageId, card, data } = await chat.approvalCard();
        const pending = cardText(card);
        assert.match(pending, new RegExp(`Requested by\\n${REQUESTER.name}`));
        assert.doesNotMatch(pending, new RegExp(REQUESTER.aadObjectId));
        assert.match(pending, /Approvals: 0 of 1 · from Megan Bowen/);
        assert.match(
          pending,
          /Decide by \{\{DATE\(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, SHORT\)\}\} \{\{TIME\(.*\)\}\} \(24 h from the request\)/,
        );

        const mine = await chat.click(APPROVER, 'refresh', messageId, data, {
          entities: [{ type: 'clientInfo', locale: 'de-DE', timezone: 'Europe/Berlin' }],
        });
        assert.match(
          mine,
          /Decide by \w{3} \d{1,2} \w{3}, \d\d:\d\d (CET|CEST|GMT\+1|GMT\+2) \(in 2[34] h( \d+ min)?\)/,
        );

        await chat.click(APPROVER, 'approve', messageId, data);
        const done = cardText(await chat.cardShowing(messageId, '✅ Succeeded'));
        assert.match(
          done,
          new RegExp(
            `Turn on purge protection for ${vault} \\(🔒 irreversible\\) — purge protection turned on for ${vault}`,
          ),
        );
        assert.match(done, /— system-assigned identity turned on/);
        assert.match(done, /— granted \(access policy get\/wrap\/unwrap\)/);
        assert.match(done, /— created cmk-key, version \w{8}…/);
        assert.match(done, /— now \S+\/cmk-key \(versionless\)/);
        assert.doesNotMatch(done, /exists; checked|already done/);
      } finally {
        await side.stop();
      }
    });

    test(`when access is to be revoked (${sdk}), then the card shows who can reach the key before and that access is gone after`, async () => {
      const side = await stack.startSide(sdk, { policy });
      try {
        const chat = chatWith(stack, () => side);
        const account = stack.newAccount();
        await chat.say(REQUESTER, `configure ${account.name}`);
        const configure = await chat.approvalCard();
        await chat.click(APPROVER, 'approve', configure.messageId, configure.data);
        await chat.cardShowing(configure.messageId, '✅ Succeeded');
        await stack.client.workflow.getHandle(account.workflowId).result();

        const mark = chat.sent().length;
        await chat.say(REQUESTER, `revoke ${account.name}`);
        const revoke = await chat.approvalCard(mark);
        const text = cardText(revoke.card);
        assert.match(
          text,
          /Before[\s\S]*Key access\nIts system-assigned identity can wrap and unwrap with cmk-key[\s\S]*After/,
        );
        assert.match(text, /After[\s\S]*Key access\nremoved: blob data can no longer be read/);
        await chat.click(APPROVER, 'reject', revoke.messageId, revoke.data);
        const rejected = cardText(await chat.cardShowing(revoke.messageId, '🚫 Rejected'));
        assert.match(rejected, /After[\s\S]*Key access\nunchanged/);
      } finally {
        await side.stop();
      }
    });
  }
});
