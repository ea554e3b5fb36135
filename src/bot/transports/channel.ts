/**
 * A conversation channel over a turn of either SDK: both post and edit cards the same way, with
 * their own activity factories; only finding a member differs between them.
 */
import type { AdaptiveCardJson } from '../cards/render';
import type { ConversationChannel } from '../chat-transport';

/** What a turn context of either SDK offers for sending and editing activities. */
export interface SendingTurn<A extends { id?: string }> {
  sendActivity(activity: A): Promise<{ id?: string } | undefined>;
  updateActivity(activity: A): Promise<unknown>;
}

/** The SDK's message activities: a card as an adaptive-card attachment, and plain text. */
export interface MessageActivities<A extends { id?: string }> {
  card(card: AdaptiveCardJson): A;
  text(text: string): A;
}

/** A channel that sends through `turn` with the SDK's `messages`, and finds members with `getMember`. */
export function turnChannel<A extends { id?: string }>(
  turn: SendingTurn<A>,
  messages: MessageActivities<A>,
  getMember: ConversationChannel['getMember'],
): ConversationChannel {
  return {
    getMember,
    async sendCard(card) {
      return (await turn.sendActivity(messages.card(card)))?.id || undefined;
    },
    async sendText(text) {
      await turn.sendActivity(messages.text(text));
    },
    async updateCard(messageId, card) {
      const activity = messages.card(card);
      activity.id = messageId;
      await turn.updateActivity(activity);
    },
  };
}
