/**
 * The chat transport over botbuilder (the Bot Framework SDK, the default): authenticates each
 * request with the registration's Bot Framework authentication before any turn starts, hands
 * messages and `Action.Execute` clicks to the bot, and opens proactive turns for the worker.
 * A turn's errors are not swallowed: inbound they reach the HTTP layer (500, logged), proactive
 * ones the chat port (which retries what Teams throttled).
 */
import {
  CardFactory,
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  MessageFactory,
  TeamsActivityHandler,
  TeamsInfo,
  TurnContext,
  type Activity,
  type AdaptiveCardInvokeResponse,
  type AdaptiveCardInvokeValue,
  type ConfigurationBotFrameworkAuthenticationOptions,
  type ConversationReference,
} from 'botbuilder';
import type { BotConfig } from '../../config';
import type { BotLog } from '../bot';
import { cardActionOf, commandOf, continuationOf } from '../activity';
import type { ChatTransport, CmkBot, ConversationChannel, InboundAnswer } from '../chat-transport';
import { turnChannel, type MessageActivities } from './channel';

/** Outbound credentials for replies and proactive messages (botbuilder's factory type). */
export type BotCredentialsFactory = ConstructorParameters<typeof ConfigurationBotFrameworkAuthentication>[1];

/** Overrides for tests and sovereign clouds; production passes nothing. */
export interface BotbuilderTransportOptions {
  /** Extra Bot Framework auth settings (OpenID metadata URL, issuer, …); see botbuilder's docs. */
  auth?: Partial<ConfigurationBotFrameworkAuthenticationOptions>;
  /** Replaces the outbound credential factory (e.g. a stub token in tests). */
  credentialsFactory?: BotCredentialsFactory;
}

const CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';
/** Where a turn leaves the work to run for everyone after the clicker's answer. */
const AFTER_ANSWER = Symbol('afterAnswer');

/**
 * The answer to a request botbuilder refused to authenticate: its own `AuthenticationError`
 * says 401 (or 400), except for tokens jsonwebtoken itself refuses (forged signature, wrong
 * algorithm), which botbuilder rethrows as they are. Anything else (the key service failing) is
 * not the caller's fault and stays an error.
 */
const TOKEN_REFUSALS: ((error: { name?: string; statusCode?: unknown }) => number | undefined)[] = [
  (error) => (error.statusCode === 401 || error.statusCode === 400 ? error.statusCode : undefined),
  (error) =>
    ['JsonWebTokenError', 'TokenExpiredError', 'NotBeforeError'].includes(error.name ?? '') ? 401 : undefined,
];

/** What botbuilder's authentication step hands the turn: the caller's identity and its connector factory. */
type AuthenticateRequestResult = Awaited<
  ReturnType<ConfigurationBotFrameworkAuthentication['authenticateRequest']>
>;

/** botbuilder's adapter, with the two steps of `process` apart: authenticate, then run the turn. */
class CmkCloudAdapter extends CloudAdapter {
  constructor(readonly authentication: ConfigurationBotFrameworkAuthentication) {
    super(authentication);
  }
  runAuthenticated(
    authenticated: AuthenticateRequestResult,
    activity: Activity,
    logic: (ctx: TurnContext) => Promise<void>,
  ) {
    return this.processActivity(authenticated, activity, logic);
  }
}

