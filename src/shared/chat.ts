/**
 * The chat port: how runbooks talk to people without knowing Teams. The worker's chat
 * activities implement it over the bot's chat transport (either bot SDK); tests use a recorder
 * with the same contract.
 */
import type { RunStatus } from './approval';

/** A conversation reference captured by the bot when a run starts; opaque outside src/bot. */
export type ConversationRef = Record<string, unknown>;

/**
 * Who a card is for: everyone in the run's conversation, or the approvers — in the approvals
 * conversation, where the card @mentions them while their decision is pending.
 */
export type CardAudience = 'everyone' | 'approvers';

/** Post, update and send into a conversation. */
export interface ChatPort {
  /** Posts the run's card and returns the message id to update later. */
  postCard(conversation: ConversationRef, status: RunStatus, audience?: CardAudience): Promise<string>;
  /** Replaces the card for everyone in the conversation. */
  updateCard(
    conversation: ConversationRef,
    messageId: string,
    status: RunStatus,
    audience?: CardAudience,
  ): Promise<void>;
  /** Sends a plain message. */
  sendText(conversation: ConversationRef, text: string): Promise<void>;
}

/**
 * The conversation every approval request is also posted to (a channel or group chat the
 * approvers are in), from the worker's configuration; `name` is how cards refer to it.
 */
export interface ApprovalsConversation {
  conversation: ConversationRef;
  name: string;
}

/** A conversation reference the bot can post into, for a conversation known only by its id. */
export function conversationRefFor(
  conversationId: string,
  serviceUrl: string,
  tenantId: string | undefined,
  botId = '28:cmk-runbook',
): ConversationRef {
  // Channel conversations end in @thread.tacv2 (or .skype for old teams); group chats in @thread.v2.
  const channel = /@thread\.(tacv2|skype)$/i.test(conversationId);
  return {
    conversation: {
      id: conversationId,
      conversationType: channel ? 'channel' : 'groupChat',
      isGroup: true,
      ...(tenantId ? { tenantId } : {}),
    },
    channelId: 'msteams',
    serviceUrl,
    // The bot's own account: the Agents SDK refuses to send without one (botbuilder fills it in).
    bot: { id: botId },
  };
}

/**
 * A link that opens a message in Teams (the documented deep link to a chat or channel
 * message), so a requester can follow their request into the approvals conversation.
 */
export function teamsMessageLink(conversation: ConversationRef, messageId: string): string {
  const inner = (
    conversation as { conversation?: { id?: unknown; conversationType?: unknown; tenantId?: unknown } }
  ).conversation;
  const id = encodeURIComponent(typeof inner?.id === 'string' ? inner.id : '');
  const base = `https://teams.microsoft.com/l/message/${id}/${encodeURIComponent(messageId)}`;
  if (inner?.conversationType === 'channel') {
    const tenant =
      typeof inner.tenantId === 'string' ? `&tenantId=${encodeURIComponent(inner.tenantId)}` : '';
    return `${base}?parentMessageId=${encodeURIComponent(messageId)}${tenant}`;
  }
  return `${base}?context=${encodeURIComponent('{"contextType":"chat"}')}`;
}

/**
 * Where Teams' connector lives, per cloud: the only hosts the worker sends its Bot Framework
 * token to unless configured otherwise (Microsoft Teams "Send proactive messages" and the
 * Agents SDK's `TeamsServiceEndpoints`: public, GCC, GCC High, DoD).
 */
export const TEAMS_SERVICE_URLS: readonly string[] = [
  'https://smba.trafficmanager.net/',
  'https://smba.infra.gcc.teams.microsoft.com/',
  'https://smba.infra.gov.teams.microsoft.us/',
  'https://smba.infra.dod.teams.microsoft.us/',
];

/**
 * True when `serviceUrl` lies under one of the trusted URLs: same scheme, host and port, and a
 * path at or below the trusted one. Anything that does not parse is untrusted.
 */
export function isTrustedServiceUrl(serviceUrl: unknown, trusted: readonly string[]): boolean {
  if (typeof serviceUrl !== 'string') return false;
  let url: URL;
  try {
    url = new URL(serviceUrl);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  const path = url.pathname.endsWith('/') ? url.pathname : `${url.pathname}/`;
  return trusted.some((entry) => {
    let base: URL;
    try {
      base = new URL(entry);
    } catch {
      return false;
    }
    const basePath = base.pathname.endsWith('/') ? base.pathname : `${base.pathname}/`;
    return base.protocol === url.protocol && base.host === url.host && path.startsWith(basePath);
  });
}

/** The service URL of a conversation reference, if it has one. */
export function serviceUrlOf(conversation: ConversationRef | undefined): unknown {
  return conversation?.serviceUrl;
}
