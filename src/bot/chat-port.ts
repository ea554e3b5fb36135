/**
 * The runbooks' {@link ChatPort} over any chat transport: the worker posts and edits run cards
 * in the conversation a run was started from, within Teams' rate limits.
 */
import type { ChatPort, ConversationRef } from '../shared/chat';
import { conversationKeyOf } from './activity';
import type { ChatTransport, ConversationChannel } from './chat-transport';
import { createDelivery, type DeliveryOptions } from './delivery';
import { cardForEveryone, createTeamsUserIdLookup, type TeamsUserIdLookup } from './members';

/** Options for {@link createChatPort}. */
export interface ChatPortOptions {
  delivery?: DeliveryOptions;
  /** Shared with the bot so both resolve approvers the same way. */
  userIds?: TeamsUserIdLookup;
}

/** A {@link ChatPort} that posts and edits run cards through `transport`'s proactive turns. */
export function createChatPort(
  transport: Pick<ChatTransport, 'continueConversation'>,
  options: ChatPortOptions = {},
): ChatPort {
  const delivery = createDelivery(options.delivery);
  const userIds = options.userIds ?? createTeamsUserIdLookup();
  const turn = <T>(
    conversation: ConversationRef,
    logic: (channel: ConversationChannel) => Promise<T>,
  ): Promise<T> =>
    delivery.run(conversationKeyOf(conversation), () => transport.continueConversation(conversation, logic));

  return {
    postCard(conversation, status) {
      return turn(conversation, async (channel) => {
        const id = await channel.sendCard(await cardForEveryone(status, channel, userIds));
        if (!id) throw new Error('Teams did not return a message id for the run card.');
        return id;
      });
    },
    updateCard(conversation, messageId, status) {
      return turn(conversation, async (channel) =>
        channel.updateCard(messageId, await cardForEveryone(status, channel, userIds)),
      );
    },
    sendText(conversation, text) {
      return turn(conversation, (channel) => channel.sendText(text));
    },
  };
}
