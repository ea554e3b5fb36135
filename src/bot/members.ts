/**
 * People on run cards: approvers known by Entra object id, looked up in the card's conversation
 * for their Teams user id (what `refresh.userIds` takes) and display name, and the run card
 * everyone sees — which refreshes to Approve/Reject for the approvers who may still decide, or,
 * where Teams could not name them, carries the buttons itself for the workflow to sort out.
 */
import type { RunStatus } from '../shared/approval';
import type { CardAudience } from '../shared/chat';
import { escapeMarkup } from './cards/markup';
import { renderRunCard, type AdaptiveCardJson } from './cards/render';
import type { ConversationChannel } from './chat-transport';

/** What the bot learned of a person in Teams. */
export interface MemberInfo {
  /** The Teams user id (`29:…`). */
  userId: string;
  name?: string;
}

/** Looks members up by Entra object id; the map holds those Teams found (keys lowercase). */
export type MemberLookup = (
  channel: ConversationChannel,
  aadObjectIds: string[],
) => Promise<Map<string, MemberInfo>>;

/** Teams reads at most this many user ids in `refresh.userIds`. */
const MAX_REFRESH_USERS = 60;

/**
 * A lookup with a process-wide cache: a person's Teams user id and name are the same in every
 * conversation of the tenant, so one found while posting to the approvals chat also names them
 * on the requester's card. Failed lookups are not remembered; the next card asks again.
 */
export function createMemberLookup(): MemberLookup {
  // Lookups, not answers: cards edited at the same moment (many approvers clicking) share one call
  // per approver instead of each asking Teams for the same members.
  const cache = new Map<string, Promise<MemberInfo | undefined>>();
  return async (channel, aadObjectIds) => {
    const found = new Map<string, MemberInfo>();
    for (const aad of aadObjectIds.slice(0, MAX_REFRESH_USERS)) {
      const key = aad.toLowerCase();
      let lookup = cache.get(key);
      if (!lookup) {
        lookup = channel.getMember(aad).then(
          (member) =>
            member?.id ? { userId: member.id, ...(member.name ? { name: member.name } : {}) } : undefined,
          () => undefined,
        );
        cache.set(key, lookup);
      }
      const member = await lookup;
      if (member) found.set(key, member);
      else if (cache.get(key) === lookup) cache.delete(key);
    }
    return found;
  };
}

/** Approvers who may still decide: listed, and not yet recorded as having decided. */
function undecidedApprovers(approvers: string[], decided: string[]): string[] {
  const done = new Set(decided.map((id) => id.toLowerCase()));
  return approvers.filter((id) => !done.has(id.toLowerCase()));
}

/** Display names of the approvers Teams named, by lowercase Entra object id. */
function namesOf(members: Map<string, MemberInfo>): Record<string, string> {
  const names: Record<string, string> = {};
  for (const [aad, member] of members) if (member.name) names[aad] = member.name;
  return names;
}

/**
 * The run card for everyone in a conversation. While approval is pending, each undecided
 * approver's client refreshes to their own view with the buttons (`refresh.userIds`). Where
 * Teams could not name an approver here (not a member, or a client such as the Agents Playground
 * that cannot look members up by Entra id), the card shows Approve and Reject to everyone and
 * refreshes for every member; the workflow's validator refuses anyone who is not an approver.
 */
export async function cardForEveryone(
  status: RunStatus,
  channel: ConversationChannel,
  members: MemberLookup,
  audience: CardAudience = 'everyone',
): Promise<AdaptiveCardJson> {
  const pending = status.approval.state === 'pending' && !status.result && !status.cancelled;
  const waiting = pending
    ? undecidedApprovers(
        status.approval.approvers,
        status.approval.decisions.map((d) => d.approverAadId),
      )
    : [];
  const known = pending ? await members(channel, status.approval.approvers) : new Map<string, MemberInfo>();
  const names = namesOf(known);
  const userIds = waiting.map((aad) => known.get(aad.toLowerCase())?.userId);
  // In the approvals conversation the card is the request itself: no line pointing to it.
  const shown: RunStatus = audience === 'approvers' ? { ...status, approvalsRequest: undefined } : status;
  const card =
    waiting.length > 0 && userIds.some((id) => id === undefined)
      ? renderRunCard(
          shown,
          {
            canDecide: true,
            note: waiting.every((aad) => names[aad.toLowerCase()])
              ? 'Only the approvers named above can approve or reject; anyone else is told why.'
              : // Teams named none or not all of them here: do not point at names the card lacks.
                "Only this run's approvers can approve or reject; anyone else who clicks is told why.",
          },
          { refreshFor: 'everyone', names },
        )
      : renderRunCard(shown, { canDecide: false }, { refreshFor: userIds as string[], names });
  return audience === 'approvers' && waiting.length > 0 ? withMentions(card, waiting, names) : card;
}

/**
 * The request's first line @mentions the approvers who may still decide, so Teams notifies them:
 * a card mention names the person by Entra object id and shows the text between `<at>` tags.
 */
function withMentions(
  card: AdaptiveCardJson,
  approvers: string[],
  names: Record<string, string>,
): AdaptiveCardJson {
  const mentions = approvers.map((aad, i) => {
    const name = escapeMarkup(names[aad.toLowerCase()] ?? `approver ${i + 1}`);
    return { type: 'mention', text: `<at>${name}</at>`, mentioned: { id: aad, name } };
  });
  const who = mentions.map((m) => m.text);
  const list = who.length > 1 ? `${who.slice(0, -1).join(', ')} and ${who.at(-1)}` : (who[0] ?? '');
  const line = {
    type: 'TextBlock',
    text: `Your approval is requested: ${list}`,
    wrap: true,
    weight: 'Bolder',
  };
  const msteams = { ...((card.msteams as Record<string, unknown> | undefined) ?? {}), entities: mentions };
  return { ...card, msteams, body: [line, ...((card.body as unknown[]) ?? [])] };
}
