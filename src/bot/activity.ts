/**
 * Activities as the Activity Protocol defines them, read the same way whichever SDK received
 * them: who spoke, in which tenant and conversation, and the conversation reference a run keeps.
 */
import { randomUUID } from 'node:crypto';
import type { ConversationRef } from '../shared/chat';
import type { CardAction } from './handle-action';
import type { IncomingCommand } from './handle-command';
import { timeZoneOf } from './cards/time';

/** An account on an activity (user, bot or conversation member). */
export interface ProtocolAccount {
  id?: string;
  name?: string;
  aadObjectId?: string;
}

/** The parts of an activity the bot reads; both SDKs' activity objects have them. */
export interface ProtocolActivity {
  id?: string;
  type?: string;
  text?: string;
  locale?: string;
  channelId?: string;
  serviceUrl?: string;
  from?: ProtocolAccount;
  recipient?: ProtocolAccount;
  conversation?: { id?: string; tenantId?: string };
  channelData?: unknown;
  replyToId?: string;
  value?: unknown;
  /** The sender's IANA time zone, when their client says (Teams: also in the `clientInfo` entity). */
  localTimezone?: string;
  entities?: unknown;
}

/**
 * A conversation reference as runs record it, in the Bot Framework's shape (the bot under
 * `bot`). Runs started by either SDK record this shape, so any transport can continue them.
 */
export interface RecordedReference {
  activityId?: string;
  user?: ProtocolAccount;
  bot?: ProtocolAccount;
  /** The Agents SDK's name for `bot`; references it wrote by itself may carry it. */
  agent?: ProtocolAccount;
  conversation: { id: string } & Record<string, unknown>;
  channelId: string;
  locale?: string;
  serviceUrl: string;
}

/** The tenant an activity came from: Teams' `channelData.tenant.id`, else the conversation's. */
function tenantOf(activity: ProtocolActivity): string | undefined {
  const tenant = (activity.channelData as { tenant?: { id?: unknown } } | undefined)?.tenant?.id;
  return typeof tenant === 'string' ? tenant : activity.conversation?.tenantId;
}

/** The reference a run keeps to post into the conversation an activity came from. */
function conversationRefOf(activity: ProtocolActivity): ConversationRef {
  const reference: Record<string, unknown> = {
    activityId: activity.id,
    user: activity.from && { ...activity.from },
    bot: activity.recipient && { ...activity.recipient },
    conversation: activity.conversation && { ...activity.conversation },
    channelId: activity.channelId,
    locale: activity.locale,
    serviceUrl: activity.serviceUrl,
  };
  for (const [key, value] of Object.entries(reference)) if (value === undefined) delete reference[key];
  return reference;
}

/**
 * A recorded reference ready for either SDK's continuation: the bot account under both names,
 * so a run started under one SDK can be finished under the other.
 */
export function continuationOf(conversation: ConversationRef): RecordedReference {
  const reference = conversation as Partial<RecordedReference>;
  if (!reference.serviceUrl || !reference.conversation?.id || !reference.channelId) {
    throw new Error('The run has no usable conversation reference (service URL, conversation and channel).');
  }
  const bot = reference.bot ?? reference.agent;
  return { ...(reference as RecordedReference), ...(bot ? { bot, agent: bot } : {}) };
}

/** The key delivery spaces calls by: one queue per conversation. */
export function conversationKeyOf(conversation: ConversationRef): string {
  return (conversation as Partial<RecordedReference>).conversation?.id ?? 'unknown';
}

/** A chat message as a command; `text` is the message without the bot's @mention. */
export function commandOf(activity: ProtocolActivity, text: string): IncomingCommand {
  const from = activity.from ?? {};
  const tenantId = tenantOf(activity);
  return {
    text,
    // Who Teams says sent it, by Entra object id; never `from.id` (the bot refuses a command without one).
    requester: { aadObjectId: from.aadObjectId, name: from.name ?? '' },
    ...(tenantId ? { tenantId } : {}),
    conversation: conversationRefOf(activity),
    ...(activity.id ? { activityId: activity.id } : {}),
    ...timeZoneField(activity),
  };
}

/** `{ timeZone }` when the activity names the reader's time zone, else nothing. */
function timeZoneField(activity: ProtocolActivity): { timeZone?: string } {
  const timeZone = timeZoneOf(activity);
  return timeZone ? { timeZone } : {};
}

/** An `adaptiveCard/action` invoke as a card action; identity comes from the activity, never the card. */
export function cardActionOf(activity: ProtocolActivity): CardAction {
  const action = (activity.value as { action?: { verb?: unknown; data?: unknown } } | undefined)?.action;
  const tenantId = tenantOf(activity);
  return {
    verb: typeof action?.verb === 'string' ? action.verb : '',
    data: action?.data,
    user: { aadObjectId: activity.from?.aadObjectId, name: activity.from?.name },
    ...(tenantId ? { tenantId } : {}),
    // One click, one update (and one signed decision): a redelivered invoke carries the same id.
    invokeId: activity.id || randomUUID(),
    ...(activity.replyToId ? { messageId: activity.replyToId } : {}),
    ...timeZoneField(activity),
  };
}
