/**
 * What the bot answers to a chat command, independent of Teams: parse, check who asks, hand the
 * command to its handler (a table by command kind), and turn the refusals people can act on
 * into cards that say what to do. Nothing is started or changed when a refusal is shown.
 */
import { workflowIdFor } from '../shared/accounts';
import type { ApprovalPolicy } from '../shared/approval';
import type { ConversationRef } from '../shared/chat';
import { formatDuration } from '../shared/duration';
import { ValidationError } from '../shared/names';
import { Refusal } from '../shared/refusals';
import { startTargetOf } from '../shared/start';
import { AccountNotResolved, type AccountResolver } from './accounts';
import { authorizeCommand, refusalCard } from './authorize';
import { renderErrorCard, renderHelpCard, renderRunsCard } from './cards/render';
import { renderPendingCard } from './cards/pending';
import type { Command } from './commands';
import { parseCommand, usageFor } from './commands';
import { SelectionEmpty, startFleet } from './handle-fleet';
import { startKeyPolicy } from './handle-key-policy';
import { previewPlan, resolve, startRun } from './handle-run';
import type { CommandContext, Handler, Reply } from './command-context';
import type { ExistingSchedule } from './rotation-schedules';
import { AccountLocked, type RunService } from './run-service';
import { cancelRun } from './handle-cancel';
import type { ProofSigner } from './signing';

export type { Reply } from './command-context';

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

/** Each command kind and the function that answers it. */
const HANDLERS: { [K in Command['kind']]: Handler<Extract<Command, { kind: K }>> } = {
  help: () => Promise.resolve({ card: renderHelpCard() }),
  runs: async (_c, ctx) => ({ card: renderRunsCard(await ctx.deps.runs.listRuns()) }),
  status: async (command, ctx) => {
    if (!command.account) return { card: renderRunsCard(await ctx.deps.runs.listRuns()) };
    const account = await resolve(ctx, command.account);
    const status = await ctx.deps.runs.getStatus(workflowIdFor(account));
    if (!status) return { text: `No runbook has run on ${account.name} yet.` };
    return { run: status };
  },
  pending: async (_c, ctx) => ({
    card: renderPendingCard(await ctx.deps.runs.listPending(ctx.requester.aadObjectId)),
  }),
  configure: startRun,
  rotate: startRun,
  changeKey: startRun,
  updateVersion: startRun,
  revoke: startRun,
  restoreAccess: startRun,
  disable: startRun,
  plan: previewPlan,
  setRotationPolicy: startKeyPolicy,
  rotateFleet: startFleet,
  scheduleRotation: async (command, ctx) => {
    const account = await resolve(ctx, command.account);
    const scheduled = await ctx.deps.runs.scheduleRotation(
      {
        account,
        startProof: await ctx.sign('scheduleRotation', startTargetOf(account)),
        conversation: ctx.incoming.conversation,
        uiBaseUrl: ctx.deps.uiBaseUrl,
        owner: { aadObjectId: ctx.requester.aadObjectId, name: ctx.requester.name },
      },
      command.everyMs,
      { replace: command.replace },
    );
    return { text: scheduledText(account.name, command.everyMs, scheduled.replaced) };
  },
  cancel: async (command, ctx) => ({
    card: await cancelRun(
      ctx.deps,
      ctx.requester,
      await resolve(ctx, command.account),
      ctx.incoming.activityId,
    ),
  }),
  unscheduleRotation: async (command, ctx) => {
    const account = await resolve(ctx, command.account);
    const removed = await ctx.deps.runs.unscheduleRotation(account);
    return {
      text: removed
        ? `Automatic rotation of ${account.name} is stopped.`
        : `${account.name} had no rotation schedule; nothing changed.`,
    };
  },
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
    const ctx: CommandContext = {
      deps,
      incoming,
      requester,
      sign: (operation, target) =>
        deps.signer.signStart({
          operation,
          target,
          requester,
          tenantId: requester.tenantId,
          conversation: incoming.conversation,
        }),
    };
    const handler = HANDLERS[command.kind] as Handler<Command>;
    return await handler(command, ctx);
  } catch (error) {
    return refusalReply(error, command.kind === 'error' ? command.usage : usageFor(command));
  }
}

/** The card for a refusal a person can act on; anything else (an outage) is rethrown. */
function refusalReply(error: unknown, usage: string): Reply {
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
        usage,
        choices: error.candidates,
      }),
    };
  }
  if (error instanceof SelectionEmpty) {
    return { card: renderErrorCard({ title: 'Nothing to rotate', problem: error.message, usage }) };
  }
  if (error instanceof ValidationError) return { card: renderErrorCard({ problem: error.message, usage }) };
  throw error;
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
