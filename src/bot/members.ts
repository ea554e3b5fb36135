/**
 * Teams user ids (the `29:…` ids `refresh.userIds` needs) for approvers known by their
 * Entra object ids, looked up through the conversation's member list and cached.
 */
import { TeamsInfo, type TurnContext } from 'botbuilder';

/** Maps Entra object ids to Teams user ids; lookups that fail are left out. */
export type TeamsUserIdLookup = (ctx: TurnContext, aadObjectIds: string[]) => Promise<string[]>;

/** A lookup with a process-wide cache (member ids do not change). */
export function createTeamsUserIdLookup(): TeamsUserIdLookup {
  const cache = new Map<string, string>();
  return async (ctx, aadObjectIds) => {
    const ids: string[] = [];
    for (const aad of aadObjectIds.slice(0, 60)) {
      const key = aad.toLowerCase();
      let id = cache.get(key);
      if (!id) {
        try {
          id = (await TeamsInfo.getMember(ctx, aad)).id;
          if (id) cache.set(key, id);
        } catch {
          id = undefined;
        }
      }
      if (id) ids.push(id);
    }
    return ids;
  };
}

/** Approvers who may still decide: listed, and not yet recorded as having decided. */
export function undecidedApprovers(approvers: string[], decided: string[]): string[] {
  const done = new Set(decided.map((id) => id.toLowerCase()));
  return approvers.filter((id) => !done.has(id.toLowerCase()));
}
