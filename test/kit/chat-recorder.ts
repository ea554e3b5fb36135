/**
 * A ChatPort that keeps what users would see, per conversation: each card message (its latest
 * state and every version) and the plain texts; `failNext` makes the next call fail like a
 * transport would. Stands in for Teams in workflow and activity tests.
 */
import { randomUUID } from 'node:crypto';
import type { RunStatus } from '../../src/shared/approval';
import type { ChatPort, ConversationRef } from '../../src/shared/chat';

/** One card message as it stands, with every version it was posted or updated as. */
export interface RecordedCard {
  messageId: string;
  status: RunStatus;
  history: RunStatus[];
}

/** What one conversation shows. */
export interface RecordedConversation {
  cards: RecordedCard[];
  texts: string[];
}

/** Records posts, updates and texts per conversation. */
export class ChatRecorder implements ChatPort {
  private readonly conversations = new Map<string, RecordedConversation>();
  private failures: Error[] = [];

  /** The conversation key: the Teams conversation id (`conversation.id`), else the reference's `id`, else the whole reference. */
  static keyOf(conversation: ConversationRef): string {
    const ref = conversation as { id?: unknown; conversation?: { id?: unknown } };
    const id = ref.conversation?.id ?? ref.id;
    return typeof id === 'string' ? id : JSON.stringify(conversation);
  }

  async postCard(conversation: ConversationRef, status: RunStatus): Promise<string> {
    this.throwIfFailing();
    const messageId = `msg-${randomUUID().slice(0, 8)}`;
    this.view(conversation).cards.push({
      messageId,
      status: structuredClone(status),
      history: [structuredClone(status)],
    });
    return messageId;
  }

  async updateCard(conversation: ConversationRef, messageId: string, status: RunStatus): Promise<void> {
    this.throwIfFailing();
    const card = this.view(conversation).cards.find((c) => c.messageId === messageId);
    if (!card)
      throw Object.assign(new Error(`no message ${messageId} in this conversation`), { statusCode: 404 });
    card.status = structuredClone(status);
    card.history.push(structuredClone(status));
  }

  async sendText(conversation: ConversationRef, text: string): Promise<void> {
    this.throwIfFailing();
    this.view(conversation).texts.push(text);
  }

  /** What a conversation shows now (empty when nothing was posted). */
  seen(conversation: ConversationRef): RecordedConversation {
    return this.conversations.get(ChatRecorder.keyOf(conversation)) ?? { cards: [], texts: [] };
  }

  /** Cards posted into the conversation with this id. */
  cardsIn(conversationId: string): RecordedCard[] {
    return this.seen({ id: conversationId }).cards;
  }

  /** The card as everyone sees it now: the latest version of the last card posted there. */
  latestCard(conversationId: string): RunStatus | undefined {
    return this.cardsIn(conversationId).at(-1)?.status;
  }

  /** Texts sent into the conversation with this id. */
  textsIn(conversationId: string): string[] {
    return this.seen({ id: conversationId }).texts;
  }

  /** Makes the next call throw `error` (e.g. `{ statusCode: 503 }`), as a flaky transport would. */
  failNext(error: Error): void {
    this.failures.push(error);
  }

  private throwIfFailing(): void {
    const error = this.failures.shift();
    if (error) throw error;
  }

  private view(conversation: ConversationRef): RecordedConversation {
    const key = ChatRecorder.keyOf(conversation);
    let view = this.conversations.get(key);
    if (!view) {
      view = { cards: [], texts: [] };
      this.conversations.set(key, view);
    }
    return view;
  }
}

/** A new, empty chat recorder. */
export function chatRecorder(): ChatRecorder {
  return new ChatRecorder();
}
