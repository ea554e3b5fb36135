import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createChatPort } from '../../src/bot/chat-port';
import { createChatTransport } from '../../src/bot/transports';
import type { BotConfig } from '../../src/config';
import type { ChatPort, ConversationRef } from '../../src/shared/chat';
import { startRecordingConnector, type RecordingConnector } from './channel';
import { APPROVER, TENANT, pendingStatus, succeededStatus } from './fixtures';

const BOT: BotConfig = {
  appId: '',
  appPassword: '',
  appType: 'SingleTenant',
  appTenantId: '',
  port: 0,
  host: '127.0.0.1',
};

describe('the Teams chat port the worker posts run cards through', () => {
  let connector: RecordingConnector;
  let chat: ChatPort;
  let conversation: ConversationRef;

  before(async () => {
    connector = await startRecordingConnector();
    chat = createChatPort(await createChatTransport(BOT), {
      delivery: { minIntervalInMs: 5, baseDelayInMs: 10, maxAttempts: 6 },
    });
    conversation = {
      activityId: 'command-1',
      channelId: 'msteams',
      serviceUrl: connector.serviceUrl,
      conversation: { id: '19:team-channel@thread.tacv2', conversationType: 'channel', tenantId: TENANT },
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

  test('when a run waits for approval, then the card is posted into the conversation and only approvers who have not decided get a refresh', async () => {
    const id = await chat.postCard(conversation, pendingStatus());
    assert.equal(id, `activity-${connector.sent.length}`);
    const card = cardsIn('POST').at(-1)!;
    const path = connector.sent.at(-1)!.path;
    assert.ok(
      path.startsWith(`/v3/conversations/${encodeURIComponent('19:team-channel@thread.tacv2')}/activities`),
    );
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
    assert.ok(edit.path.endsWith(`/activities/${id}`));
    const card = cardsIn('PUT').at(-1)!;
    assert.equal(card.refresh, undefined);
    assert.match(JSON.stringify(card), /Succeeded/);
  });

  test('when Teams keeps refusing, then the error reaches the caller instead of being swallowed', async () => {
    connector.failNext(404, 1);
    await assert.rejects(
      chat.sendText(conversation, 'hello'),
      (error: { statusCode?: number }) => error.statusCode === 404,
    );
    await chat.sendText(conversation, 'hello again');
    assert.equal(connector.sent.at(-1)!.body.text, 'hello again');
  });
});
