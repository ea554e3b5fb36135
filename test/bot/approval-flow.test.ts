import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { StorageManagementClient } from '@azure/arm-storage';
import { ClientSecretCredential } from '@azure/identity';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import { createActivities, createAzureClients } from '../../src/activities';
import { createArmAccountResolver } from '../../src/bot/accounts';
import { createRunService } from '../../src/bot/run-service';
import { startBotServer, type BotServer } from '../../src/bot/server';
import { createCmkBot } from '../../src/bot/bot';
import { createChatPort } from '../../src/bot/chat-port';
import { createChatTransport } from '../../src/bot/transports';
import type { BotConfig } from '../../src/config';
import { startLocalAzure, type LocalAzure } from '../../src/local-azure';
import { workflowIdFor } from '../../src/shared/accounts';
import { statusQuery, type ApprovalPolicy } from '../../src/shared/approval';
import type { RunResult } from '../../src/shared/runbooks';
import { createCmkWorker } from '../../worker';
import { FAST_TIMING } from '../activities/harness';
import { testEnv, uniqueId, workflowBundle } from '../helpers/temporal';
import { startRecordingConnector, type RecordingConnector, type SentActivity } from './channel';
import { APPROVER, REQUESTER } from './fixtures';

const OUTSIDER = { aadObjectId: '00000000-0000-0000-0000-0000000000f1', name: 'Oscar Outsider' };
const BOT: BotConfig = {
  appId: '',
  appPassword: '',
  appType: 'SingleTenant',
  appTenantId: '',
  port: 0,
  host: '127.0.0.1',
};

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

