/**
 * The bot suites' stack, shared so each suite tells its story and not its setup: the local
 * Azure, a connector that records what the bot and the worker send into Teams, and per SDK the
 * production worker factory and the bot's real HTTP endpoint on one task queue; plus a chat to
 * talk and click in, as a Teams client would.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { WorkerTrust } from '../../src/activities/settings';
import type { BotLog } from '../../src/bot/bot';
import type { BotSdk } from '../../src/config';
import type { LocalAzure } from '../../src/local-azure';
import { workflowIdFor, type AccountRef } from '../../src/shared/accounts';
import type { ApprovalPolicy, Person } from '../../src/shared/approval';
import {
  chatPortFor,
  localAzure,
  localBot,
  quickAzure,
  SEEDED,
  personalChat,
  postActivity,
  startBot,
  startWorker,
  teamsActivity,
  type BotServer,
} from '../kit';
import { FAST_TIMING } from '../activities/harness';
import { testEnv, uniqueId } from '../helpers/temporal';
import { anyMemberMayRequest, TEST_BOT_KEY } from '../helpers/trust';
import { asRead, startRecordingConnector, type RecordingConnector, type SentActivity } from './channel';

/** Everything a card shows, as one string, as a person reads it. */
export function cardText(card: unknown): string {
  if (typeof card === 'string') return asRead(card);
  if (Array.isArray(card)) return card.map(cardText).join('\n');
  if (card && typeof card === 'object') return Object.values(card).map(cardText).join('\n');
  return '';
}

/** The card an activity the bot sent carries. */
export function cardOf(activity: SentActivity | undefined): Record<string, unknown> | undefined {
  const attachments = activity?.body.attachments as { content: Record<string, unknown> }[] | undefined;
  return attachments?.[0]?.content;
}

/** The titles (or verbs) of a card's actions. */
export function actionsOf(card: Record<string, unknown> | undefined): string[] {
  return ((card?.actions as { title?: string }[] | undefined) ?? []).map((a) => a.title ?? '');
}

