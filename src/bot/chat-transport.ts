/**
 * The seam between cmk-runbook's bot and a Bot Framework SDK. A transport authenticates HTTP
 * requests, turns activities into commands and card actions for a {@link CmkBot}, and opens
 * conversations for proactive cards. Everything on this side of the seam is SDK-free.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { BotSdk } from '../config';
import type { ConversationRef } from '../shared/chat';
import type { AdaptiveCardJson } from './cards/render';
import type { CardAction } from './handle-action';
import type { IncomingCommand } from './handle-command';

/** One conversation, opened by a transport inside an inbound turn or a proactive one. */
export interface ConversationChannel {
  /**
   * A member known by Entra object id: their Teams user id (`29:…`, what `refresh.userIds` takes)
   * and display name; undefined (or a rejection) when Teams does not find them in this conversation.
   */
  getMember(aadObjectId: string): Promise<{ id: string; name?: string } | undefined>;
  /** Posts a card; returns the message id Teams gave it. */
  sendCard(card: AdaptiveCardJson): Promise<string | undefined>;
  sendText(text: string): Promise<void>;
  /** Replaces a posted card for everyone in the conversation. */
  updateCard(messageId: string, card: AdaptiveCardJson): Promise<void>;
}

/** The clicker's card, and work for everyone that starts once the clicker has their answer. */
export interface CardAnswer {
  card: AdaptiveCardJson;
  afterAnswer?: (channel: ConversationChannel) => Promise<void>;
}

/** What a transport hands authenticated activities to; see `bot.ts`. */
export interface CmkBot {
  /** Answers a chat command in the channel it came from. */
  onCommand(command: IncomingCommand, channel: ConversationChannel): Promise<void>;
  /** Answers an `Action.Execute` click with the clicker's card. */
  onCardAction(action: CardAction): Promise<CardAnswer>;
}

/** A POST to the messaging endpoint as the shared HTTP layer read it: a JSON object, not yet authenticated. */
export interface InboundRequest {
  method: string;
  headers: IncomingHttpHeaders;
  body: Record<string, unknown>;
}

/** A transport's answer to one request, and work to start once it is written. */
export interface InboundAnswer {
  status: number;
  body?: unknown;
  afterAnswer?: () => Promise<void>;
}

/** Handles one request: a token that does not validate is answered 401 and no turn runs. */
export type InboundHandler = (request: InboundRequest) => Promise<InboundAnswer>;

/** A Bot Framework SDK behind the seam. */
export interface ChatTransport {
  readonly sdk: BotSdk;
  /** The inbound side, handing commands and card actions to `bot`. */
  inbound(bot: CmkBot): InboundHandler;
  /** Runs `logic` in a proactive turn of a conversation recorded when a run started (by either SDK). */
  continueConversation<T>(
    conversation: ConversationRef,
    logic: (channel: ConversationChannel) => Promise<T>,
  ): Promise<T>;
}