describe('an approval from chat to Azure and back', () => {
  let azure: LocalAzure;
  let client: Client;
  let connector: RecordingConnector;
  let server: BotServer;
  let worker: Worker;
  let running: Promise<void>;
  let tenantId: string;
  let subscription: string;
  const taskQueue = uniqueId('bot-flow');

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
    connector = await startRecordingConnector();
    const { clientId, clientSecret } = azure.credentials;
    const credential = new ClientSecretCredential(tenantId, clientId, clientSecret, { agent: azure.agent });
    const policy: ApprovalPolicy = {
      approvers: { configure: [APPROVER.aadObjectId, REQUESTER.aadObjectId] },
      quorum: {},
      deadline: '1h',
      tenantId,
      alwaysApprove: ['configure'],
    };
    const chat = createChatPort(await createChatTransport(BOT), {
      delivery: { minIntervalInMs: 5, baseDelayInMs: 10 },
    });
    const activities = createActivities({
      azure: createAzureClients(
        { tenantId, subscriptionIds: azure.subscriptionIds, armEndpoint: 'https://management.azure.com' },
        {
          credential,
          agent: azure.agent,
          retry: { maxRetries: 2, retryDelayInMs: 20, maxRetryDelayInMs: 200 },
        },
      ),
      chat,
      tenantId,
      timing: FAST_TIMING,
    });
    worker = await createCmkWorker({
      connection: env.nativeConnection,
      namespace: 'default',
      taskQueue,
      activities,
      workflowBundle: await workflowBundle(),
      options: { shutdownGraceTime: '100ms' },
    });
    running = worker.run();
    server = await startBotServer({
      bot: BOT,
      handler: createCmkBot({
        runs: createRunService({ client, taskQueue, namespace: 'default', uiBaseUrl: 'http://ui.test' }),
        resolver: createArmAccountResolver({
          subscriptionIds: azure.subscriptionIds,
          storage: (s) => new StorageManagementClient(credential, s, { agent: azure.agent }),
        }),
        subscriptionIds: azure.subscriptionIds,
        policy,
        uiBaseUrl: 'http://ui.test',
      }),
      log: () => {},
    });
  });

  after(async () => {
    await server?.close();
    worker?.shutdown();
    await running;
    await connector?.close();
    await azure?.close();
  });

  const conversation = { id: `a:personal-${randomUUID().slice(0, 8)}`, conversationType: 'personal' };

  function activity(from: { aadObjectId: string; name: string }, extra: Record<string, unknown>) {
    return {
      id: randomUUID(),
      channelId: 'msteams',
      serviceUrl: connector.serviceUrl,
      from: { id: `29:${from.aadObjectId}`, ...from },
      recipient: { id: '28:cmk-runbook', name: 'cmk-runbook' },
      conversation: { ...conversation, tenantId },
      channelData: { tenant: { id: tenantId } },
      ...extra,
    };
  }

  async function post(body: object): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${server.url}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  async function click(
    who: { aadObjectId: string; name: string },
    verb: string,
    messageId: string,
    data: unknown,
    overrides: Record<string, unknown> = {},
  ): Promise<string> {
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
  }

  test('when configure is approved on the card, then the account is encrypted and the card shows the outcome', async () => {
    const name = `st${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    azure.state.addStorageAccount({ subscriptionId: subscription, resourceGroup: 'rg-storage', name });
    const workflowId = workflowIdFor({ subscriptionId: subscription, resourceGroup: 'rg-storage', name });

    assert.equal(
      (await post(activity(REQUESTER, { type: 'message', text: `configure ${name}` }))).status,
      200,
    );

    const posted = await eventually('the run card asks for approval', () =>
      connector.sent.find((s) => cardText(cardOf(s)).includes('Waiting for approval')),
    );
    const messageId =
      posted.method === 'PUT'
        ? posted.path.split('/').at(-1)!
        : `activity-${connector.sent.indexOf(posted) + 1}`;
    const card = cardOf(posted)!;
    assert.deepEqual(
      (card.refresh as { userIds: string[] }).userIds.sort(),
      [`29:${APPROVER.aadObjectId}`, `29:${REQUESTER.aadObjectId}`].sort(),
    );
    const data = (card.actions as { verb?: string; data?: unknown }[]).find(
      (a) => a.verb === 'refresh',
    )!.data;

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
      await click(APPROVER, 'approve', messageId, data, { channelData: { tenant: { id: randomUUID() } } }),
      /Not recorded: You are signed in to another organisation/,
    );

    const clickId = randomUUID();
    assert.match(await click(APPROVER, 'approve', messageId, data, { id: clickId }), /Megan Bowen approved/);
    await click(APPROVER, 'approve', messageId, data, { id: clickId });
    const status = await client.workflow.getHandle(workflowId).query(statusQuery);
    assert.equal(status.approval.decisions.length, 1);

    const result = (await client.workflow.getHandle(workflowId).result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);
    const encryption = (
      azure.state.getStorageAccount(subscription, 'rg-storage', name) as {
        properties: { encryption: { keySource: string } };
      }
    ).properties.encryption;
    assert.equal(encryption.keySource, 'Microsoft.Keyvault');

    const finalCard = await eventually('the card shows the outcome', () => {
      const edits = connector.sent.filter(
        (s) => s.method === 'PUT' && s.path.endsWith(`/activities/${messageId}`),
      );
      const last = edits.at(-1);
      return last && cardText(cardOf(last)).includes('Succeeded') ? cardOf(last) : undefined;
    });
    assert.match(cardText(finalCard), /Approved \(1 of 1\)/);
    assert.equal(finalCard.refresh, undefined);

    const before = connector.sent.length;
    assert.equal((await post(activity(REQUESTER, { type: 'message', text: `status ${name}` }))).status, 200);
    const statusCard = cardText(cardOf(connector.sent[before]));
    assert.match(statusCard, /Succeeded/);
    assert.match(statusCard, /After[\s\S]*Customer-managed \(Key Vault\)[\s\S]*cmk-key/);
    assert.equal((await post(activity(REQUESTER, { type: 'message', text: 'runs' }))).status, 200);
    const runsCard = cardText(cardOf(connector.sent[before + 1]));
    assert.match(runsCard, new RegExp(`Configure CMK · ${name}`));
    assert.ok(
      runsCard.includes(`http://ui.test/namespaces/default/workflows/${encodeURIComponent(workflowId)}/`),
    );
  });
});
