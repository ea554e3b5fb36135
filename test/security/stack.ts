/**
 * The security suite's stack: the local Azure, a worker with the real activities, and the bot's
 * real HTTP endpoint (optionally with Bot Framework auth against an offline token authority),
 * plus the audit that every destructive Azure call had a signed quorum in its run's history.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { BotServerOptions } from '../../src/bot/server';
import type { BotSdk } from '../../src/config';
import type { LocalAzure } from '../../src/local-azure';
import type { AccountRef } from '../../src/shared/accounts';
import { REQUEST_OPERATIONS, type ApprovalPolicy, type Person } from '../../src/shared/approval';
import { asRead, stubOutbound, type RecordingConnector, type SentActivity } from '../bot/channel';
import {
  chatPortFor,
  localAzure,
  localBot,
  quickAzure,
  postActivity,
  registeredBot,
  startBot,
  startRecordingConnector,
  startWorker,
  teamsActivity,
  type BotServer,
  type KitWorker,
} from '../kit';
import { FAST_TIMING } from '../helpers/stack';
import { testEnv, uniqueId } from '../helpers/temporal';
import { TEST_BOT_KEY } from '../helpers/trust';

/** People of the security suite, by Entra object id. */
export const WHO = {
  requester: { aadObjectId: '5ec00000-0000-4000-8000-0000000000a1', name: 'Rita Requester' },
  alice: { aadObjectId: '5ec00000-0000-4000-8000-0000000000a2', name: 'Alice Approver' },
  bob: { aadObjectId: '5ec00000-0000-4000-8000-0000000000a3', name: 'Bob Approver' },
  mallory: { aadObjectId: '5ec00000-0000-4000-8000-0000000000f1', name: 'Mallory Outsider' },
} as const satisfies Record<string, Person>;

/** What the stack is started with. */
export interface SecurityStackOptions {
  /** The bot SDK of the endpoint and the worker's chat port (default botbuilder). */
  sdk?: BotSdk;
  /** Bot Framework auth; without it the endpoint runs in local mode (no tokens). */
  bot?: Pick<BotServerOptions, 'transportOptions'> & { appId: string };
}

/** A running security stack. */
export interface SecurityStack {
  local: LocalAzure;
  client: Client;
  connector: RecordingConnector;
  server: BotServer;
  taskQueue: string;
  policy: ApprovalPolicy;
  tenantId: string;
  subscription: string;
  /** A new account on Microsoft-managed keys. */
  newAccount(): AccountRef;
  /** Starts another worker, configured with the stack's policy changed by `overrides`; returns its task queue. */
  workerWith(overrides: Partial<ApprovalPolicy>): Promise<string>;
  /** A Teams activity from a person in a conversation. */
  activity(from: Person, conversationId: string, extra: Record<string, unknown>): Record<string, unknown>;
  /** POSTs an activity to `/api/messages`; returns the status and the JSON body. */
  post(body: object, token?: string): Promise<{ status: number; body: unknown }>;
  /** Says `text` in a fresh conversation; returns the HTTP status and everything the bot sent there. */
  say(from: Person, text: string): Promise<{ status: number; replies: string }>;
  close(): Promise<void>;
}

/** Everything a card or message shows, as one string, as a person reads it. */
export function textOf(value: unknown): string {
  if (typeof value === 'string') return asRead(value);
  if (Array.isArray(value)) return value.map(textOf).join('\n');
  if (value && typeof value === 'object') return Object.values(value).map(textOf).join('\n');
  return '';
}

/** Starts the local Azure, a worker with the real activities and the bot endpoint. */
export async function startSecurityStack(options: SecurityStackOptions = {}): Promise<SecurityStack> {
  const kit = await localAzure(quickAzure('local-azure-security'));
  const { local } = kit;
  const tenantId = local.tenantId;
  const subscription = local.subscriptionIds[0]!;
  const env = await testEnv();
  const connector = await startRecordingConnector();
  const both = [WHO.alice.aadObjectId, WHO.bob.aadObjectId, WHO.requester.aadObjectId];
  const askers = [WHO.requester.aadObjectId, WHO.alice.aadObjectId, WHO.bob.aadObjectId];
  const policy: ApprovalPolicy = {
    approvers: {
      configure: both,
      revoke: both,
      disable: both,
      changeKey: both,
      rotate: both,
      restoreAccess: both,
      updateVersion: both,
      fleetRotate: both,
      setRotationPolicy: both,
    },
    quorum: { revoke: 2 },
    deadline: '1h',
    tenantId,
    alwaysApprove: ['configure'],
    // Mallory is a member of the tenant who may ask for nothing.
    requesters: Object.fromEntries(REQUEST_OPERATIONS.map((op) => [op, askers])),
  };
  const trustedServiceUrls = [connector.serviceUrl];
  const sdk = options.sdk ?? 'botbuilder';
  const botConfig = options.bot
    ? registeredBot(sdk, options.bot.appId, trustedServiceUrls)
    : localBot(sdk, trustedServiceUrls);
  // The worker sends as a registered bot does, bearer token and all, to the connectors it trusts.
  const workerAppId = randomUUID();
  const chat = await chatPortFor(registeredBot(sdk, workerAppId, trustedServiceUrls), {
    trustedServiceUrls,
    transport: stubOutbound(workerAppId),
  });
  const activities = kit.activities({ chat, timing: FAST_TIMING });
  const workers: KitWorker[] = [];
  const startPolicyWorker = async (workerPolicy: ApprovalPolicy): Promise<string> => {
    const worker = await startWorker({
      connection: env.nativeConnection,
      taskQueue: uniqueId('tq-security'),
      activities,
      trust: { policy: workerPolicy, botKeys: [TEST_BOT_KEY], trustedServiceUrls },
    });
    workers.push(worker);
    return worker.taskQueue;
  };
  const taskQueue = await startPolicyWorker(policy);
  const server = await startBot({
    bot: botConfig,
    client: env.client,
    taskQueue,
    azure: kit,
    policy,
    ...(options.bot?.transportOptions ? { transportOptions: options.bot.transportOptions } : {}),
  });

  const activity = (from: Person, conversationId: string, extra: Record<string, unknown>) =>
    teamsActivity(
      {
        serviceUrl: connector.serviceUrl,
        tenantId,
        conversation: { id: conversationId, conversationType: 'personal' },
        botId: botConfig.appId,
      },
      from,
      extra,
    );
  const post = (body: object, token?: string) => postActivity(server.url, body, token);
  const sentTo = (conversationId: string): SentActivity[] =>
    connector.sent.filter((s) => s.conversationId === conversationId);

  return {
    local,
    client: env.client,
    connector,
    server,
    taskQueue,
    policy,
    tenantId,
    subscription,
    newAccount: () => kit.newAccount('stsec'),
    activity,
    post,
    async say(from, text) {
      const conversationId = `a:personal-${randomUUID().slice(0, 8)}`;
      const { status } = await post(activity(from, conversationId, { type: 'message', text }));
      return {
        status,
        replies: sentTo(conversationId)
          .map((s) => textOf(s.body))
          .join('\n'),
      };
    },
    workerWith: (overrides) => startPolicyWorker({ ...policy, ...overrides }),
    async close() {
      await server.close();
      await Promise.all(workers.map((w) => w.close()));
      await connector.close();
      await local.close();
    },
  };
}