/** Polls until `probe` returns something (30 s). */
export async function eventually<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never happened: ${what}`);
}

/** The bot endpoint and a worker on one SDK, serving one task queue. */
export interface ChatSide {
  sdk: BotSdk;
  server: BotServer;
  taskQueue: string;
  stop(): Promise<void>;
}

/** What a side is started with besides its SDK. */
export interface SideOptions {
  policy: ApprovalPolicy;
  /** Reuse a task queue (a restarted side, or another SDK taking over). */
  taskQueue?: string;
  /** Worker trust beyond the policy, e.g. an approvals conversation. */
  trust?: Partial<WorkerTrust>;
  log?: BotLog;
}

/** The suite's shared parts; sides come and go. */
export interface ChatStack {
  azure: LocalAzure;
  client: Client;
  connector: RecordingConnector;
  tenantId: string;
  subscription: string;
  startSide(sdk: BotSdk, options: SideOptions): Promise<ChatSide>;
  /** A new account on Microsoft-managed keys. */
  newAccount(prefix?: string): AccountRef & { workflowId: string };
  keySourceOf(account: AccountRef): string;
  close(): Promise<void>;
}

/** What a chat suite's stack is started with. */
export interface ChatStackOptions {
  /** People the connector's member list knows by name. */
  names?: Person[];
}

/**
 * A bot suite's policy in the seeded tenant: anyone of it may ask, one approval, deadline 1 h,
 * configure always asks (`alwaysApprove: []` for none); `overrides` says who approves and anything else.
 */
export function chatPolicy(
  overrides: Partial<ApprovalPolicy> & Pick<ApprovalPolicy, 'approvers'>,
): ApprovalPolicy {
  const policy: ApprovalPolicy = {
    quorum: {},
    deadline: '1h',
    tenantId: SEEDED.tenantId,
    alwaysApprove: ['configure'],
    requesters: anyMemberMayRequest(),
    ...overrides,
  };
  // As the worker's configuration reads it: an empty list is no list (src/config.ts).
  if (!policy.alwaysApprove?.length) delete policy.alwaysApprove;
  return policy;
}

/** Starts the local Azure and the recording connector for a suite. */
export async function startChatStack(options: ChatStackOptions = {}): Promise<ChatStack> {
  const kit = await localAzure(quickAzure());
  const azure = kit.local;
  const tenantId = azure.tenantId;
  const subscription = azure.subscriptionIds[0]!;
  const env = await testEnv();
  const connector = await startRecordingConnector();
  for (const person of options.names ?? []) connector.members.names.set(person.aadObjectId, person.name);

  return {
    azure,
    client: env.client,
    connector,
    tenantId,
    subscription,
    async startSide(sdk, options) {
      const taskQueue = options.taskQueue ?? uniqueId(`bot-${sdk}`);
      const trustedServiceUrls = [connector.serviceUrl];
      const bot = localBot(sdk, trustedServiceUrls);
      const worker = await startWorker({
        connection: env.nativeConnection,
        taskQueue,
        activities: kit.activities({
          chat: await chatPortFor(bot, { trustedServiceUrls }),
          timing: FAST_TIMING,
        }),
        trust: { policy: options.policy, botKeys: [TEST_BOT_KEY], trustedServiceUrls, ...options.trust },
      });
      const server = await startBot({
        bot,
        client: env.client,
        taskQueue,
        azure: kit,
        policy: options.policy,
        ...(options.log ? { log: options.log } : {}),
      });
      return {
        sdk,
        server,
        taskQueue,
        async stop() {
          await server.settled();
          await server.close();
          await worker.close();
        },
      };
    },
    newAccount(prefix = 'st') {
      const name = `${prefix}${randomUUID().replace(/-/g, '').slice(0, 12)}`;
      const ref = { subscriptionId: subscription, resourceGroup: 'rg-storage', name };
      azure.state.addStorageAccount(ref);
      return { ...ref, workflowId: workflowIdFor(ref) };
    },
    keySourceOf(account) {
      return (
        azure.state.getStorageAccount(account.subscriptionId, account.resourceGroup, account.name) as {
          properties: { encryption: { keySource: string } };
        }
      ).properties.encryption.keySource;
    },
    async close() {
      await connector.close();
      await azure.close();
    },
  };
}

/** A conversation with the bot, as Teams would carry it. */
export interface ChatOptions {
  /** Default: a new personal chat. */
  conversation?: { id: string; conversationType: 'personal' | 'groupChat' | 'channel' };
}

/** One conversation: say things, click cards, read what the bot and the worker sent into it. */
export function chatWith(stack: ChatStack, side: () => ChatSide, options: ChatOptions = {}) {
  const conversation = options.conversation ?? personalChat();
  const { connector, tenantId } = stack;
  const context = { serviceUrl: connector.serviceUrl, tenantId, conversation };
  const activity = (from: Person, extra: Record<string, unknown>) => teamsActivity(context, from, extra);
  const post = (body: object) => postActivity(side().server.url, body);
  const sent = () => connector.sent.filter((s) => s.conversationId === conversation.id);
  /** The message id a sent activity got: its own for a POST (the connector numbers them), the edited one for a PUT. */
  const messageIdOf = (activity: SentActivity): string =>
    activity.method === 'PUT' ? activity.activityId! : `activity-${connector.sent.indexOf(activity) + 1}`;
  /** The last version of every card message in this conversation, by message id. */
  const cards = (): Map<string, Record<string, unknown>> => {
    const latest = new Map<string, Record<string, unknown>>();
    for (const s of sent()) {
      const card = cardOf(s);
      if (card) latest.set(messageIdOf(s), card);
    }
    return latest;
  };
  return {
    conversation,
    sent,
    cards,
    /** Says `text` as `from`; returns the HTTP status and the bot's replies (as read). */
    say: async (from: Person, text: string, extra: Record<string, unknown> = {}) => {
      const before = sent().length;
      const response = await post(activity(from, { type: 'message', text, ...extra }));
      await side().server.settled();
      const replies = sent().slice(before);
      const shown = replies.map((r) => (typeof r.body.text === 'string' ? r.body.text : cardText(cardOf(r))));
      return { status: response.status, replies, text: shown.join('\n') };
    },
    /** Clicks a card button; returns the clicker's card as text. */
    click: async (
      who: Person,
      verb: string,
      messageId: string,
      data: unknown,
      overrides: Record<string, unknown> = {},
    ): Promise<string> => {
      const response = await post(
        activity(who, {
          type: 'invoke',
          name: 'adaptiveCard/action',
          replyToId: messageId,
          value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' },
          ...overrides,
        }),
      );
      assert.equal(response.status, 200);
      const body = response.body as { statusCode: number; type: string; value: unknown };
      assert.equal(body.type, 'application/vnd.microsoft.card.adaptive');
      return cardText(body.value);
    },
    /**
     * The run card once it asks for approval: its message id, its card and the data its buttons
     * carry. `since`: skip what was sent before (an earlier run's card in the same chat).
     */
    approvalCard: async (since = 0) => {
      const posted = await eventually('the run card asks for approval', () =>
        sent()
          .slice(since)
          .find((s) => cardText(cardOf(s)).includes('Waiting for approval')),
      );
      const card = cardOf(posted)!;
      const data = (card.actions as { verb?: string; data?: unknown }[]).find(
        (a) => a.verb === 'refresh',
      )!.data;
      return { messageId: messageIdOf(posted), card, data };
    },
    /** The card message `messageId` once its latest version shows `text`. */
    cardShowing: (messageId: string, text: string | RegExp) =>
      eventually(`card ${messageId} shows ${String(text)}`, () => {
        const card = cards().get(messageId);
        const shown = cardText(card);
        return card && (typeof text === 'string' ? shown.includes(text) : text.test(shown))
          ? card
          : undefined;
      }),
  };
}
