import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { StorageManagementClient } from '@azure/arm-storage';
import { ClientSecretCredential } from '@azure/identity';
import type { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import { createActivities, createAzureClients } from '../../src/activities';
import { createArmAccountResolver } from '../../src/bot/accounts';
import { createRunService } from '../../src/bot/run-service';
import { startBotServer, type BotServer } from '../../src/bot/server';
import { createCmkBot } from '../../src/bot/bot';
import { createChatPort } from '../../src/bot/chat-port';
import { createChatTransport } from '../../src/bot/transports';
import type { BotSdk } from '../../src/config';
import { startLocalAzure, type LocalAzure } from '../../src/local-azure';
import { workflowIdFor } from '../../src/shared/accounts';
import { statusQuery, type ApprovalPolicy } from '../../src/shared/approval';
import type { RunResult } from '../../src/shared/runbooks';
import { createCmkWorker } from '../../worker';
import { FAST_TIMING } from '../activities/harness';
import { testDataConverter, testEnv, uniqueId, workflowBundle } from '../helpers/temporal';
import { anyMemberMayRequest, TEST_BOT_KEY, testSigner } from '../helpers/trust';
import {
  SDKS,
  localBot,
  startRecordingConnector,
  type RecordingConnector,
  type SentActivity,
} from './channel';
import { APPROVER, REQUESTER } from './fixtures';

const OUTSIDER = { aadObjectId: '00000000-0000-0000-0000-0000000000f1', name: 'Oscar Outsider' };

/** Everything a card shows, as one string. */
function cardText(card: unknown): string {
  if (typeof card === 'string') return card;
  if (Array.isArray(card)) return card.map(cardText).join('\n');
  if (card && typeof card === 'object') return Object.values(card).map(cardText).join('\n');
  return '';
}

function cardOf(activity: SentActivity | undefined): Record<string, unknown> | undefined {
  const attachments = activity?.body.attachments as { content: Record<string, unknown> }[] | undefined;
  return attachments?.[0]?.content;
}

async function eventually<T>(what: string, probe: () => T | undefined | Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never happened: ${what}`);
}

/** A person in a chat. */
type Who = { aadObjectId: string; name: string };

/** The bot endpoint and a worker on one SDK, serving one task queue. */
interface ChatSide {
  server: BotServer;
  stop(): Promise<void>;
}

describe('approvals from chat to Azure and back, on each bot SDK', () => {
  let azure: LocalAzure;
  let client: Client;
  let nativeConnection: NativeConnection;
  let connector: RecordingConnector;
  let credential: ClientSecretCredential;
  let policy: ApprovalPolicy;
  let tenantId: string;
  let subscription: string;

  before(async () => {
    azure = await startLocalAzure({
      throttling: false,
      roleAssignmentPropagationMs: 100,
      revocationPropagationMs: 50,
      dataDir: `.data/test/local-azure-${randomUUID().slice(0, 8)}`,
    });
    tenantId = azure.tenantId;
    subscription = azure.subscriptionIds[0]!;
    const env = await testEnv();
    client = env.client;
    nativeConnection = env.nativeConnection;
    connector = await startRecordingConnector();
    const { clientId, clientSecret } = azure.credentials;
    credential = new ClientSecretCredential(tenantId, clientId, clientSecret, { agent: azure.agent });
    policy = {
      approvers: { configure: [APPROVER.aadObjectId, REQUESTER.aadObjectId] },
      quorum: {},
      deadline: '1h',
      tenantId,
      alwaysApprove: ['configure'],
      requesters: anyMemberMayRequest(),
    };
  });

  after(async () => {
    await connector?.close();
    await azure?.close();
  });

  /** The production worker factory and the bot endpoint, both on `sdk`. */
  async function startChatSide(sdk: BotSdk, taskQueue: string): Promise<ChatSide> {
    const trustedServiceUrls = [connector.serviceUrl];
    const bot = localBot(sdk, trustedServiceUrls);
    const activities = createActivities({
      azure: createAzureClients(
        { tenantId, subscriptionIds: azure.subscriptionIds, armEndpoint: 'https://management.azure.com' },
        {
          credential,
          agent: azure.agent,
          retry: { maxRetries: 2, retryDelayInMs: 20, maxRetryDelayInMs: 200 },
        },
      ),
      chat: createChatPort(await createChatTransport(bot), {
        trustedServiceUrls,
        delivery: { minIntervalInMs: 5, baseDelayInMs: 10 },
      }),
      tenantId,
      timing: FAST_TIMING,
    });
    const worker = await createCmkWorker({
      connection: nativeConnection,
      namespace: 'default',
      taskQueue,
      activities,
      trust: { policy, botKeys: [TEST_BOT_KEY], trustedServiceUrls },
      workflowBundle: await workflowBundle(),
      dataConverter: testDataConverter,
      options: { shutdownGraceTime: '100ms' },
    });
    const running = worker.run();
    const server = await startBotServer({
      bot,
      handler: createCmkBot({
        runs: createRunService({ client, taskQueue, namespace: 'default', uiBaseUrl: 'http://ui.test' }),
        resolver: createArmAccountResolver({
          subscriptionIds: azure.subscriptionIds,
          storage: (s) => new StorageManagementClient(credential, s, { agent: azure.agent }),
        }),
        subscriptionIds: azure.subscriptionIds,
        policy,
        signer: testSigner,
        uiBaseUrl: 'http://ui.test',
      }),
      log: () => {},
    });
    return {
      server,
      async stop() {
        await server.settled();
        await server.close();
        worker.shutdown();
        await running;
      },
    };
  }

  /** One personal chat with the bot: its activities, and what the bot sent into it. */
  function chat(side: () => ChatSide) {
    const conversation = { id: `a:personal-${randomUUID().slice(0, 8)}`, conversationType: 'personal' };
    const activity = (from: Who, extra: Record<string, unknown>) => ({
      id: randomUUID(),
      channelId: 'msteams',
      serviceUrl: connector.serviceUrl,
      from: { id: `29:${from.aadObjectId}`, ...from },
      recipient: { id: '28:cmk-runbook', name: 'cmk-runbook' },
      conversation: { ...conversation, tenantId },
      channelData: { tenant: { id: tenantId } },
      ...extra,
    });
    const post = async (body: object): Promise<{ status: number; body: unknown }> => {
      const response = await fetch(`${side().server.url}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    };
    const sent = () => connector.sent.filter((s) => s.conversationId === conversation.id);
    return {
      sent,
      say: async (from: Who, text: string) => (await post(activity(from, { type: 'message', text }))).status,
      /** Clicks a card button; returns the clicker's card as text. */
      click: async (
        who: Who,
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
      /** The card asking for approval: its message id, its card and its refresh data. */
      approvalCard: async () => {
        const posted = await eventually('the run card asks for approval', () =>
          sent().find((s) => cardText(cardOf(s)).includes('Waiting for approval')),
        );
        const messageId =
          posted.method === 'PUT' ? posted.activityId! : `activity-${connector.sent.indexOf(posted) + 1}`;
        const card = cardOf(posted)!;
        const data = (card.actions as { verb?: string; data?: unknown }[]).find(
          (a) => a.verb === 'refresh',
        )!.data;
        return { messageId, card, data };
      },
      /** The card once it shows the outcome, as edited in place. */
      finalCard: (messageId: string) =>
        eventually('the card shows the outcome', () => {
          const last = sent()
            .filter((s) => s.method === 'PUT' && s.activityId === messageId)
            .at(-1);
          return last && cardText(cardOf(last)).includes('Succeeded') ? cardOf(last) : undefined;
        }),
    };
  }

  function newAccount() {
    const name = `st${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    azure.state.addStorageAccount({ subscriptionId: subscription, resourceGroup: 'rg-storage', name });
    return {
      name,
      workflowId: workflowIdFor({ subscriptionId: subscription, resourceGroup: 'rg-storage', name }),
    };
  }

  function keySourceOf(name: string): string {
    return (
      azure.state.getStorageAccount(subscription, 'rg-storage', name) as {
        properties: { encryption: { keySource: string } };
      }
    ).properties.encryption.keySource;
  }

  for (const sdk of SDKS) {
    test(`when configure is approved on the card (${sdk}), then the account is encrypted and the card shows the outcome`, async () => {
      const side = await startChatSide(sdk, uniqueId(`bot-flow-${sdk}`));
      try {
        const { click, say, sent, approvalCard, finalCard } = chat(() => side);
        const { name, workflowId } = newAccount();
        assert.equal(await say(REQUESTER, `configure ${name}`), 200);

        const { messageId, card, data } = await approvalCard();
        assert.deepEqual(
          (card.refresh as { userIds: string[] }).userIds.sort(),
          [`29:${APPROVER.aadObjectId}`, `29:${REQUESTER.aadObjectId}`].sort(),
        );

        assert.match(await click(APPROVER, 'refresh', messageId, data), /Approve[\s\S]*Reject/);
        assert.match(await click(OUTSIDER, 'refresh', messageId, data), /^(?![\s\S]*\nApprove\n)/);

        assert.match(
          await click(REQUESTER, 'approve', messageId, data),
          /Not recorded: You requested this run; someone else must approve it\./,
        );
        assert.match(
          await click(OUTSIDER, 'approve', messageId, data),
          /Not recorded: You are not an approver for Configure CMK\./,
        );
        assert.match(
          await click(APPROVER, 'approve', messageId, data, {
            channelData: { tenant: { id: randomUUID() } },
          }),
          /Not recorded: You are signed in to another organisation/,
        );

        const clickId = randomUUID();
        assert.match(
          await click(APPROVER, 'approve', messageId, data, { id: clickId }),
          /Megan Bowen approved/,
        );
        await click(APPROVER, 'approve', messageId, data, { id: clickId });
        const status = await client.workflow.getHandle(workflowId).query(statusQuery);
        assert.equal(status.approval.decisions.length, 1);

        const result = (await client.workflow.getHandle(workflowId).result()) as RunResult;
        assert.equal(result.outcome, 'succeeded', result.message);
        assert.equal(keySourceOf(name), 'Microsoft.Keyvault');

        const final = await finalCard(messageId);
        assert.match(cardText(final), /Approved \(1 of 1\)/);
        assert.equal(final.refresh, undefined);

        await side.server.settled();
        const before = sent().length;
        assert.equal(await say(REQUESTER, `status ${name}`), 200);
        const statusCard = cardText(cardOf(sent()[before]));
        assert.match(statusCard, /Succeeded/);
        assert.match(statusCard, /After[\s\S]*Customer-managed \(Key Vault\)[\s\S]*cmk-key/);
        assert.equal(await say(REQUESTER, 'runs'), 200);
        const runsCard = cardText(cardOf(sent()[before + 1]));
        assert.match(runsCard, new RegExp(`Configure CMK · ${name}`));
        assert.ok(
          runsCard.includes(`http://ui.test/namespaces/default/workflows/${encodeURIComponent(workflowId)}/`),
        );
      } finally {
        await side.stop();
      }
    });
  }

  for (const from of SDKS) {
    for (const to of SDKS.filter((sdk) => sdk !== from)) {
      test(`when a run waits for approval under ${from} and the installation moves to ${to}, then the approval on ${to} finishes it and the card ${from} posted shows the outcome`, async () => {
        const taskQueue = uniqueId(`bot-move-${from}`);
        let side = await startChatSide(from, taskQueue);
        const { click, say, approvalCard, finalCard } = chat(() => side);
        try {
          const { name, workflowId } = newAccount();
          assert.equal(await say(REQUESTER, `configure ${name}`), 200);
          const { messageId, data } = await approvalCard();

          await side.stop();
          side = await startChatSide(to, taskQueue);

          assert.match(await click(APPROVER, 'approve', messageId, data), /Megan Bowen approved/);
          const result = (await client.workflow.getHandle(workflowId).result()) as RunResult;
          assert.equal(result.outcome, 'succeeded', result.message);
          assert.equal(keySourceOf(name), 'Microsoft.Keyvault');
          assert.match(cardText(await finalCard(messageId)), /Approved \(1 of 1\)/);
        } finally {
          await side.stop();
        }
      });
    }
  }
});
