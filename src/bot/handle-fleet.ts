/**
 * `rotate-fleet`: the accounts a selector names (tag, resource group, subscription, all of which
 * must match) in the configured subscriptions, rotated by one `fleetRotate` run that posts one
 * plan card, waits for one approval and keeps a progress card up to date.
 */
import type { FleetRotateInput } from '../shared/runbooks';
import { fleetWorkflowId } from '../shared/start';
import { AccountNotResolved } from './accounts';
import type { FleetSelector } from './commands';
import type { Command } from './commands';
import type { Handler } from './command-context';

/** The most accounts one fleet run takes from chat (its input must stay well under Temporal's 2 MB). */
const MAX_FLEET_ACCOUNTS = 5_000;

/** A selector that names no account, or too many; nothing was started. */
export class SelectionEmpty extends Error {
  override readonly name = 'SelectionEmpty';
}

/** The selector in words: "with tag env=prod in resource group rg-x". */
function describeSelector(selector: FleetSelector): string {
  const parts: string[] = [];
  if (selector.tag)
    parts.push(
      `with tag ${selector.tag.name}${selector.tag.value === undefined ? '' : `=${selector.tag.value}`}`,
    );
  if (selector.resourceGroup) parts.push(`in resource group ${selector.resourceGroup}`);
  if (selector.subscriptionId) parts.push(`in subscription ${selector.subscriptionId}`);
  return parts.join(' ');
}

/** Starts the fleet run for the selected accounts. */
export const startFleet: Handler<Extract<Command, { kind: 'rotateFleet' }>> = async ({ selector }, ctx) => {
  const configured = ctx.deps.subscriptionIds;
  if (selector.subscriptionId && !configured.includes(selector.subscriptionId.toLowerCase())) {
    throw new AccountNotResolved(
      `Subscription ${selector.subscriptionId} is not one this bot may change (configured: ${configured.join(', ')}).`,
    );
  }
  const accounts = await ctx.deps.resolver.select(selector);
  const selection = describeSelector(selector);
  if (accounts.length === 0) {
    throw new SelectionEmpty(
      `No storage account ${selection} in the configured subscriptions (${configured.join(', ')}); nothing was started.`,
    );
  }
  if (accounts.length > MAX_FLEET_ACCOUNTS) {
    throw new SelectionEmpty(
      `${accounts.length} storage accounts are ${selection}; one fleet rotation takes at most ${MAX_FLEET_ACCOUNTS}. Narrow the selection (add --tag or --resource-group).`,
    );
  }
  const now = new Date();
  const workflowId = fleetWorkflowId(now);
  const requester = { aadObjectId: ctx.requester.aadObjectId, name: ctx.requester.name };
  const input: FleetRotateInput = {
    accounts,
    selection,
    requester,
    conversation: ctx.incoming.conversation,
    uiBaseUrl: ctx.deps.uiBaseUrl,
    startProof: await ctx.sign('fleetRotate', workflowId),
  };
  const started = await ctx.deps.runs.start({ operation: 'fleetRotate', input }, { now, workflowId });
  return {
    text: `Started **${started.summary}** (${selection}). I will post the plan with every account here. [Open in Temporal UI](${started.uiUrl})`,
  };
};
