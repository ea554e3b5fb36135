/**
 * The chat transport for the configured bot SDK. Only the chosen SDK is loaded: the rest of
 * cmk-runbook sees the {@link ChatTransport} seam and never which SDK is behind it.
 */
import type { BotConfig } from '../../config';
import type { BotLog } from '../bot';
import type { ChatTransport } from '../chat-transport';
import type { AgentsTransportOptions } from './agents';
import type { BotbuilderTransportOptions } from './botbuilder';

/** Per-SDK overrides for tests and sovereign clouds; production passes none. */
export interface ChatTransportOptions {
  log?: BotLog;
  botbuilder?: BotbuilderTransportOptions;
  agents?: AgentsTransportOptions;
}

/** Creates the transport `bot` is configured for. */
export async function createChatTransport(
  bot: BotConfig,
  options: ChatTransportOptions = {},
): Promise<ChatTransport> {
  switch (bot.sdk) {
    case 'agents': {
      const { createAgentsTransport } = await import('./agents.js');
      return createAgentsTransport(bot, options.agents, options.log);
    }
    case 'botbuilder': {
      const { createBotbuilderTransport } = await import('./botbuilder.js');
      return createBotbuilderTransport(bot, options.botbuilder, options.log);
    }
  }
}
