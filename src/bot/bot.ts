/**
 * The cmk-runbook bot, whichever SDK carries it: a command is answered in its conversation (a
 * run's card there is then followed by the run), a card click with the clicker's card, and a
 * recorded decision on a card the run does not edit itself is shown to everyone after the answer.
 */
import { randomUUID } from 'node:crypto';
import type { RunStatus } from '../shared/approval';
import { Refusal } from '../shared/refusals';
import { countRefusal, type CmkMetrics } from '../telemetry/metrics';
import { memberOf } from './authorize';
import type { CardAnswer, CmkBot, ConversationChannel } from './chat-transport';
import { COMMAND_FORMS } from './commands';
import {
  handleCardAction,
  parseCardActionData,
  type CardAction,
  type CardActionDeps,
  type CardActionResult,
} from './handle-action';
import { handleCommand, type CommandDeps, type IncomingCommand, type Reply } from './handle-command';
import { cardForEveryone, createMemberLookup, type MemberLookup } from './members';

/** A line for the log; never carries tokens or secrets. */
export type BotLog = (
  level: 'info' | 'warn' | 'error',
  message: string,
  fields?: Record<string, unknown>,
) => void;

/** Everything the bot needs, injected. */
export interface CmkBotDeps extends CommandDeps, CardActionDeps {
  /** Shared with the worker's chat port so both resolve approvers the same way. */
  members?: MemberLookup;
  log?: BotLog;
  /** Commands, clicks, decision latency and refusals are counted here when given. */
  metrics?: Pick<CmkMetrics, 'commands' | 'cardActions' | 'decisionSeconds' | 'refusals'>;
}

const NANOSECONDS_PER_SECOND = 1e9;

const KNOWN_COMMANDS: ReadonlySet<string> = new Set(COMMAND_FORMS.map((form) => form.word));

/** The command word of a message as a metric label (a bounded set: unknown words become "other"). */
function commandLabel(text: string): string {
  const word = text.trim().split(/\s+/)[0]?.toLowerCase() ?? '';
  return KNOWN_COMMANDS.has(word) ? word : 'other';
}

/**
 * A command whose sender has a display name: some clients send none, and a run must not show its
 * requester as an object id, so the conversation's member list is asked (the name is then signed
 * with the start like the rest). Without an answer, the command goes on unnamed.
 */
async function named(
  command: IncomingCommand,
  channel: ConversationChannel,
  members: MemberLookup,
): Promise<IncomingCommand> {
  const { aadObjectId, name } = command.requester;
  if (name || !aadObjectId) return command;
  const found = (await members(channel, [aadObjectId])).get(aadObjectId.toLowerCase())?.name;
  return found ? { ...command, requester: { aadObjectId, name: found } } : command;
}

/** What a person reads when their command failed for a reason that is not theirs. */
const COMMAND_FAILED_TEXT = 'Something went wrong on my side; it has been logged.';

/** What the bot's handlers share: the injected deps, the member lookup and the log. */
interface BotContext {
  deps: CmkBotDeps;
  members: MemberLookup;
  log: BotLog;
}

/** Creates the bot; transports hand it authenticated commands and card actions. */
export function createCmkBot(deps: CmkBotDeps): CmkBot {
  const context: BotContext = {
    deps,
    members: deps.members ?? createMemberLookup(),
    log: deps.log ?? (() => {}),
  };
  return {
    onCommand: (incoming, channel) => answerCommand(context, incoming, channel),
    onCardAction: (action) => answerCardAction(context, action),
  };
}

/** Answers a command in its conversation; a run's card posted there is then followed by the run. */
async function answerCommand(
  context: BotContext,
  incoming: IncomingCommand,
  channel: ConversationChannel,
): Promise<void> {
  const { deps, members, log } = context;
  deps.metrics?.commands.inc({ command: commandLabel(incoming.text) });
  let reply: Reply;
  const command = await named(incoming, channel, members);
  try {
    reply = await handleCommand(deps, command);
  } catch (error) {
    log('error', 'command failed', { error: (error as Error).message });
    reply = { text: COMMAND_FAILED_TEXT };
  }
  if (reply.refusal) {
    countRefusal(deps.metrics, reply.refusal, 'command');
    log('warn', 'command refused', {
      command: commandLabel(command.text),
      user: command.requester.aadObjectId,
      reasonCode: reply.refusal.name,
      reason: reply.refusal.message,
    });
  }
  if ('run' in reply) {
    const messageId = await channel.sendCard(await cardForEveryone(reply.run, channel, members));
    if (messageId && !reply.run.result) await follow(context, command, reply.run, messageId);
  } else if ('card' in reply) await channel.sendCard(reply.card);
  else await channel.sendText(reply.text);
}

