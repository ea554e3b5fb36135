/**
 * What the bot answers to a chat command, independent of Teams: parse, resolve the account,
 * start the runbook or read runs, and return the card or text to send back.
 */
import { workflowIdFor } from '../shared/accounts';
import type { ApprovalPolicy, RequestOperation, RunStatus } from '../shared/approval';
import type { ConversationRef } from '../shared/chat';
import { formatDuration } from '../shared/duration';
import { ValidationError } from '../shared/names';
import { AccountNotResolved, resolveAccount, type AccountResolver } from './accounts';
import { renderErrorCard, renderHelpCard, renderRunsCard, type AdaptiveCardJson } from './cards/render';
import { parseCommand, usageOf, type AccountArg } from './commands';
import { authorizeCommand, refusalCard } from './authorize';
import { isRunCommand, runRequestFor } from './run-inputs';
import { AccountLocked, type ExistingSchedule, type RunService } from './run-service';
import { cancelRun } from './handle-cancel';
import type { ProofSigner } from './signing';
import { startTargetOf } from '../shared/start';
import { Refusal } from '../shared/refusals';

/** Everything command handling needs; injected so tests run it against real services. */
export interface CommandDeps {
  runs: RunService;
  resolver: AccountResolver;
  subscriptionIds: string[];
  /** Who may ask for what, and the tenant commands must come from (the worker holds the same). */
  policy: ApprovalPolicy;
  /** Signs each start, so the worker knows it came through this bot. */
  signer: ProofSigner;
  uiBaseUrl: string;
}

/**
 * A chat message as the bot saw it: text without mentions, who sent it and from which tenant (as
 * Teams said: no Entra object id means Teams did not say who it was), and where.
 */
export interface IncomingCommand {
  text: string;
  requester: { aadObjectId?: string; name: string };
  /** `channelData.tenant.id` of the activity. */
  tenantId?: string;
  conversation: ConversationRef;
  /** The message's activity id: one command, one action (a repeated delivery counts once). */
  activityId?: string;
  /** The sender's IANA time zone, when Teams says; times on their answer are in it. */
  timeZone?: string;
}

/**
 * The answer: a card, text (markdown), or a run's card — drawn for everyone in the conversation
 * and, while the run goes on, followed by the run so it keeps up with it. A refused command also
 * says why, by class.
 */
export type Reply = ({ card: AdaptiveCardJson } | { text: string } | { run: RunStatus }) & {
  refusal?: Refusal;
};

/** Handles one command; never throws for user mistakes (they become error cards). */
export async function handleCommand(deps: CommandDeps, incoming: IncomingCommand): Promise<Reply> {
  const command = parseCommand(incoming.text);
  try {
    // Who asks is checked before the command is read, so other tenants learn nothing from errors.
    const requester = authorizeCommand(
      deps.policy,
      { ...incoming.requester, tenantId: incoming.tenantId },
      command.kind === 'error' ? undefined : command,
    );
    if (command.kind === 'error') {
      return {
        card: renderErrorCard({
          title: 'I could not read that command',
          problem: command.problem,
          usage: command.usage,
        }),
      };
    }
    const sign = (operation: RequestOperation, target: string): Promise<string> =>
      deps.signer.signStart({
        operation,
        target,
        requester,
        tenantId: requester.tenantId,
        conversation: incoming.conversation,
      });
    switch (command.kind) {
      case 'help':
        return { card: renderHelpCard() };
      case 'runs':
        return { card: renderRunsCard(await deps.runs.listRuns()) };
      case 'status': {
        if (!command.account) return { card: renderRunsCard(await deps.runs.listRuns()) };
        const account = await resolve(deps, command.account);
        const status = await deps.runs.getStatus(workflowIdFor(account));
        if (!status) return { text: `No runbook has run on ${account.name} yet.` };
        return { run: status };
      }
      case 'scheduleRotation': {
        const account = await resolve(deps, command.account);
        const scheduled = await deps.runs.scheduleRotation(
          {
            account,
            startProof: await sign('scheduleRotation', startTargetOf(account)),
            conversation: incoming.conversation,
            uiBaseUrl: deps.uiBaseUrl,
            owner: { aadObjectId: requester.aadObjectId, name: requester.name },
          },
          command.everyMs,
          { replace: command.replace },
        );
        return { text: scheduledText(account.name, command.everyMs, scheduled.replaced) };
      }
      case 'cancel':
        return {
          card: await cancelRun(deps, requester, await resolve(deps, command.account), incoming.activityId),
        };
      case 'unscheduleRotation': {
        const account = await resolve(deps, command.account);
        const removed = await deps.runs.unscheduleRotation(account);
        return {
          text: removed
            ? `Automatic rotation of ${account.name} is stopped.`
            : `${account.name} had no rotation schedule; nothing changed.`,
        };
      }
      default: {
        if (!isRunCommand(command)) return { card: renderHelpCard() };
        const account = await resolve(deps, command.account);
        const request = runRequestFor(command, account, {
          requester: { aadObjectId: requester.aadObjectId, name: requester.name },
          conversation: incoming.conversation,
          uiBaseUrl: deps.uiBaseUrl,
          startProof: await sign(command.kind, startTargetOf(account)),
        });
        const started = await deps.runs.start(request);
        return {
          text: `Started **${started.summary}**. I will post the plan here. [Open in Temporal UI](${started.uiUrl})`,
        };
      }
    }
  } catch (error) {
    if (error instanceof Refusal) return { card: refusalCard(error), refusal: error };
    if (error instanceof AccountLocked) {
      return {
        card: renderErrorCard({
          title: 'The account is busy',
          problem: `${error.message} Wait for it to finish, or follow it in the Temporal UI.`,
          link: { title: 'Open the running run', url: error.uiUrl },
        }),
      };
    }
    if (error instanceof AccountNotResolved) {
      return {
        card: renderErrorCard({
          title: 'Which storage account?',
          problem: error.message,
          usage: usageOf(commandWord(incoming.text)),
          choices: error.candidates,
        }),
      };
    }
    if (error instanceof ValidationError) {
      return {
        card: renderErrorCard({ problem: error.message, usage: usageOf(commandWord(incoming.text)) }),
      };
    }
    throw error;
  }
}

/** What the person reads after `schedule-rotation`: the cadence, and what it replaced. */
function scheduledText(account: string, everyMs: number, replaced?: ExistingSchedule): string {
  const every = `every ${formatDuration(everyMs)}`;
  if (!replaced) return `${account} will be rotated ${every}; each rotation reports here.`;
  const was = [
    replaced.everyInMs ? `every ${formatDuration(replaced.everyInMs)}` : '',
    replaced.owner ? `set up by ${replaced.owner}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  return `${account} will be rotated ${every}, replacing its schedule${was ? ` (${was})` : ''}; each rotation reports here.`;
}

function resolve(deps: CommandDeps, arg: AccountArg) {
  return resolveAccount(arg, deps.resolver, deps.subscriptionIds);
}

function commandWord(text: string): string {
  return text.trim().split(/\s+/)[0]?.toLowerCase() ?? 'help';
}
