/**
 * What every command handler gets: the bot's services, the message as it came, the member who
 * sent it (already checked) and a signer for the start it may make; and what it answers.
 */
import type { RequestOperation, RunStatus } from '../shared/approval';
import type { Refusal } from '../shared/refusals';
import type { Member } from './authorize';
import type { AdaptiveCardJson } from './cards/render';
import type { CommandDeps, IncomingCommand } from './handle-command';

/** The answer: a card, or text (markdown); a refused command also says why, by class. */
/**
 * The answer: a card, text (markdown), or a run's card — drawn for everyone in the conversation
 * and, while the run goes on, followed by the run so it keeps up with it. A refused command also
 * says why, by class.
 */
export type Reply = ({ card: AdaptiveCardJson } | { text: string } | { run: RunStatus }) & {
  refusal?: Refusal;
};

/** One command being answered. */
export interface CommandContext {
  deps: CommandDeps;
  incoming: IncomingCommand;
  requester: Member;
  /** The bot's signature over this requester asking for `operation` on `target`, from this conversation. */
  sign(operation: RequestOperation, target: string): Promise<string>;
}

/** Answers one kind of command. */
export type Handler<C> = (command: C, ctx: CommandContext) => Promise<Reply>;
