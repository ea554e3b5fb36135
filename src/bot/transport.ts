/**
 * The chat transport over botbuilder: builds the adapter from config and implements the
 * runbooks' {@link ChatPort} with proactive turns (`continueConversationAsync`), so the worker
 * can post and edit run cards in the conversation a command came from.
 */
import {
  CardFactory,
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  MessageFactory,
  type ConfigurationBotFrameworkAuthenticationOptions,
  type ConversationReference,
  type TurnContext,
} from 'botbuilder';
import type { BotConfig } from '../config';
import type { RunStatus } from '../shared/approval';
import type { ChatPort, ConversationRef } from '../shared/chat';
import { renderRunCard, type AdaptiveCardJson } from './cards/render';
import { createDelivery, type Delivery, type DeliveryOptions } from './delivery';
import { createTeamsUserIdLookup, undecidedApprovers, type TeamsUserIdLookup } from './members';

/** Outbound credentials for replies and proactive messages (botbuilder's factory type). */
export type BotCredentialsFactory = ConstructorParameters<typeof ConfigurationBotFrameworkAuthentication>[1];

/** Overrides for tests and sovereign clouds; production passes nothing. */
export interface BotAdapterOptions {
  /** Extra Bot Framework auth settings (OpenID metadata URL, issuer, …); see botbuilder's docs. */
  auth?: Partial<ConfigurationBotFrameworkAuthenticationOptions>;
  /** Replaces the outbound credential factory (e.g. a stub token in tests). */
  credentialsFactory?: BotCredentialsFactory;
}

/** The botbuilder adapter for the configured Bot Framework registration; no HTTP server is started. */
export function createBotAdapter(bot: BotConfig, options: BotAdapterOptions = {}): CloudAdapter {
  const settings: ConfigurationBotFrameworkAuthenticationOptions = {
    MicrosoftAppId: bot.appId,
    MicrosoftAppPassword: bot.appPassword,
    // Without an app id authentication is off; botbuilder refuses SingleTenant with no id, so say MultiTenant.
    MicrosoftAppType: bot.appId ? bot.appType : 'MultiTenant',
    MicrosoftAppTenantId: bot.appTenantId,
    ...options.auth,
  };
  return new CloudAdapter(new ConfigurationBotFrameworkAuthentication(settings, options.credentialsFactory));
}

/** Options for {@link createTeamsChatPort}. */
export interface TeamsChatPortOptions {
  delivery?: DeliveryOptions;
  /** Shared with the bot so both resolve approvers the same way. */
  userIds?: TeamsUserIdLookup;
}

/** A {@link ChatPort} that posts and edits run cards in Teams, within Teams' rate limits. */
export function createTeamsChatPort(
  adapter: CloudAdapter,
  appId: string,
  options: TeamsChatPortOptions = {},
): ChatPort {
  const delivery: Delivery = createDelivery(options.delivery);
  const userIds = options.userIds ?? createTeamsUserIdLookup();
  const turn = <T>(conversation: ConversationRef, logic: (ctx: TurnContext) => Promise<T>): Promise<T> => {
    const reference = conversation as Partial<ConversationReference>;
    const key = reference.conversation?.id ?? 'unknown';
    return delivery.run(key, async () => {
      let result: T | undefined;
      await adapter.continueConversationAsync(appId, reference, async (ctx) => {
        result = await logic(ctx);
      });
      return result as T;
    });
  };
  const card = async (ctx: TurnContext, status: RunStatus): Promise<AdaptiveCardJson> => {
    const pending = status.approval.state === 'pending' && !status.result;
    const approvers = pending
      ? undecidedApprovers(
          status.approval.approvers,
          status.approval.decisions.map((d) => d.approverAadId),
        )
      : [];
    return renderRunCard(status, { canDecide: false }, approvers.length ? await userIds(ctx, approvers) : []);
  };
  return {
    postCard(conversation, status) {
      return turn(conversation, async (ctx) => {
        const sent = await ctx.sendActivity(
          MessageFactory.attachment(CardFactory.adaptiveCard(await card(ctx, status))),
        );
        if (!sent?.id) throw new Error('Teams did not return a message id for the run card.');
        return sent.id;
      });
    },
    updateCard(conversation, messageId, status) {
      return turn(conversation, async (ctx) => {
        const activity = MessageFactory.attachment(CardFactory.adaptiveCard(await card(ctx, status)));
        activity.id = messageId;
        await ctx.updateActivity(activity);
      });
    },
    sendText(conversation, text) {
      return turn(conversation, async (ctx) => {
        await ctx.sendActivity(MessageFactory.text(text));
      });
    },
  };
}
