/**
 * Teams user ids (the `29:…` ids `refresh.userIds` needs) for approvers known by their
 * Entra object ids, looked up through the conversation's member list and cached, and the run
 * card everyone sees, refreshing for the approvers who may still decide.
 */
import type { RunStatus } from '../shared/approval';
import { renderRunCard, type AdaptiveCardJson } from './cards/render';
import type { ConversationChannel } from './chat-transport';

/** Maps Entra object ids to Teams user ids; lookups that fail are left out. */
export type TeamsUserIdLookup = (channel: ConversationChannel, aadObjectIds: string[]) => Promise<string[]>;

/** A lookup with a process-wide cache (member ids do not change). */
export function createTeamsUserIdLookup(): TeamsUserIdLookup {
  // Lookups, not ids: cards edited at the same moment (many approvers clicking) share one call
  // per approver instead of each asking Teams for the same members.
  const cache = new Map<string, Promise<string | undefined>>();
  return async (channel, aadObjectIds) => {
    const ids: string[] = [];
    for (const aad of aadObjectIds.slice(0, 60)) {
      const key = aad.toLowerCase();
      let lookup = cache.get(key);
      if (!lookup) {
        lookup = channel.getMemberId(aad).then(
          (id) => id || undefined,
          () => undefined,
        );
        cache.set(key, lookup);
      }
      const id = await lookup;
      if (id) ids.push(id);
      // A failed lookup is not remembered: the next card asks again.
      else if (cache.get(key) === lookup) cache.delete(key);
    }
    return ids;
  };
}

/** Approvers who may still decide: listed, and not yet recorded as having decided. */
export function undecidedApprovers(approvers: string[], decided: string[]): string[] {
  const done = new Set(decided.map((id) => id.toLowerCase()));
  return approvers.filter((id) => !done.has(id.toLowerCase()));
}

/** The run card for everyone: no buttons; while approval is pending, undecided approvers' clients refresh to theirs. */
export async function cardForEveryone(
  status: RunStatus,
  channel: ConversationChannel,
  userIds: TeamsUserIdLookup,
): Promise<AdaptiveCardJson> {
  const pending = status.approval.state === 'pending' && !status.result;
  const waiting = pending
    ? undecidedApprovers(
        status.approval.approvers,
        status.approval.decisions.map((d) => d.approverAadId),
      )
    : [];
  return renderRunCard(status, { canDecide: false }, waiting.length ? await userIds(channel, waiting) : []);
}
