/**
 * Commands that act on one storage account: start its runbook (the account's workflow id is the
 * lock), or preview its plan (`plan …`: a read-only run under another id, no lock, nothing posted).
 */
import type { AccountRef } from '../shared/accounts';
import { planTargetOf, requestOf } from '../shared/preview';
import { startTargetOf } from '../shared/start';
import { AccountNotResolved, resolveAccount } from './accounts';
import { renderPlanPreviewCard } from './cards/preview';
import type { AccountArg, Command, RunCommand } from './commands';
import type { CommandContext, Handler } from './command-context';
import { RUN_OPERATIONS, runRequestFor } from './run-inputs';

/** The one account an argument names in the configured subscriptions (else {@link AccountNotResolved}). */
export function resolve(ctx: CommandContext, arg: AccountArg): Promise<AccountRef> {
  return resolveAccount(arg, ctx.deps.resolver, ctx.deps.subscriptionIds);
}

/** The run request of a command on its resolved account, signed for `target`. */
async function requestFor(ctx: CommandContext, command: RunCommand, target: (a: AccountRef) => string) {
  checkVaultSubscription(ctx, command);
  const account = await resolve(ctx, command.account);
  const operation = RUN_OPERATIONS[command.kind];
  return runRequestFor(command, account, {
    requester: { aadObjectId: ctx.requester.aadObjectId, name: ctx.requester.name },
    conversation: ctx.incoming.conversation,
    uiBaseUrl: ctx.deps.uiBaseUrl,
    startProof: await ctx.sign(operation, target(account)),
  });
}

/** Starts the command's runbook; the plan card follows from the worker. */
export const startRun: Handler<RunCommand> = async (command, ctx) => {
  const request = await requestFor(ctx, command, startTargetOf);
  const started = await ctx.deps.runs.start(request);
  return {
    text: `Started **${started.summary}**. I will post the plan here. [Open in Temporal UI](${started.uiUrl})`,
  };
};

/** Shows what the command would do, with what its approval would need; starts and locks nothing. */
export const previewPlan: Handler<Extract<Command, { kind: 'plan' }>> = async ({ command }, ctx) => {
  const { operation, input } = await requestFor(ctx, command, planTargetOf);
  const preview = await ctx.deps.runs.previewPlan({
    ...input,
    operation,
    request: requestOf(operation, input as never),
  });
  // What to type to run it: the message without its leading "plan".
  const typed = ctx.incoming.text.replace(/^\s*(?:<at>[^<]*<\/at>\s*)?plan\s+/i, '').trim();
  return {
    card: renderPlanPreviewCard(preview, {
      operation,
      account: input.account,
      requester: ctx.requester,
      typed,
    }),
  };
};

/** A vault named in another subscription must be one this bot may change. */
function checkVaultSubscription(ctx: CommandContext, command: RunCommand): void {
  if (command.kind !== 'configure' && command.kind !== 'changeKey') return;
  const subscription = command.key.vaultSubscription;
  if (subscription && !ctx.deps.subscriptionIds.includes(subscription.toLowerCase())) {
    throw new AccountNotResolved(
      `--vault-subscription ${subscription} is not one this bot may change (configured: ${ctx.deps.subscriptionIds.join(', ')}).`,
    );
  }
}
