/**
 * Teams user ids (the `29:…` ids `refresh.userIds` needs) for approvers known by their
 * Entra object ids, looked up through the conversation's member list and cached.
 */
import { TeamsInfo, type TurnContext } from 'botbuilder';

/** Maps Entra object ids to Teams user ids; lookups that fail are left out. */
export type TeamsUserIdLookup = (ctx: TurnContext, aadObjectIds: string[]) => Promise<string[]>;

/** A lookup with a process-wide cache (member ids do not change). */
export function createTeamsUserIdLookup(): TeamsUserIdLookup {
  // Lookups, not ids: cards edited at the same moment (many approvers clicking) share one call
  // per approver instead of each asking Teams for the same members.
  const cache = new Map<string, Promise<string | undefined>>();
  return async (ctx, aadObjectIds) => {
    const ids: string[] = [];
    for (const aad of aadObjectIds.slice(0, 60)) {
      const key = aad.toLowerCase();
      let lookup = cache.get(key);
      if (!lookup) {
        lookup = TeamsInfo.getMember(ctx, aad).then(
          (member) => member.id || undefined,
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
