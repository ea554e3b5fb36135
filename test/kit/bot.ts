/**
 * The bot as the kit starts it: the real HTTP endpoint (local mode, or Bot Framework auth against
 * an offline token authority) over the production command handler, run service and ARM account
 * resolver, and the worker's chat port to a connector. The one module that imports the bot's
 * entry points, so a move of them is a one-line change here.
 */
import { StorageManagementClient } from '@azure/arm-storage';
import type { Client } from '@temporalio/client';
import { createArmAccountResolver } from '../../src/bot/accounts';
import { createCmkBot, type BotLog, type CmkBotDeps } from '../../src/bot/bot';
import { createChatPort } from '../../src/bot/chat-port';
import type { DeliveryOptions } from '../../src/bot/delivery';
import { createRunService } from '../../src/bot/run-service';
import { startBotServer, type BotServer, type BotServerOptions } from '../../src/bot/server';
import { createChatTransport, type ChatTransportOptions } from '../../src/bot/transports';
import type { BotConfig, BotSdk } from '../../src/config';
import type { ApprovalPolicy } from '../../src/shared/approval';
import type { ChatPort } from '../../src/shared/chat';
import { testSigner } from '../helpers/trust';
import type { KitAzure } from './azure';

export type { BotServer } from '../../src/bot/server';

/** A bot for local use (no app id, so no tokens) on `sdk`, on a free loopback port, answering `trustedServiceUrls`. */
export function localBot(sdk: BotSdk, trustedServiceUrls: string[] = []): BotConfig {
  return {
    sdk,
    appId: '',
    appPassword: '',
    appType: 'SingleTenant',
    appTenantId: '',
    port: 0,
    host: '127.0.0.1',
    trustedServiceUrls,
  };
}

/** A bot registered as `appId` (Bot Framework auth on; with the offline token authority's transport options in tests). */
export function registeredBot(sdk: BotSdk, appId: string, trustedServiceUrls: string[] = []): BotConfig {
  return { ...localBot(sdk, trustedServiceUrls), appId, appPassword: 'unused', appType: 'MultiTenant' };
}

/** What {@link startBot} needs. */
export interface KitBotOptions {
  /** The bot's configuration, e.g. {@link localBot}. */
  bot: BotConfig;
  client: Client;
  taskQueue: string;
  /** The Azure accounts are resolved in; without it, `deps` must name the resolver and subscriptions. */
  azure?: Pick<KitAzure, 'local' | 'credential'>;
  policy: ApprovalPolicy;
  uiBaseUrl?: string;
  log?: BotLog;
  /** Bot Framework auth (e.g. the offline token authority's). */
  transportOptions?: BotServerOptions['transportOptions'];
  /** Handler dependencies beyond the defaults (metrics, a member lookup). */
  deps?: Partial<CmkBotDeps>;
}

/** Handler dependencies for a bot that resolves no accounts (its suite never names one). */
export const NO_ACCOUNTS: Pick<CmkBotDeps, 'resolver' | 'subscriptionIds'> = {
  resolver: createArmAccountResolver({
    subscriptionIds: [],
    storage: () => {
      throw new Error('this bot resolves no accounts');
    },
  }),
  subscriptionIds: [],
};

/** Starts the bot endpoint over the production handler; `close()` it after the suite. */
export function startBot(options: KitBotOptions): Promise<BotServer> {
  return startBotServer(botServerOptions(options));
}

/** What {@link startBot} starts the endpoint with, for a suite that starts it itself (another host, its log). */
export function botServerOptions(options: KitBotOptions): BotServerOptions {
  const accounts = options.azure
    ? ((azure) => ({
        resolver: createArmAccountResolver({
          subscriptionIds: azure.local.subscriptionIds,
          storage: (s) => new StorageManagementClient(azure.credential, s, { agent: azure.local.agent }),
        }),
        subscriptionIds: azure.local.subscriptionIds,
      }))(options.azure)
    : undefined;
  if (!accounts && !(options.deps?.resolver && options.deps.subscriptionIds))
    throw new Error('startBot needs the local Azure or a resolver and subscription ids');
  const uiBaseUrl = options.uiBaseUrl ?? 'http://ui.test';
  return {
    bot: options.bot,
    ...(options.transportOptions ? { transportOptions: options.transportOptions } : {}),
    handler: createCmkBot({
      runs: createRunService({
        client: options.client,
        taskQueue: options.taskQueue,
        namespace: 'default',
        uiBaseUrl,
      }),
      ...(accounts as Pick<CmkBotDeps, 'resolver' | 'subscriptionIds'>),
      policy: options.policy,
      signer: testSigner,
      uiBaseUrl,
      ...(options.log ? { log: options.log } : {}),
      ...options.deps,
    }),
    log: () => {},
  };
}

/** The worker's chat port as production builds it: the bot's transport, delivering only to trusted connectors. */
export async function chatPortFor(
  bot: BotConfig,
  options: {
    trustedServiceUrls: string[];
    delivery?: DeliveryOptions;
    transport?: ChatTransportOptions;
  },
): Promise<ChatPort> {
  return createChatPort(await createChatTransport(bot, options.transport), {
    trustedServiceUrls: options.trustedServiceUrls,
    delivery: options.delivery ?? { minIntervalInMs: 5, baseDelayInMs: 10 },
  });
}
