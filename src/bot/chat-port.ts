/**
 * The runbooks' {@link ChatPort} over any chat transport: the worker posts and edits run cards
 * in the conversation a run was started from, within Teams' rate limits, and only through the
 * connectors the worker trusts.
 */
import { isTrustedServiceUrl, serviceUrlOf, type ChatPort, type ConversationRef } from '../shared/chat';
import { UntrustedServiceUrl } from '../shared/refusals';
import { conversationKeyOf } from './activity';
import type { ChatTransport, ConversationChannel } from './chat-transport';
import { createDelivery, type DeliveryOptions } from './delivery';
import { cardForEveryone, createMemberLookup, type MemberLookup } from './members';

/** Options for {@link createChatPort}. */
export interface ChatPortOptions {
  /**
   * The connectors the worker may send its Bot Framework token to (`CMK_TRUSTED_SERVICE_URLS`);
   * a conversation anywhere else is refused before any request is made.
   */
  trustedServiceUrls: readonly string[];
  delivery?: DeliveryOptions;
  /** Shared with the bot so both resolve approvers the same way. */
  members?: MemberLookup;
}

/** A {@link ChatPort} that posts and edits run cards through `transport`'s proactive turns. */
export function createChatPort(
  transport: Pick<ChatTransport, 'continueConversation'>,
  options: ChatPortOptions,
): ChatPort {
  const delivery = createDelivery(options.delivery);
  const members = options.members ?? createMemberLookup();
  const turn = <T>(
    conversation: ConversationRef,
    logic: (channel: ConversationChannel) => Promise<T>,
  ): Promise<T> => {
    const serviceUrl = serviceUrlOf(conversation);
    if (!isTrustedServiceUrl(serviceUrl, options.trustedServiceUrls)) {
      return Promise.reject(
        new UntrustedServiceUrl(
          `The conversation's service URL ${String(serviceUrl)} is not a trusted chat connector (CMK_TRUSTED_SERVICE_URLS); nothing was sent.`,
        ),
      );
    }
    return delivery.run(conversationKeyOf(conversation), () =>
      transport.continueConversation(conversation, logic),
    );
  };

  return {
    postCard(conversation, status, audience) {
      return turn(conversation, async (channel) => {
        const id = await channel.sendCard(await cardForEveryone(status, channel, members, audience));
        if (!id) throw new Error('Teams did not return a message id for the run card.');
        return id;
      });
    },
    updateCard(conversation, messageId, status, audience) {
      return turn(conversation, async (channel) =>
        channel.updateCard(messageId, await cardForEveryone(status, channel, members, audience)),
      );
    },
    sendText(conversation, text) {
      return turn(conversation, (channel) => channel.sendText(text));
    },
  };
}
