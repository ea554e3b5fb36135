/**
 * A ChatPort that records what users would see: each conversation's cards (every version)
 * and texts. Stands in for Teams in workflow tests.
 */
import type { RunStatus } from '../../src/shared/approval';
import type { ChatPort, ConversationRef } from '../../src/shared/chat';

/** One posted card with every version it was updated to. */
export interface RecordedCard {
  messageId: string;
  versions: RunStatus[];
}

/** Records cards and texts per conversation id. */
export class ChatRecorder implements ChatPort {
  private readonly cards = new Map<string, RecordedCard[]>();
  private readonly texts = new Map<string, string[]>();
  private next = 1;

  async postCard(conversation: ConversationRef, status: RunStatus): Promise<string> {
    const messageId = `msg-${this.next++}`;
    const list = this.cards.get(idOf(conversation)) ?? [];
    list.push({ messageId, versions: [structuredClone(status)] });
    this.cards.set(idOf(conversation), list);
    return messageId;
  }

  async updateCard(conversation: ConversationRef, messageId: string, status: RunStatus): Promise<void> {
    const card = this.cards.get(idOf(conversation))?.find((c) => c.messageId === messageId);
    if (!card) throw new Error(`no card ${messageId} in ${idOf(conversation)}`);
    card.versions.push(structuredClone(status));
  }

  async sendText(conversation: ConversationRef, text: string): Promise<void> {
    this.texts.set(idOf(conversation), [...(this.texts.get(idOf(conversation)) ?? []), text]);
  }

  /** Cards posted into a conversation. */
  cardsIn(conversationId: string): RecordedCard[] {
    return this.cards.get(conversationId) ?? [];
  }

  /** The card as everyone sees it now (latest version of the last card). */
  latestCard(conversationId: string): RunStatus | undefined {
    return this.cardsIn(conversationId).at(-1)?.versions.at(-1);
  }

  /** Texts sent into a conversation. */
  textsIn(conversationId: string): string[] {
    return this.texts.get(conversationId) ?? [];
  }
}

function idOf(conversation: ConversationRef): string {
  return String((conversation as { conversation?: { id?: string } }).conversation?.id ?? conversation.id);
}
