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
