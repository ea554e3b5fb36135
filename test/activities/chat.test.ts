import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { ApplicationFailure } from '@temporalio/common';
import { createActivities, createAzureClients } from '../../src/activities';
import type { RunStatus } from '../../src/shared/approval';
import { ChatRecorder } from '../kit';

const conversation = {
  conversation: { id: '19:run-room@thread.tacv2' },
  serviceUrl: 'https://smba.example/',
};

function status(stage: RunStatus['stage']): RunStatus {
  return {
    workflowId: 'cmk/sub/rg/stcontoso',
    runId: 'run-1',
    operation: 'rotate',
    account: {
      subscriptionId: '3f1c9a2e-7b64-4d0e-a5c8-0000000000a1',
      resourceGroup: 'rg-storage',
      name: 'stcontoso',
    },
    requester: { aadObjectId: '00000000-0000-0000-0000-0000000000aa', name: 'Ada' },
    stage,
    summary: 'Rotate key · stcontoso',
    approval: { state: 'not-required', quorum: 0, approvers: [], decisions: [] },
    steps: [],
  };
}

function chatActivities(chat: ChatRecorder) {
  const azure = createAzureClients(
    {
      tenantId: '7c0a5e1d-0b5e-4c1a-9e2f-00000000c0de',
      subscriptionIds: [],
      armEndpoint: 'https://management.azure.com',
    },
    { credential: { getToken: async () => null } },
  );
  return createActivities({
    azure,
    chat,
    tenantId: '7c0a5e1d-0b5e-4c1a-9e2f-00000000c0de',
    runbookPrincipalId: '5d2e8f71-3c4b-4f0a-8e6d-00000000a991',
  });
}

const run = <T>(fn: () => Promise<T>): Promise<T> => new MockActivityEnvironment().run(fn);

describe('chat activities', () => {
  test('when a card is posted and then updated, then the conversation shows one card in its latest state and the text sent', async () => {
    const chat = new ChatRecorder();
    const a = chatActivities(chat);
    const messageId = await run(() => a.postRunCard({ conversation, status: status('preflight') }));
    await run(() => a.updateRunCard({ conversation, messageId, status: status('done') }));
    await run(() => a.sendChatText({ conversation, text: 'Rotated stcontoso.' }));
    const seen = chat.seen(conversation);
    assert.equal(seen.cards.length, 1);
    assert.equal(seen.cards[0]?.status.stage, 'done');
    assert.deepEqual(
      seen.cards[0]?.history.map((s) => s.stage),
      ['preflight', 'done'],
    );
    assert.deepEqual(seen.texts, ['Rotated stcontoso.']);
  });

  test('when the chat transport is briefly unavailable, then the failure is retryable', async () => {
    const chat = new ChatRecorder();
    chat.failNext(Object.assign(new Error('Service Unavailable'), { statusCode: 503 }));
    await assert.rejects(
      run(() => chatActivities(chat).sendChatText({ conversation, text: 'hi' })),
      (error: ApplicationFailure) => error.type === 'ChatUnavailable' && error.nonRetryable === false,
    );
    assert.deepEqual(chat.seen(conversation).texts, []);
  });

  test('when the message to update is gone, then the failure is non-retryable ChatDeliveryRejected', async () => {
    const chat = new ChatRecorder();
    await assert.rejects(
      run(() =>
        chatActivities(chat).updateRunCard({ conversation, messageId: 'missing', status: status('done') }),
      ),
      {
        type: 'ChatDeliveryRejected',
        nonRetryable: true,
      },
    );
  });

  test('when the text is empty, then the error names the field and nothing is sent', async () => {
    const chat = new ChatRecorder();
    await assert.rejects(
      run(() => chatActivities(chat).sendChatText({ conversation, text: '  ' })),
      { type: 'InvalidInput', message: 'text: a non-empty message' },
    );
    assert.deepEqual(chat.seen(conversation).texts, []);
  });
});
