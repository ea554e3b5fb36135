import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { createArmAccountResolver } from '../../src/bot/accounts';
import { startBotServer } from '../../src/bot/server';
import { NO_ACCOUNTS, botServerOptions, registeredBot, startBot, type BotServer } from '../kit';
import { workflowIdFor } from '../../src/shared/accounts';
import type { RotateKeyInput } from '../../src/shared/runbooks';
import { terminateAll, testEnv, uniqueId } from '../helpers/temporal';
import { testPublicKey } from '../helpers/trust';
import { compactVerify } from 'jose';
import {
  ISSUER,
  SDKS,
  localBot,
  offlineAuth,
  startRecordingConnector,
  startTokenAuthority,
  type RecordingConnector,
  type TokenAuthority,
} from './channel';
import { chatPolicy } from './chat-stack';
import { APPROVER, REQUESTER, SUBSCRIPTION, TENANT } from './fixtures';
import { openPayload } from '../helpers/codec';

const policy = chatPolicy({ approvers: { rotate: [APPROVER.aadObjectId] }, alwaysApprove: [] });

for (const sdk of SDKS) {
  describe(`the bot endpoint with Bot Framework authentication on (${sdk})`, () => {
    const appId = randomUUID();
    const taskQueue = uniqueId('bot-http');
    let client: Client;
    let authority: TokenAuthority;
    let connector: RecordingConnector;
    let server: BotServer;
    const started: string[] = [];

    before(async () => {
      client = (await testEnv()).client;
      authority = await startTokenAuthority();
      connector = await startRecordingConnector();
      server = await startBot({
        bot: registeredBot(sdk, appId, [connector.serviceUrl]),
        client,
        taskQueue,
        policy,
        uiBaseUrl: 'http://localhost:8233',
        transportOptions: offlineAuth(appId, authority),
        deps: {
          resolver: createArmAccountResolver({
            subscriptionIds: [SUBSCRIPTION],
            storage: () => {
              throw new Error('this suite names accounts by resource id only');
            },
          }),
          subscriptionIds: [SUBSCRIPTION],
        },
      });
    });

    after(async () => {
      await terminateAll(client, started);
      await server?.close();
      await connector?.close();
      await authority?.close();
    });

    function command(account: string) {
      return {
        type: 'message',
        id: randomUUID(),
        channelId: 'msteams',
        serviceUrl: connector.serviceUrl,
        text: `rotate /subscriptions/${SUBSCRIPTION}/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts/${account}`,
        from: { id: '29:adele', aadObjectId: REQUESTER.aadObjectId, name: REQUESTER.name },
        recipient: { id: `28:${appId}`, name: 'cmk-runbook' },
        conversation: { id: `a:personal-${account}`, conversationType: 'personal', tenantId: TENANT },
        channelData: { tenant: { id: TENANT } },
      };
    }

    function claims(overrides: Record<string, unknown> = {}) {
      const now = Math.floor(Date.now() / 1000);
      return {
        iss: ISSUER,
        aud: appId,
        serviceurl: connector.serviceUrl,
        nbf: now - 60,
        exp: now + 600,
        ...overrides,
      };
    }

    async function post(body: object, token?: string): Promise<number> {
      const response = await fetch(`${server.url}/api/messages`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
        body: JSON.stringify(body),
      });
      await response.text();
      return response.status;
    }

    const ref = (name: string) => ({ subscriptionId: SUBSCRIPTION, resourceGroup: 'rg-storage', name });

    test('when Teams sends a correctly signed command, then the run starts with the requester and conversation, signed by the bot, and no policy', async () => {
      const account = `st${randomUUID().slice(0, 8)}`;
      assert.equal(await post(command(account), authority.sign(claims())), 200);
      const workflowId = workflowIdFor(ref(account));
      started.push(workflowId);
      const handle = client.workflow.getHandle(workflowId);
      const description = await handle.describe();
      assert.equal(description.type, 'rotateKey');
      assert.equal(description.taskQueue, taskQueue);
      const history = await handle.fetchHistory();
      const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      const input = await openPayload<RotateKeyInput>(payload!);
      assert.deepEqual(input.account, ref(account));
      assert.deepEqual(input.requester, REQUESTER);
      assert.equal(input.policy, undefined, "the policy is the worker's, never run input");
      const signed = await compactVerify(input.startProof!, testPublicKey());
      const start = JSON.parse(new TextDecoder().decode(signed.payload)) as Record<string, unknown>;
      assert.equal(start.op, 'rotate');
      assert.equal(start.sub, REQUESTER.aadObjectId);
      assert.deepEqual(start.conv, input.conversation);
      assert.equal((input.conversation?.conversation as { id: string }).id, `a:personal-${account}`);
      const reply = connector.sent.find((s) => s.conversationId === `a:personal-${account}`);
      assert.match(String(reply?.body.text), new RegExp(`Started \\*\\*Rotate key · ${account}\\*\\*`));
      assert.equal(reply?.authorization, 'Bearer stub-outbound');
    });

    const refused: [string, (account: string) => string | undefined][] = [
      ['no token', () => undefined],
      ['a forged signature', () => authority.sign(claims(), { key: 'other' })],
      ['a key the channel never published', () => authority.sign(claims(), { kid: randomUUID() })],
      ['an HS256 token', () => authority.sign(claims(), { algorithm: 'HS256' })],
      [
        'an expired token',
        () => authority.sign(claims({ nbf: 1, exp: Math.floor(Date.now() / 1000) - 600 })),
      ],
      ['a token for another bot', () => authority.sign(claims({ aud: randomUUID() }))],
      ['a token from another issuer', () => authority.sign(claims({ iss: 'https://issuer.invalid' }))],
      [
        'a token for another service URL',
        () => authority.sign(claims({ serviceurl: 'https://smba.invalid/' })),
      ],
    ];
    for (const [name, token] of refused) {
      test(`when a request carries ${name}, then it gets 401 and no run starts`, async () => {
        const account = `st${randomUUID().slice(0, 8)}`;
        const sentBefore = connector.sent.length;
        assert.equal(await post(command(account), token(account)), 401);
        await assert.rejects(client.workflow.getHandle(workflowIdFor(ref(account))).describe(), {
          name: 'WorkflowNotFoundError',
        });
        assert.equal(connector.sent.length, sentBefore);
      });
    }

    test('when the health endpoint is asked, then it answers without a token and says auth is on', async () => {
      const response = await fetch(`${server.url}/healthz`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { status: 'ok', auth: true });
    });
  });

  describe(`the bot endpoint without credentials (${sdk})`, () => {
    const local = async (host: string) =>
      botServerOptions({
        bot: { ...localBot(sdk), host },
        client: (await testEnv()).client,
        taskQueue: uniqueId('bot-local'),
        policy,
        uiBaseUrl: 'http://localhost:8233',
        deps: NO_ACCOUNTS,
      });

    test('when no app id is configured, then it listens on loopback only and logs that auth is off', async () => {
      const lines: string[] = [];
      const server = await startBotServer({
        ...(await local('127.0.0.1')),
        log: (_level, message) => lines.push(message),
      });
      try {
        assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
        assert.ok(lines.some((l) => /authentication is OFF/.test(l) && /127\.0\.0\.1 only/.test(l)));
        const response = await fetch(`${server.url}/healthz`);
        assert.deepEqual(await response.json(), { status: 'ok', auth: false });
      } finally {
        await server.close();
      }
    });

    test('when no app id is configured and the host is not loopback, then the bot does not start and says why', async () => {
      await assert.rejects(startBotServer({ ...(await local('0.0.0.0')), log: () => {} }), (error: Error) => {
        assert.match(error.message, /CMK_BOT_HOST: without MicrosoftAppId the bot is unauthenticated/);
        assert.match(error.message, /loopback only/);
        return true;
      });
    });
  });
}
