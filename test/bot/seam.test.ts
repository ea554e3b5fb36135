import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { AdaptiveCardJson } from '../../src/bot/cards/render';
import type { CmkBot } from '../../src/bot/chat-transport';
import type { CardAction } from '../../src/bot/handle-action';
import type { IncomingCommand } from '../../src/bot/handle-command';
import { startBotServer, type BotServer } from '../../src/bot/server';
import { SDKS, localBot, startRecordingConnector, type RecordingConnector } from './channel';
import { APPROVER, REQUESTER, TENANT } from './fixtures';

const card = (text: string): AdaptiveCardJson => ({
  type: 'AdaptiveCard',
  version: '1.5',
  body: [{ type: 'TextBlock', text }],
});

/** A bot that keeps what the transport handed it and answers through the channels it was given. */
function recordingBot() {
  const commands: IncomingCommand[] = [];
  const actions: CardAction[] = [];
  const bot: CmkBot = {
    async onCommand(command, channel) {
      commands.push(command);
      const member = await channel.getMember(APPROVER.aadObjectId);
      await channel.sendText(`heard "${command.text}"; the approver is ${member?.id}`);
    },
    async onCardAction(action) {
      actions.push(action);
      return {
        card: card('for the clicker'),
        afterAnswer: async (channel) => {
          const member = await channel.getMember(APPROVER.aadObjectId);
          await channel.updateCard(
            action.messageId ?? '',
            card(`for everyone, refreshing for ${member?.id}`),
          );
        },
      };
    },
  };
  return { bot, commands, actions };
}

for (const sdk of SDKS) {
  describe(`the seam between the bot and ${sdk}`, () => {
    let connector: RecordingConnector;
    let server: BotServer;
    const recorded = recordingBot();
    const conversation = {
      id: `19:${randomUUID()}@thread.v2`,
      conversationType: 'groupChat',
      tenantId: TENANT,
    };

    before(async () => {
      connector = await startRecordingConnector();
      server = await startBotServer({
        bot: localBot(sdk, [connector.serviceUrl]),
        handler: recorded.bot,
        log: () => {},
      });
    });
    after(async () => {
      await server?.close();
      await connector?.close();
    });

    const activity = (extra: Record<string, unknown>) => ({
      id: randomUUID(),
      channelId: 'msteams',
      serviceUrl: connector.serviceUrl,
      locale: 'en-GB',
      localTimezone: 'Europe/Berlin',
      from: { id: `29:${REQUESTER.aadObjectId}`, ...REQUESTER },
      recipient: { id: '28:cmk-runbook', name: 'cmk-runbook' },
      conversation,
      channelData: { tenant: { id: TENANT } },
      ...extra,
    });
    const post = (body: object) =>
      fetch(`${server.url}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });

    test('when a command @mentions the bot in a group chat, then the bot gets the text without the mention, the requester, the tenant and the reference a run records, and can answer there', async () => {
      const message = activity({
        type: 'message',
        text: '<at>cmk-runbook</at> rotate stcontoso',
        entities: [
          {
            type: 'mention',
            text: '<at>cmk-runbook</at>',
            mentioned: { id: '28:cmk-runbook', name: 'cmk-runbook' },
          },
        ],
      });
      assert.equal((await post(message)).status, 200);
      assert.deepEqual(recorded.commands.at(-1), {
        text: 'rotate stcontoso',
        requester: REQUESTER,
        tenantId: TENANT,
        activityId: message.id,
        timeZone: 'Europe/Berlin',
        // The same reference whichever SDK recorded it: the Bot Framework's shape.
        conversation: {
          activityId: message.id,
          user: message.from,
          bot: message.recipient,
          conversation,
          channelId: 'msteams',
          locale: 'en-GB',
          serviceUrl: connector.serviceUrl,
        },
      });
      const reply = connector.sent.at(-1)!;
      assert.equal(reply.conversationId, conversation.id);
      assert.equal(reply.body.text, `heard "rotate stcontoso"; the approver is 29:${APPROVER.aadObjectId}`);
    });

    test('when a card button is clicked, then the bot gets the verb, the data, the clicking user, the tenant and the message, the clicker gets their card, and everyone’s copy is edited after that answer', async () => {
      const invoke = activity({
        type: 'invoke',
        name: 'adaptiveCard/action',
        replyToId: 'activity-42',
        // Teams names the clicker's zone in the clientInfo entity (the message above: localTimezone).
        localTimezone: undefined,
        entities: [{ type: 'clientInfo', locale: 'en-GB', timezone: 'Asia/Tokyo' }],
        value: {
          action: { type: 'Action.Execute', verb: 'approve', data: { workflowId: 'cmk/x' } },
          trigger: 'manual',
        },
      });
      const response = await post(invoke);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), {
        statusCode: 200,
        type: 'application/vnd.microsoft.card.adaptive',
        value: card('for the clicker'),
      });
      assert.deepEqual(recorded.actions.at(-1), {
        verb: 'approve',
        data: { workflowId: 'cmk/x' },
        user: { aadObjectId: REQUESTER.aadObjectId, name: REQUESTER.name },
        tenantId: TENANT,
        invokeId: invoke.id,
        messageId: 'activity-42',
        timeZone: 'Asia/Tokyo',
      });
      await server.settled();
      const edit = connector.sent.at(-1)!;
      assert.equal(edit.method, 'PUT');
      assert.equal(edit.conversationId, conversation.id);
      assert.equal(edit.activityId, 'activity-42');
      assert.match(
        JSON.stringify(edit.body.attachments),
        new RegExp(`refreshing for 29:${APPROVER.aadObjectId}`),
      );
    });
  });
}
