/**
 * The chat activities: delegate to the injected {@link ChatPort} and classify its failures
 * (a bad conversation reference is permanent, a transport hiccup is retried).
 */
import { ApplicationFailure } from '@temporalio/common';
import type { ChatActivities } from '../shared/activities';
import type { ChatPort } from '../shared/chat';
import { CMK_ERROR_TYPES, RETRYABLE_ERROR_TYPES } from '../shared/errors';
import { ValidationError } from '../shared/names';
import { Refusal } from '../shared/refusals';

/** The three chat activities over a port. */
export function createChatActivities(chat: ChatPort): ChatActivities {
  return {
    postRunCard: ({ conversation, status, audience }) =>
      deliver(() => {
        requireConversation(conversation);
        return chat.postCard(conversation, status, audience);
      }),
    updateRunCard: ({ conversation, messageId, status, audience }) =>
      deliver(() => {
        requireConversation(conversation);
        if (typeof messageId !== 'string' || !messageId)
          throw new ValidationError('messageId', 'the id postRunCard returned');
        return chat.updateCard(conversation, messageId, status, audience);
      }),
    sendChatText: ({ conversation, text }) =>
      deliver(() => {
        requireConversation(conversation);
        if (typeof text !== 'string' || !text.trim())
          throw new ValidationError('text', 'a non-empty message');
        return chat.sendText(conversation, text);
      }),
  };
}

function requireConversation(conversation: unknown): void {
  if (!conversation || typeof conversation !== 'object')
    throw new ValidationError('conversation', 'the conversation reference the bot captured');
}

async function deliver<T>(send: () => Promise<T>): Promise<T> {
  try {
    return await send();
  } catch (error) {
    if (error instanceof Refusal) {
      // A connector the worker does not trust never gets a retry (or the token).
      throw ApplicationFailure.create({ type: error.name, message: error.message, nonRetryable: true });
    }
    if (error instanceof ValidationError) {
      throw ApplicationFailure.create({
        type: CMK_ERROR_TYPES.InvalidInput,
        message: error.message,
        nonRetryable: true,
      });
    }
    const status = (error as { statusCode?: number }).statusCode;
    const permanent =
      status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429;
    throw ApplicationFailure.create({
      type: permanent ? CMK_ERROR_TYPES.ChatDeliveryRejected : RETRYABLE_ERROR_TYPES.ChatUnavailable,
      message: `Chat delivery failed${status ? ` (${status})` : ''}: ${(error as Error).message ?? String(error)}`,
      nonRetryable: permanent,
      cause: error instanceof Error ? error : undefined,
    });
  }
}
