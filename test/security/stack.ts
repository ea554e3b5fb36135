/**
 * The security suite's stack: the local Azure, a worker with the real activities, and the bot's
 * real HTTP endpoint (optionally with Bot Framework auth against an offline token authority),
 * plus the audit that every destructive Azure call had a signed quorum in its run's history.
 */
import { randomUUID } from 'node:crypto';
import { StorageManagementClient } from '@azure/arm-storage';
import { ClientSecretCredential } from '@azure/identity';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { createActivities, createAzureClients } from '../../src/activities';
import { createArmAccountResolver } from '../../src/bot/accounts';
import { createRunService } from '../../src/bot/run-service';
import { startBotServer, type BotServer, type BotServerOptions } from '../../src/bot/server';
import { createCmkBot } from '../../src/bot/bot';
import { createChatPort } from '../../src/bot/chat-port';
import { createChatTransport } from '../../src/bot/transports';
import type { BotConfig, BotSdk } from '../../src/config';
import { startLocalAzure, type LocalAzure } from '../../src/local-azure';
import type { AccountRef } from '../../src/shared/accounts';
import { REQUEST_OPERATIONS, type ApprovalPolicy, type Person } from '../../src/shared/approval';
import { createCmkWorker } from '../../worker';
import {
  asRead,
  startRecordingConnector,
  stubOutbound,
  type RecordingConnector,
  type SentActivity,
} from '../bot/channel';
import { FAST_TIMING, LOCAL } from '../helpers/stack';
import { testDataConverter, testEnv, uniqueId, workflowBundle } from '../helpers/temporal';
import { TEST_BOT_KEY, testSigner } from '../helpers/trust';

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
  const local = await startLocalAzure({
    throttling: false,
    roleAssignmentPropagationMs: 100,
    revocationPropagationMs: 50,
    dataDir: `.data/test/local-azure-security-${randomUUID().slice(0, 8)}`,
  });
  const tenantId = local.tenantId;
  const subscription = local.subscriptionIds[0]!;
  const env = await testEnv();
  const connector = await startRecordingConnector();
  const { clientId, clientSecret } = local.credentials;
  const credential = new ClientSecretCredential(tenantId, clientId, clientSecret, { agent: local.agent });
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
  const botConfig: BotConfig = {
    sdk: options.sdk ?? 'botbuilder',
    appId: options.bot?.appId ?? '',
    appPassword: options.bot ? 'unused' : '',
    appType: options.bot ? 'MultiTenant' : 'SingleTenant',
    appTenantId: '',
    port: 0,
    host: '127.0.0.1',
    trustedServiceUrls,
  };
  // The worker sends as a registered bot does, bearer token and all, to the connectors it trusts.
  const workerAppId = randomUUID();
  const chat = createChatPort(
    await createChatTransport(
      { ...botConfig, appId: workerAppId, appPassword: 'unused', appType: 'MultiTenant' },
      stubOutbound(workerAppId),
    ),
    { trustedServiceUrls, delivery: { minIntervalInMs: 5, baseDelayInMs: 10 } },
  );
  const activities = createActivities({
    azure: createAzureClients(
      { tenantId, subscriptionIds: local.subscriptionIds, armEndpoint: 'https://management.azure.com' },
      {
        credential,
        agent: local.agent,
        retry: { maxRetries: 2, retryDelayInMs: 20, maxRetryDelayInMs: 200 },
      },
    ),
    chat,
    tenantId,
    timing: FAST_TIMING,
  });
  const workers: { worker: Worker; running: Promise<void> }[] = [];
  const startWorker = async (workerPolicy: ApprovalPolicy): Promise<string> => {
    const queue = uniqueId('tq-security');
    const worker = await createCmkWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue: queue,
      activities,
      trust: { policy: workerPolicy, botKeys: [TEST_BOT_KEY], trustedServiceUrls },
      workflowBundle: await workflowBundle(),
      dataConverter: testDataConverter,
      options: { shutdownGraceTime: '100ms' },
    });
    workers.push({ worker, running: worker.run() });
    return queue;
  };
  const taskQueue = await startWorker(policy);
  const server = await startBotServer({
    bot: botConfig,
    ...(options.bot?.transportOptions ? { transportOptions: options.bot.transportOptions } : {}),
    handler: createCmkBot({
      runs: createRunService({
        client: env.client,
        taskQueue,
        namespace: 'default',
        uiBaseUrl: 'http://ui.test',
      }),
      resolver: createArmAccountResolver({
        subscriptionIds: local.subscriptionIds,
        storage: (s) => new StorageManagementClient(credential, s, { agent: local.agent }),
      }),
      subscriptionIds: local.subscriptionIds,
      policy,
      signer: testSigner,
      uiBaseUrl: 'http://ui.test',
    }),
    log: () => {},
  });

  const activity = (from: Person, conversationId: string, extra: Record<string, unknown>) => ({
    id: randomUUID(),
    channelId: 'msteams',
    serviceUrl: connector.serviceUrl,
    from: { id: `29:${from.aadObjectId}`, ...from },
    recipient: { id: `28:${botConfig.appId || 'cmk-runbook'}`, name: 'cmk-runbook' },
    conversation: { id: conversationId, conversationType: 'personal', tenantId },
    channelData: { tenant: { id: tenantId } },
    ...extra,
  });
  const post = async (body: object, token?: string) => {
    const response = await fetch(`${server.url}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    const json = response.headers.get('content-type')?.includes('json') ?? false;
    return {
      status: response.status,
      body: text && json ? (JSON.parse(text) as unknown) : text || undefined,
    };
  };
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
    newAccount() {
      const ref = {
        subscriptionId: subscription,
        resourceGroup: LOCAL.storageGroup,
        name: `stsec${randomUUID().replace(/-/g, '').slice(0, 12)}`,
      };
      local.state.addStorageAccount(ref);
      return ref;
    },
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
    workerWith: (overrides) => startWorker({ ...policy, ...overrides }),
    async close() {
      await server.close();
      for (const { worker } of workers) worker.shutdown();
      await Promise.all(workers.map((w) => w.running));
      await connector.close();
      await local.close();
    },
  };
}
