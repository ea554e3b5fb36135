/**
 * The cmk-runbook bot, whichever SDK carries it: a command is answered in its conversation, a
 * card click with the clicker's card, and an accepted decision edits the message for everyone
 * once the clicker has their answer.
 */
import type { RunStatus } from '../shared/approval';
import type { CardAnswer, CmkBot, ConversationChannel } from './chat-transport';
import { handleCardAction, type CardActionDeps } from './handle-action';
import { handleCommand, type CommandDeps, type Reply } from './handle-command';
import { cardForEveryone, createTeamsUserIdLookup, type TeamsUserIdLookup } from './members';

/** A line for the log; never carries tokens or secrets. */
export type BotLog = (
  level: 'info' | 'warn' | 'error',
  message: string,
  fields?: Record<string, unknown>,
) => void;

/** Everything the bot needs, injected. */
export interface CmkBotDeps extends CommandDeps, CardActionDeps {
  /** Shared with the worker's chat port so both resolve approvers the same way. */
  userIds?: TeamsUserIdLookup;
  log?: BotLog;
}

/** What a person reads when their command failed for a reason that is not theirs. */
export const COMMAND_FAILED_TEXT = 'Something went wrong on my side; it has been logged.';

/** Creates the bot; transports hand it authenticated commands and card actions. */
export function createCmkBot(deps: CmkBotDeps): CmkBot {
  const userIds = deps.userIds ?? createTeamsUserIdLookup();
  const log: BotLog = deps.log ?? (() => {});

  /** After a decision, every viewer sees the new state; the remaining approvers keep their refresh. */
  const updateForEveryone = async (
    channel: ConversationChannel,
    messageId: string,
    status: RunStatus,
  ): Promise<void> => {
    try {
      // The status the accepted decision returned; querying again would cost the worker another
      // workflow task per click while every approver waits for the answer.
      await channel.updateCard(messageId, await cardForEveryone(status, channel, userIds));
    } catch (error) {
      log('warn', 'could not update the card for everyone', { error: (error as Error).message });
    }
  };

  return {
    async onCommand(command, channel) {
      let reply: Reply;
      try {
        reply = await handleCommand(deps, command);
      } catch (error) {
        log('error', 'command failed', { error: (error as Error).message });
        reply = { text: COMMAND_FAILED_TEXT };
      }
      if ('card' in reply) await channel.sendCard(reply.card);
      else await channel.sendText(reply.text);
    },

    async onCardAction(action): Promise<CardAnswer> {
      const result = await handleCardAction(deps, action);
      if (result.refusal) {
        log('warn', 'card action refused', {
          verb: action.verb,
          user: action.user.aadObjectId,
          messageId: action.messageId,
          reason: result.refusal,
        });
      }
      const { broadcast } = result;
      const messageId = action.messageId;
      // The clicker's answer does not wait for everyone's copy of the card: the decision is already
      // recorded (the workflow accepted the update), and the edit is a second call into Teams.
      if (!broadcast || !messageId) return { card: result.card };
      return {
        card: result.card,
        afterAnswer: (channel) => updateForEveryone(channel, messageId, broadcast),
      };
    },
  };
}