/**
 * Answers a click with the clicker's card. The run edits its own cards at every change, so an
 * edit from here could only land after the run's and show an older state; only a recorded
 * decision on a card the run does not know is edited here, for everyone, after the answer.
 */
async function answerCardAction(context: BotContext, action: CardAction): Promise<CardAnswer> {
  const started = process.hrtime.bigint();
  const result = await handleCardAction(context.deps, action);
  const verb = ['approve', 'reject', 'refresh'].includes(action.verb) ? action.verb : 'other';
  if (verb === 'approve' || verb === 'reject')
    context.deps.metrics?.decisionSeconds.observe(
      { verdict: verb },
      Number(process.hrtime.bigint() - started) / NANOSECONDS_PER_SECOND,
    );
  recordCardAction(context, action, verb, result);
  const { broadcast } = result;
  const messageId = action.messageId;
  if (!broadcast || !messageId || broadcast.cards?.includes(messageId)) return { card: result.card };
  return { card: result.card, afterAnswer: updateForEveryone(context, messageId, broadcast) };
}

/** Counts a handled click by verb and outcome, and logs it: failures as errors, refusals as warnings. */
function recordCardAction(
  { deps, log }: BotContext,
  action: CardAction,
  verb: string,
  result: CardActionResult,
): void {
  const outcome = result.failure
    ? 'failed'
    : result.refusal
      ? 'refused'
      : result.broadcast
        ? 'recorded'
        : 'shown';
  deps.metrics?.cardActions.inc({ verb, outcome });
  const fields = {
    invokeId: action.invokeId,
    verb: action.verb,
    workflowId: parseCardActionData(action.data)?.workflowId,
    user: action.user.aadObjectId,
    messageId: action.messageId,
  };
  if (result.failure) {
    log('error', 'card action could not be handled', { ...fields, error: result.failure.message });
  } else if (result.refusal) {
    countRefusal(deps.metrics, result.refusal, 'click');
    log('warn', 'card action refused', {
      ...fields,
      reasonCode: result.refusal.name,
      reason: result.refusal.message,
    });
  } else {
    log('info', `card action ${outcome}`, fields);
  }
}

/**
 * The work after a recorded decision's answer: every viewer of the card sees the new state; the
 * remaining approvers keep their refresh. A failure is logged.
 */
function updateForEveryone(
  { members, log }: BotContext,
  messageId: string,
  status: RunStatus,
): (channel: ConversationChannel) => Promise<void> {
  return async (channel) => {
    try {
      // The status the accepted decision returned; querying again would cost the worker another
      // workflow task per click while every approver waits for the answer.
      await channel.updateCard(messageId, await cardForEveryone(status, channel, members));
    } catch (error) {
      log('warn', 'could not update the card for everyone', { error: (error as Error).message });
    }
  };
}

/**
 * Asks the run to keep the card just posted up to date (signed, like every action on a run).
 * A run that ends in between simply has nothing more to show; anything else is logged.
 */
async function follow(
  { deps, log }: BotContext,
  command: IncomingCommand,
  status: RunStatus,
  messageId: string,
): Promise<void> {
  try {
    const member = memberOf(deps.policy, { ...command.requester, tenantId: command.tenantId });
    const card = { conversation: command.conversation, messageId };
    const activityId = `${command.activityId ?? randomUUID()}/follow`;
    const person = { aadObjectId: member.aadObjectId, name: member.name };
    const proof = await deps.signer.signRunAction({
      action: 'follow',
      workflowId: status.workflowId,
      runId: status.runId,
      person,
      tenantId: member.tenantId,
      activityId,
      card,
    });
    await deps.runs.follow(
      { workflowId: status.workflowId, runId: status.runId },
      { ...person, tenantId: member.tenantId, ...card, proof },
      activityId,
    );
  } catch (error) {
    if (error instanceof Refusal) log('info', 'the run did not follow the card', { reason: error.message });
    else log('warn', 'could not ask the run to follow the card', { error: (error as Error).message });
  }
}
