/**
 * The chat port: how runbooks talk to people without knowing Teams. The worker's chat
 * activities implement it over the bot's chat transport (either bot SDK); tests use a recorder
 * with the same contract.
 */
import type { RunStatus } from './approval';

/** A conversation reference captured by the bot when a run starts; opaque outside src/bot. */
export type ConversationRef = Record<string, unknown>;

/** Post, update and send into a conversation. */
export interface ChatPort {
  /** Posts the run's card and returns the message id to update later. */
  postCard(conversation: ConversationRef, status: RunStatus): Promise<string>;
  /** Replaces the card for everyone in the conversation. */
  updateCard(conversation: ConversationRef, messageId: string, status: RunStatus): Promise<void>;
  /** Sends a plain message. */
  sendText(conversation: ConversationRef, text: string): Promise<void>;
}
