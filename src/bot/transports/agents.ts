/**
 * The chat transport over the Microsoft 365 Agents SDK (`CMK_BOT_SDK=agents`): the SDK's own
 * `authorizeJWT` answers requests whose token does not validate, an `AgentApplication` routes
 * messages and `Action.Execute` clicks to the bot, and proactive turns serve the worker.
 * A turn's errors are not swallowed: inbound they reach the HTTP layer (500, logged), proactive
 * ones the chat port (which retries what Teams throttled).
 */
import {
  AgentApplication,
  AuthType,
  CardFactory,
  CloudAdapter,
  MessageFactory,
  TurnContext,
  type TurnState,
  type AuthConfiguration,
  type Connections,
  type ConnectorClient,
  type Request,
  type WebResponse,
} from '@microsoft/agents-hosting';
import { ActivityTypes, type Activity, type ConversationReference } from '@microsoft/agents-activity';
import type { BotConfig } from '../../config';
import type { BotLog } from '../bot';
import { cardActionOf, commandOf, continuationOf } from '../activity';
import type {
  ChatTransport,
  CmkBot,
  ConversationChannel,
  InboundAnswer,
  InboundHandler,
} from '../chat-transport';
import { turnChannel, type MessageActivities } from './channel';

/** Overrides for tests and sovereign clouds; production passes nothing. */
export interface AgentsTransportOptions {
  /** Connection settings over those of the registration (authority endpoint, issuers, …). */
  auth?: Partial<AuthConfiguration>;
  /** Replaces the outbound token providers (e.g. a stub token in tests). */
  connections?: Connections;
}

/** The one connection the registration becomes; nothing is read from `connections__*` variables. */
const CONNECTION = 'cmk-runbook';
/** Where a turn leaves the work to run for everyone after the clicker's answer. */
const AFTER_ANSWER = Symbol('afterAnswer');

/** The registration in the Agents SDK's terms (`clientId`, `clientSecret`, `tenantId`, `authType`). */
function connectionSettingsOf(bot: BotConfig, overrides: Partial<AuthConfiguration> = {}): AuthConfiguration {
  return {
    clientId: bot.appId || undefined,
    clientSecret: bot.appPassword || undefined,
    // Multi-tenant registrations get their tokens from the botframework.com tenant, the SDK's default.
    tenantId: bot.appType === 'MultiTenant' ? undefined : bot.appTenantId || undefined,
    authType: bot.appType === 'UserAssignedMSI' ? AuthType.UserManagedIdentity : AuthType.ClientSecret,
    // The SDK does not check a token's issuer unless told to: Bot Framework's and the tenant's only.
    validateIssuer: true,
    ...overrides,
  };
}

/** Creates the Agents SDK transport for the configured registration; no HTTP server is started. */
export function createAgentsTransport(
  bot: BotConfig,
  options: AgentsTransportOptions = {},
  log: BotLog = () => {},
): ChatTransport {
  const settings = connectionSettingsOf(bot, options.auth);
  const adapter = new CloudAdapter({
    ...settings,
    connections: new Map([[CONNECTION, settings]]),
    connectionsMap: [{ serviceUrl: '*', connection: CONNECTION }],
  });
  if (options.connections) adapter.connectionManager = options.connections;
  // The SDK's default answers a failed turn with messages of its own; the failure belongs to the caller.
  adapter.onTurnError = async (_ctx, error) => {
    throw error;
  };
  const authenticates = Boolean(bot.appId);

  return {
    sdk: 'agents',
    inbound: (cmkBot) => inboundOver(adapter, applicationFor(adapter, cmkBot), authenticates, log),
    async continueConversation(conversation, logic) {
      let result: Awaited<ReturnType<typeof logic>> | undefined;
      const reference = continuationOf(conversation) as unknown as ConversationReference;
      // Without an app id (local use) the SDK wants an identity with no audience: anonymous calls.
      const identity: Parameters<CloudAdapter['continueConversation']>[0] = bot.appId || {};
      await adapter.continueConversation(identity, reference, async (ctx) => {
        result = await logic(channelOver(ctx));
      });
      return result as Awaited<ReturnType<typeof logic>>;
    },
  };
}

