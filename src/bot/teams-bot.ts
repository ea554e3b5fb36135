/**
 * The Teams activity handler, kept thin: a message becomes a command, an `Action.Execute`
 * click becomes a card action; both are handled outside botbuilder and answered here.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import {
  CardFactory,
  MessageFactory,
  TeamsActivityHandler,
  TurnContext,
  type AdaptiveCardInvokeResponse,
  type AdaptiveCardInvokeValue,
} from 'botbuilder';
import type { RunStatus } from '../shared/approval';
import { renderRunCard } from './cards/render';
import { handleCardAction, type CardActionDeps } from './handle-action';
import { handleCommand, type CommandDeps } from './handle-command';
import { createTeamsUserIdLookup, undecidedApprovers, type TeamsUserIdLookup } from './members';

/** A line for the log; never carries tokens or secrets. */
export type BotLog = (
  level: 'info' | 'warn' | 'error',
  message: string,
  fields?: Record<string, unknown>,
) => void;

/** Everything the bot needs, injected. */
export interface CmkBotDeps extends CommandDeps, CardActionDeps {
  userIds?: TeamsUserIdLookup;
  log?: BotLog;
}

const CARD_CONTENT_TYPE = 'application/vnd.microsoft.card.adaptive';

/** The cmk-runbook Teams bot. */
export class CmkTeamsBot extends TeamsActivityHandler {
  private readonly userIds: TeamsUserIdLookup;
  private readonly log: BotLog;
  /** Card edits for everyone started after a click was answered, until they finish. */
  private readonly edits = new Set<Promise<void>>();

  constructor(private readonly deps: CmkBotDeps) {
    super();
    this.userIds = deps.userIds ?? createTeamsUserIdLookup();
    this.log = deps.log ?? (() => {});
    this.onMessage(async (ctx, next) => {
      await this.answerCommand(ctx);
      await next();
    });
  }

  private async answerCommand(ctx: TurnContext): Promise<void> {
    const activity = ctx.activity;
    const text = TurnContext.removeRecipientMention(activity) ?? activity.text ?? '';
    const reply = await handleCommand(this.deps, {
      text,
      requester: {
        aadObjectId: activity.from.aadObjectId ?? activity.from.id,
        name: activity.from.name ?? '',
      },
      conversation: { ...TurnContext.getConversationReference(activity) },
    });
    await ctx.sendActivity(
      'card' in reply
        ? MessageFactory.attachment(CardFactory.adaptiveCard(reply.card))
        : MessageFactory.text(reply.text),
    );
  }

  protected override async onAdaptiveCardInvoke(
    ctx: TurnContext,
    value: AdaptiveCardInvokeValue,
  ): Promise<AdaptiveCardInvokeResponse> {
    const activity = ctx.activity;
    const tenantId = (activity.channelData as { tenant?: { id?: string } } | undefined)?.tenant?.id;
    const result = await handleCardAction(this.deps, {
      verb: value.action.verb,
      data: value.action.data,
      user: { aadObjectId: activity.from.aadObjectId, name: activity.from.name },
      tenantId: tenantId ?? activity.conversation.tenantId,
      invokeId: activity.id ?? '',
    });
    if (result.refusal) {
      this.log('warn', 'card action refused', {
        verb: value.action.verb,
        user: activity.from.aadObjectId,
        messageId: activity.replyToId,
        reason: result.refusal,
      });
    }
    // The clicker's answer does not wait for everyone's copy of the card: the decision is already
    // recorded (the workflow accepted the update), and the edit is a second call into Teams.
    if (result.broadcast && activity.replyToId)
      this.updateForEveryoneAfterAnswer(ctx, activity.replyToId, result.broadcast);
    return { statusCode: 200, type: CARD_CONTENT_TYPE, value: result.card };
  }

  /** Resolves once every card edit started so far has finished; edits never reject (failures are logged). */
  async settled(): Promise<void> {
    while (this.edits.size) await Promise.all([...this.edits]);
  }

  /**
   * Edits the message for everyone after the invoke is answered. botbuilder writes the invoke
   * response only when the turn ends, and revokes the turn's context then; so the edit gets a
   * context of its own over the same activity and the same connector client (the one the turn
   * set up for this conversation's service URL and credentials).
   */
  private updateForEveryoneAfterAnswer(ctx: TurnContext, messageId: string, status: RunStatus): void {
    const detached = new TurnContext(ctx.adapter, ctx.activity);
    const connectorKey = ctx.adapter.ConnectorClientKey;
    detached.turnState.set(connectorKey, ctx.turnState.get<unknown>(connectorKey));
    // Started on the next turn of the event loop, once this turn's answer has been written.
    const edit: Promise<void> = nextTurn()
      .then(() => this.updateForEveryone(detached, messageId, status))
      .finally(() => this.edits.delete(edit));
    this.edits.add(edit);
  }

  /** After a decision, every viewer sees the new state; the remaining approvers keep their refresh. */
  private async updateForEveryone(ctx: TurnContext, messageId: string, status: RunStatus): Promise<void> {
    try {
      // The status the accepted decision returned; querying again would cost the worker another
      // workflow task per click while every approver waits for the answer.
      const latest = status;
      const pending = latest.approval.state === 'pending' && !latest.result;
      const waiting = pending
        ? undecidedApprovers(
            latest.approval.approvers,
            latest.approval.decisions.map((d) => d.approverAadId),
          )
        : [];
      const card = renderRunCard(
        latest,
        { canDecide: false },
        waiting.length ? await this.userIds(ctx, waiting) : [],
      );
      const update = MessageFactory.attachment(CardFactory.adaptiveCard(card));
      update.id = messageId;
      await ctx.updateActivity(update);
    } catch (error) {
      this.log('warn', 'could not update the card for everyone', { error: (error as Error).message });
    }
  }
}
