import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Activity } from '@microsoft/agents-activity';
import { TurnContext } from 'botbuilder';
import { createChatPort } from '../../src/bot/chat-port';
import { createChatTransport } from '../../src/bot/transports';
import type { BotSdk } from '../../src/config';
import type { ChatPort, ConversationRef } from '../../src/shared/chat';
import { UntrustedServiceUrl } from '../../src/shared/refusals';
import { SDKS, localBot, startRecordingConnector, stubOutbound, type RecordingConnector } from './channel';
import { APPROVER, TENANT, pendingStatus, succeededStatus } from './fixtures';
import { beforeAll } from '../kit/suite';

const CHANNEL = '19:team-channel@thread.tacv2';

for (const sdk of SDKS) {
  describe(`the Teams chat port the worker posts run cards through (${sdk})`, () => {
    let connector: RecordingConnector;
    let chat: ChatPort;
    let conversation: ConversationRef;

    before(async () => {
      connector = await startRecordingConnector();
      chat = createChatPort(await createChatTransport(localBot(sdk)), {
        trustedServiceUrls: [connector.serviceUrl],
        delivery: { minIntervalInMs: 5, baseDelayInMs: 10, maxAttempts: 6 },
      });
      conversation = {
        activityId: 'command-1',
        channelId: 'msteams',
        serviceUrl: connector.serviceUrl,
        conversation: { id: CHANNEL, conversationType: 'channel', tenantId: TENANT },
        bot: { id: '28:cmk-runbook', name: 'cmk-runbook' },
        user: { id: '29:adele', name: 'Adele Vance' },
      };
    });
    after(async () => {
      await connector?.close();
    });

    const cardsIn = (method: string) =>
      connector.sent
        .filter((s) => s.method === method)
        .map((s) => (s.body.attachments as { content: Record<string, unknown> }[])[0]!.content);

    test('when a conversation names a service URL the worker does not trust, then nothing is sent there, token or not', async () => {
      const elsewhere = await startRecordingConnector();
      try {
        const appId = randomUUID();
        const registered = createChatPort(
          await createChatTransport(
            { ...localBot(sdk), appId, appPassword: 'unused', appType: 'MultiTenant' },
            stubOutbound(appId),
          ),
          { trustedServiceUrls: [connector.serviceUrl] },
        );
        const stolen = { ...conversation, serviceUrl: elsewhere.serviceUrl };
        await assert.rejects(registered.postCard(stolen, pendingStatus()), (error: Error) => {
          assert.ok(error instanceof UntrustedServiceUrl);
          assert.match(error.message, /is not a trusted chat connector \(CMK_TRUSTED_SERVICE_URLS\)/);
          return true;
        });
        await assert.rejects(registered.sendText(stolen, 'hello'), UntrustedServiceUrl);
        assert.deepEqual(elsewhere.sent, [], 'the untrusted connector got no request (and no token)');
        const id = await registered.postCard(conversation, pendingStatus());
        assert.equal(
          connector.sent.at(-1)?.authorization,
          'Bearer stub-outbound',
          'the trusted one gets both',
        );
        assert.ok(id);
      } finally {
        await elsewhere.close();
      }
    });

    test('when a run waits for approval, then the card is posted into the conversation and only approvers who have not decided get a refresh', async () => {
      const id = await chat.postCard(conversation, pendingStatus());
      assert.equal(id, `activity-${connector.sent.length}`);
      const card = cardsIn('POST').at(-1)!;
      assert.equal(connector.sent.at(-1)!.conversationId, CHANNEL);
      assert.deepEqual((card.refresh as { userIds: string[] }).userIds, [`29:${APPROVER.aadObjectId}`]);
    });

    test('when Teams throttles and fails upstream, then the card still arrives exactly once', async () => {
      const posted = connector.sent.length;
      connector.failNext(429, 2, 0);
      connector.failNext(412, 1);
      const refusedBefore = connector.refused;
      const id = await chat.postCard(conversation, pendingStatus());
      assert.equal(connector.refused - refusedBefore, 3);
      assert.equal(connector.sent.length, posted + 1);
      assert.equal(id, `activity-${connector.sent.length}`);
    });

    test('when a run finishes, then its card is edited in place with the outcome and no refresh', async () => {
      const id = await chat.postCard(conversation, pendingStatus());
      await chat.updateCard(conversation, id, succeededStatus());
      const edit = connector.sent.at(-1)!;
      assert.equal(edit.method, 'PUT');
      assert.equal(edit.activityId, id);
      const card = cardsIn('PUT').at(-1)!;
      assert.equal(card.refresh, undefined);
      assert.match(JSON.stringify(card), /Succeeded/);
    });

    test('when Teams keeps refusing, then the error reaches the caller instead of being swallowed', async () => {
      connector.failNext(404, 1);
      await assert.rejects(
        chat.sendText(conversation, 'hello'),
        (error: { statusCode?: number; status?: number }) => [error.statusCode, error.status].includes(404),
      );
      await chat.sendText(conversation, 'hello again');
      assert.equal(connector.sent.at(-1)!.body.text, 'hello again');
    });
  });
}

/** The command a run started from, as Teams delivered it. */
function commandActivity(serviceUrl: string) {
  return {
    type: 'message',
    id: 'command-7',
    text: 'configure stcontoso',
    channelId: 'msteams',
    serviceUrl,
    locale: 'en-GB',
    from: { id: '29:adele', name: 'Adele Vance', aadObjectId: '00000000-0000-0000-0000-0000000000a1' },
    recipient: { id: '28:cmk-runbook', name: 'cmk-runbook' },
    conversation: { id: CHANNEL, conversationType: 'channel', tenantId: TENANT, isGroup: true, name: 'Keys' },
    channelData: { tenant: { id: TENANT } },
  };
}

/** The reference each SDK's own API records for that command (runs started before the seam kept botbuilder's). */
const RECORDED_BY: Record<BotSdk, (activity: ReturnType<typeof commandActivity>) => ConversationRef> = {
  botbuilder: (activity) => ({ ...TurnContext.getConversationReference(activity) }),
  agents: (activity) => ({ ...Activity.fromObject(activity).getConversationReference() }),
};

describe('a conversation recorded under one SDK, continued under the other', () => {
  const connector = beforeAll(() => startRecordingConnector());

  for (const recordedBy of SDKS) {
    for (const postedBy of SDKS.filter((sdk) => sdk !== recordedBy)) {
      test(`when a run recorded its conversation under ${recordedBy}, then ${postedBy} posts and edits its card there as the bot`, async () => {
        const conversation = RECORDED_BY[recordedBy](commandActivity(connector.serviceUrl));
        const chat = createChatPort(await createChatTransport(localBot(postedBy)), {
          trustedServiceUrls: [connector.serviceUrl],
          delivery: { minIntervalInMs: 5 },
        });
        const id = await chat.postCard(conversation, pendingStatus());
        await chat.updateCard(conversation, id, succeededStatus());
        const [post, edit] = connector.sent.slice(-2);
        for (const sent of [post!, edit!]) {
          assert.equal(sent.conversationId, CHANNEL);
          assert.deepEqual(sent.body.from, { id: '28:cmk-runbook', name: 'cmk-runbook' });
          assert.equal((sent.body.recipient as { id: string }).id, '29:adele');
          assert.equal((sent.body.conversation as { tenantId: string }).tenantId, TENANT);
        }
        assert.equal(post!.method, 'POST');
        assert.equal(edit!.method, 'PUT');
        assert.equal(edit!.activityId, id);
        assert.match(JSON.stringify(edit!.body.attachments), /Succeeded/);
      });
    }
  }
});