/** Creates the botbuilder transport for the configured registration; no HTTP server is started. */
export function createBotbuilderTransport(
  bot: BotConfig,
  options: BotbuilderTransportOptions = {},
  log: BotLog = () => {},
): ChatTransport {
  const settings: ConfigurationBotFrameworkAuthenticationOptions = {
    MicrosoftAppId: bot.appId,
    MicrosoftAppPassword: bot.appPassword,
    // Without an app id authentication is off; botbuilder refuses SingleTenant with no id, so say MultiTenant.
    MicrosoftAppType: bot.appId ? bot.appType : 'MultiTenant',
    MicrosoftAppTenantId: bot.appTenantId,
    ...options.auth,
  };
  const adapter = new CmkCloudAdapter(
    new ConfigurationBotFrameworkAuthentication(settings, options.credentialsFactory),
  );

  return {
    sdk: 'botbuilder',
    inbound(cmkBot) {
      const handler = new CmkActivityHandler(cmkBot);
      return async (request): Promise<InboundAnswer> => {
        const activity = request.body as unknown as Activity;
        if (typeof activity.type !== 'string' || !activity.type)
          return { status: 400, body: 'The activity has no type.' };
        const header = request.headers.authorization ?? '';
        let authenticated: AuthenticateRequestResult;
        try {
          authenticated = await adapter.authentication.authenticateRequest(activity, header);
        } catch (error) {
          const status = TOKEN_REFUSALS.map((rule) => rule(error as Error)).find((s) => s !== undefined);
          if (status === undefined) throw error;
          log('warn', 'rejected a request whose token did not validate', {
            reason: (error as Error).message,
          });
          return { status, body: status === 401 ? 'Unauthorized' : 'Bad Request' };
        }
        let afterAnswer: (() => Promise<void>) | undefined;
        const response = await adapter.runAuthenticated(authenticated, activity, async (ctx) => {
          await handler.run(ctx);
          afterAnswer = ctx.turnState.get<(() => Promise<void>) | undefined>(AFTER_ANSWER);
        });
        return {
          status: response?.status ?? 200,
          body: response?.body,
          ...(afterAnswer ? { afterAnswer } : {}),
        };
      };
    },
    async continueConversation(conversation, logic) {
      let result: Awaited<ReturnType<typeof logic>> | undefined;
      const reference = continuationOf(conversation) as unknown as Partial<ConversationReference>;
      await adapter.continueConversationAsync(bot.appId, reference, async (ctx) => {
        result = await logic(channelOver(ctx));
      });
      return result as Awaited<ReturnType<typeof logic>>;
    },
  };
}

/** The Teams activity handler, kept thin: messages become commands, clicks become card actions. */
class CmkActivityHandler extends TeamsActivityHandler {
  constructor(private readonly bot: CmkBot) {
    super();
    this.onMessage(async (ctx, next) => {
      const text = TurnContext.removeRecipientMention(ctx.activity) ?? ctx.activity.text ?? '';
      await this.bot.onCommand(commandOf(ctx.activity, text), channelOver(ctx));
      await next();
    });
  }

  protected override async onAdaptiveCardInvoke(
    ctx: TurnContext,
    _value: AdaptiveCardInvokeValue,
  ): Promise<AdaptiveCardInvokeResponse> {
    const answer = await this.bot.onCardAction(cardActionOf(ctx.activity));
    if (answer.afterAnswer) {
      // botbuilder revokes the turn's context when the turn ends; the work after the answer gets a
      // context of its own over the same activity and the connector client the turn set up for
      // this conversation's service URL and credentials.
      const detached = new TurnContext(ctx.adapter, ctx.activity);
      const key = ctx.adapter.ConnectorClientKey;
      detached.turnState.set(key, ctx.turnState.get<unknown>(key));
      const work = answer.afterAnswer;
      ctx.turnState.set(AFTER_ANSWER, () => work(channelOver(detached)));
    }
    return { statusCode: 200, type: CARD_CONTENT_TYPE, value: answer.card };
  }
}

/** botbuilder's message activities. */
const MESSAGES: MessageActivities<Partial<Activity>> = {
  card: (card) => MessageFactory.attachment(CardFactory.adaptiveCard(card)),
  text: (text) => MessageFactory.text(text),
};

/** A conversation channel over a botbuilder turn. */
function channelOver(ctx: TurnContext): ConversationChannel {
  return turnChannel<Partial<Activity>>(ctx, MESSAGES, async (aadObjectId) => {
    const member = await TeamsInfo.getMember(ctx, aadObjectId);
    return member.id ? { id: member.id, ...(member.name ? { name: member.name } : {}) } : undefined;
  });
}