/** The application routing a turn: messages become commands, every `Action.Execute` verb a card action. */
function applicationFor(adapter: CloudAdapter, cmkBot: CmkBot): AgentApplication<TurnState> {
  const app = new AgentApplication<TurnState>({ adapter, removeRecipientMention: true });
  app.onActivity(ActivityTypes.Message, async (ctx) => {
    await cmkBot.onCommand(commandOf(ctx.activity, ctx.activity.text ?? ''), channelOver(ctx));
  });
  // Every verb: the bot's verb table decides what a click means, as it does under botbuilder.
  app.adaptiveCards.actionExecute(/.*/, async (ctx) => {
    const answer = await cmkBot.onCardAction(cardActionOf(ctx.activity));
    if (answer.afterAnswer) {
      // The SDK revokes the turn's context when the turn ends; the work after the answer gets a
      // context of its own over the same activity, identity and connector client.
      const detached = new TurnContext(ctx.adapter, ctx.activity, ctx.identity);
      const key = ctx.adapter.ConnectorClientKey;
      detached.turnState.set(key, ctx.turnState.get<unknown>(key));
      const work = answer.afterAnswer;
      ctx.turnState.set(AFTER_ANSWER, () => work(channelOver(detached)));
    }
    return answer.card;
  });
  return app;
}

/**
 * The inbound side: the SDK authorizes the request (a token that does not validate is answered
 * by it, and no turn runs), the service URL claim is checked, then `app` runs the turn.
 */
function inboundOver(
  adapter: CloudAdapter,
  app: AgentApplication<TurnState>,
  authenticates: boolean,
  log: BotLog,
): InboundHandler {
  return async (request) => {
    const req: Request = {
      method: request.method,
      headers: request.headers,
      body: request.body,
    };
    const res = new CapturedResponse();
    let authorized = false;
    await adapter.authorizeRequest(req, res, () => {
      authorized = true;
    });
    if (!authorized) {
      log('warn', 'rejected a request whose token did not validate', { status: res.statusCode });
      return res.answer();
    }
    if (authenticates && !serviceUrlClaimMatches(req.user, request.body)) {
      log('warn', 'rejected a token issued for another service URL');
      return { status: 401, body: 'Unauthorized' };
    }
    let afterAnswer: (() => Promise<void>) | undefined;
    await adapter.process(req, res, async (ctx) => {
      await app.run(ctx);
      afterAnswer = ctx.turnState.get<(() => Promise<void>) | undefined>(AFTER_ANSWER);
    });
    return { ...res.answer(), ...(afterAnswer ? { afterAnswer } : {}) };
  };
}

/**
 * The Bot Connector's rule: a channel token names the service URL it was issued for, and the
 * activity must come from that one. The SDK compares only host names, and answers a mismatch
 * with 400, so the rule is checked here, after the SDK validated the token itself.
 */
function serviceUrlClaimMatches(identity: Request['user'], activity: Record<string, unknown>): boolean {
  const claim = (identity as { serviceurl?: unknown } | undefined)?.serviceurl;
  return typeof claim === 'string' && claim === activity.serviceUrl;
}

/** The response `authorizeRequest` and `process` write to; its status and body become the answer. */
class CapturedResponse implements WebResponse {
  statusCode = 200;
  body: unknown;
  headersSent = false;
  writableEnded = false;

  status(code: number): this {
    this.statusCode = code;
    return this;
  }
  setHeader(): this {
    return this;
  }
  send(body?: unknown): this {
    this.body = body;
    return this;
  }
  end(): this {
    this.writableEnded = true;
    return this;
  }
  answer(): InboundAnswer {
    return this.body === undefined
      ? { status: this.statusCode }
      : { status: this.statusCode, body: this.body };
  }
}

/** The Agents SDK's message activities. */
const MESSAGES: MessageActivities<Activity> = {
  card: (card) => MessageFactory.attachment(CardFactory.adaptiveCard(card)),
  text: (text) => MessageFactory.text(text),
};

/** A conversation channel over an Agents SDK turn. */
function channelOver(ctx: TurnContext): ConversationChannel {
  return turnChannel<Activity>(ctx, MESSAGES, async (aadObjectId) => {
    const connector = ctx.turnState.get<ConnectorClient>(ctx.adapter.ConnectorClientKey);
    // The SDK puts both ids into the path as given; Teams ids carry ':' and '@', encoded as botbuilder does.
    const member = await connector.getConversationMember(
      encodeURIComponent(aadObjectId),
      encodeURIComponent(ctx.activity.conversation?.id ?? ''),
    );
    return member.id ? { id: member.id, ...(member.name ? { name: member.name } : {}) } : undefined;
  });
}
