import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { StorageManagementClient } from '@azure/arm-storage';
import { ClientSecretCredential } from '@azure/identity';
import type { Client } from '@temporalio/client';
import type { Worker } from '@temporalio/worker';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser';
import { stringify } from 'yaml';
import { createActivities, createAzureClients } from '../../src/activities';
import { createArmAccountResolver } from '../../src/bot/accounts';
import { createRunService } from '../../src/bot/run-service';
import { startBotServer, type BotServer } from '../../src/bot/server';
import { createCmkBot } from '../../src/bot/bot';
import { createChatPort } from '../../src/bot/chat-port';
import { createChatTransport } from '../../src/bot/transports';
import { startLocalAzure, type LocalAzure } from '../../src/local-azure';
import { workflowIdFor } from '../../src/shared/accounts';
import { statusQuery, type ApprovalPolicy } from '../../src/shared/approval';
import type { RunResult } from '../../src/shared/runbooks';
import { createCmkWorker } from '../../worker';
import { FAST_TIMING } from '../activities/harness';
import { testEnv, uniqueId, workflowBundle, testDataConverter } from '../helpers/temporal';
import { SDKS, localBot } from '../bot/channel';
import { anyMemberMayRequest, TEST_BOT_KEY, testSigner } from '../helpers/trust';
import { playgroundServiceUrl } from '../../scripts/demo-users';
import { send } from './playground';

const ROOT = path.resolve(__dirname, '../..');
const SHOTS = path.join(ROOT, 'test-results', 'e2e');

const person = (n: number, name: string) => {
  const [givenName = '', surname = ''] = name.split(' ');
  const alias = `${givenName}${surname.charAt(0)}`.toLowerCase();
  return {
    id: `user-id-${n}`,
    name,
    userPrincipleName: `${alias}@contoso.test`,
    aadObjectId: `00000000-0000-4000-8000-0000000000${String(n).padStart(2, '0')}`,
    givenName,
    surname,
    email: `${alias}@contoso.test`,
  };
};
const MEGAN = person(1, 'Megan Bowen');
const USERS = [
  person(2, 'Lee Gu'),
  person(3, 'Adele Vance'),
  person(4, 'Isaiah Langer'),
  person(5, 'Patti Fernandez'),
  person(6, 'Lynne Robbins'),
];
const LEE = USERS[0]!;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, attempts = 600): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`never happened: ${what}`);
}

for (const sdk of SDKS) {
  describe(`end to end through the Microsoft 365 Agents Playground (${sdk})`, () => {
    let azure: LocalAzure;
    let client: Client;
    let worker: Worker;
    let running: Promise<void>;
    let server: BotServer;
    let playground: ChildProcess;
    let playgroundUrl: string;
    let serviceUrl: string;
    let browser: Browser;
    let page: Page;
    const refusals: { messageId?: string; reason?: string }[] = [];
    const taskQueue = uniqueId(`e2e-${sdk}`);
    const shot = (name: string) => path.join(SHOTS, `${sdk}-${name}`);

    before(async () => {
      mkdirSync(SHOTS, { recursive: true });
      azure = await startLocalAzure({
        throttling: false,
        roleAssignmentPropagationMs: 100,
        revocationPropagationMs: 50,
        dataDir: `.data/test/local-azure-${randomUUID().slice(0, 8)}`,
      });
      const tenantId = azure.tenantId;
      const env = await testEnv();
      client = env.client;
      const { clientId, clientSecret } = azure.credentials;
      const credential = new ClientSecretCredential(tenantId, clientId, clientSecret, { agent: azure.agent });
      const policy: ApprovalPolicy = {
        approvers: { configure: [MEGAN.aadObjectId, LEE.aadObjectId] },
        quorum: {},
        deadline: '1h',
        tenantId,
        alwaysApprove: ['configure'],
        requesters: anyMemberMayRequest(),
      };
      // The playground's port is chosen first: its connector is the one service URL bot and worker trust.
      const port = await freePort();
      serviceUrl = playgroundServiceUrl(port);
      const trustedServiceUrls = [serviceUrl];
      worker = await createCmkWorker({
        connection: env.nativeConnection,
        namespace: 'default',
        taskQueue,
        activities: createActivities({
          azure: createAzureClients(
            { tenantId, subscriptionIds: azure.subscriptionIds, armEndpoint: 'https://management.azure.com' },
            {
              credential,
              agent: azure.agent,
              retry: { maxRetries: 2, retryDelayInMs: 20, maxRetryDelayInMs: 200 },
            },
          ),
          chat: createChatPort(await createChatTransport(localBot(sdk)), {
            trustedServiceUrls,
            delivery: { minIntervalInMs: 20, baseDelayInMs: 50 },
          }),
          tenantId,
          timing: FAST_TIMING,
        }),
        trust: { policy, botKeys: [TEST_BOT_KEY], trustedServiceUrls },
        workflowBundle: await workflowBundle(),
        dataConverter: testDataConverter,
        options: { shutdownGraceTime: '100ms' },
      });
      running = worker.run();
      server = await startBotServer({
        bot: localBot(sdk, trustedServiceUrls),
        handler: createCmkBot({
          runs: createRunService({
            client,
            taskQueue,
            namespace: 'default',
            uiBaseUrl: 'http://localhost:8233',
          }),
          resolver: createArmAccountResolver({
            subscriptionIds: azure.subscriptionIds,
            storage: (s) => new StorageManagementClient(credential, s, { agent: azure.agent }),
          }),
          subscriptionIds: azure.subscriptionIds,
          policy,
          signer: testSigner,
          uiBaseUrl: 'http://localhost:8233',
          log: (_level, message, fields) => {
            if (message === 'card action refused')
              refusals.push(fields as { messageId?: string; reason?: string });
          },
        }),
        log: () => {},
      });

      const dir = mkdtempSync(path.join(tmpdir(), 'playground-'));
      writeFileSync(
        path.join(dir, '.m365agentsplayground.yml'),
        stringify({
          version: '0.1.1',
          tenantId,
          bot: { id: '00000000-0000-4000-8000-0000000000b0', name: 'cmk-runbook' },
          currentUser: MEGAN,
          users: USERS,
          personalChat: { id: 'personal-chat-id' },
          groupChat: { id: 'group-chat-id', name: 'Storage owners' },
          team: {
            id: 'team-id',
            name: 'Platform',
            aadGroupId: '00000000-0000-4000-8000-0000000000c1',
            channels: [{ id: 'channel-keys-id', name: 'Keys' }],
          },
        }),
      );
      playgroundUrl = `http://127.0.0.1:${port}`;
      playground = spawn(
        process.execPath,
        [
          require.resolve('@microsoft/m365agentsplayground/cli.js'),
          'start',
          '-e',
          `${server.url}/api/messages`,
          '-p',
          String(port),
          '--disable-telemetry',
        ],
        {
          cwd: dir,
          env: {
            ...process.env,
            TEAMSAPPTESTER_BROWSER: 'none',
            M365_AGENTS_PLAYGROUND_LOGFILE: path.join(dir, 'playground.log'),
          },
          stdio: 'ignore',
        },
      );
      await until('the playground is up', async () =>
        (await fetch(`${playgroundUrl}/`)).ok ? true : undefined,
      );
      browser = await launchChromium();
      page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
      await page.goto(playgroundUrl);
    });

    after(async () => {
      await browser?.close();
      playground?.kill();
      await server?.close();
      worker?.shutdown();
      await running;
      await azure?.close();
    });

    test('when configure is typed in a group chat with an @mention, then the card asks for approval, the requester is refused, a second member approves and the card shows the outcome', async () => {
      const name = `st${randomUUID().replace(/-/g, '').slice(0, 12)}`;
      const subscription = azure.subscriptionIds[0]!;
      azure.state.addStorageAccount({ subscriptionId: subscription, resourceGroup: 'rg-storage', name });
      const workflowId = workflowIdFor({ subscriptionId: subscription, resourceGroup: 'rg-storage', name });

      await page.getByText('Storage owners').first().click();
      await page.locator('[data-lexical-editor="true"][role="textbox"]').click();
      await page.keyboard.type('@cmk');
      await page.getByText('cmk-runbook', { exact: true }).last().click();
      await page.keyboard.type(` configure ${name}`);
      await page.keyboard.press('Enter');
      await page.getByText('Waiting for approval').first().waitFor({ timeout: 60_000 });
      await page.screenshot({ path: shot('1-approval-card.png') });

      await page.getByRole('button', { name: 'Refresh', exact: true }).last().click();
      await page.getByRole('button', { name: 'Approve', exact: true }).last().click();
      await page
        .getByText('You requested this run; someone else must approve it.')
        .first()
        .waitFor({ timeout: 30_000 });
      await page.screenshot({ path: shot('2-own-request-refused.png') });

      const status = await client.workflow.getHandle(workflowId).query(statusQuery);
      const response = await fetch(`${playgroundUrl}/_conversation/v1/invoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'adaptiveCard/action',
          from: { id: LEE.id },
          conversation: { id: 'group-chat-id' },
          replyToId: refusals.at(-1)?.messageId,
          value: {
            action: {
              type: 'Action.Execute',
              verb: 'approve',
              data: { workflowId, runId: status.runId, fingerprint: status.plan?.fingerprint },
            },
          },
        }),
      });
      assert.ok(
        response.ok,
        `the playground refused Lee's click: ${response.status} ${await response.text()}`,
      );

      const result = (await client.workflow.getHandle(workflowId).result()) as RunResult;
      assert.equal(result.outcome, 'succeeded', result.message);
      const account = azure.state.getStorageAccount(subscription, 'rg-storage', name) as {
        properties: { encryption: { keySource: string } };
      };
      assert.equal(account.properties.encryption.keySource, 'Microsoft.Keyvault');
      await page.getByText('Succeeded').first().waitFor({ timeout: 30_000 });
      await page.getByText(`${LEE.name} approved`).first().waitFor({ timeout: 10_000 });
      await page.screenshot({ path: shot('3-outcome.png') });
    });

    test('when an error card names a placeholder such as <account>, in the problem and in the right form, then the card shows it as written, not as markup', async () => {
      await page.getByText('Personal Chat', { exact: true }).first().click();
      await page.locator('[data-lexical-editor="true"][role="textbox"]').click();
      await page.keyboard.type('rotate StContoso');
      await page.keyboard.press('Enter');
      await page
        .getByText('<account>: a storage account name is 3–24 lowercase letters and digits (got "StContoso")')
        .last()
        .waitFor({ timeout: 30_000 });
      await page.getByText('rotate <account>', { exact: true }).last().waitFor({ timeout: 10_000 });
      await page.screenshot({ path: shot('4-placeholder-visible.png') });
    });
    /** A new storage account in the local Azure, with the id of the run it would get. */
    function newAccount(): { name: string; subscription: string; workflowId: string } {
      const name = `st${randomUUID().replace(/-/g, '').slice(0, 12)}`;
      const subscription = azure.subscriptionIds[0]!;
      azure.state.addStorageAccount({ subscriptionId: subscription, resourceGroup: 'rg-storage', name });
      return {
        name,
        subscription,
        workflowId: workflowIdFor({ subscriptionId: subscription, resourceGroup: 'rg-storage', name }),
      };
    }

    function keySourceOf(account: { name: string; subscription: string }): string {
      const found = azure.state.getStorageAccount(account.subscription, 'rg-storage', account.name) as {
        properties: { encryption: { keySource: string } };
      };
      return found.properties.encryption.keySource;
    }

    test('when Megan asks for configure in her chat and then types cancel, then the card follows the run to Cancelled by her, Azure is untouched and the account is free for the next run', async () => {
      const account = newAccount();
      await page.getByText('Personal Chat', { exact: true }).first().click();
      await send(page, `configure ${account.name}`);
      await page.getByText('Waiting for approval').last().waitFor({ timeout: 60_000 });

      await send(page, `cancel ${account.name}`);
      const cancelled = (await client.workflow.getHandle(account.workflowId).result()) as RunResult;
      assert.equal(cancelled.outcome, 'cancelled', cancelled.message);
      assert.match(cancelled.message, new RegExp(`Cancelled by ${MEGAN.name} before any change`));
      // The request's own card is edited by the run to its end; the answer to cancel says so too.
      await page
        .getByText(`Cancelled by ${MEGAN.name} before any change`)
        .last()
        .waitFor({ timeout: 30_000 });
      await page.getByText('Ending: cancelled').last().waitFor({ timeout: 10_000 });
      assert.equal(await page.getByText('Waiting for approval').count(), 0, 'no card still waits');
      assert.equal(keySourceOf(account), 'Microsoft.Storage', 'nothing changed in Azure');
      await page.screenshot({ path: shot('5-cancelled.png') });

      // The lock is released: the same account takes a new request at once.
      await send(page, `configure ${account.name}`);
      await page.getByText('Waiting for approval').last().waitFor({ timeout: 60_000 });
      await client.workflow.getHandle(account.workflowId).terminate('test done');
    });

    test('when a colleague asks in the group chat and Megan, an approver, rejects from the card without pressing Refresh, then the card follows the run to Rejected', async () => {
      const account = newAccount();
      await page.getByText('Storage owners').first().click();
      const rejectButtons = page.getByRole('button', { name: 'Reject', exact: true });
      const before = await rejectButtons.count();
      // Lee types the command in the group chat: the activity Teams would send for him.
      const mention = '<at>cmk-runbook</at>';
      const asked = await fetch(`${server.url}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          type: 'message',
          id: randomUUID(),
          timestamp: new Date().toISOString(),
          channelId: 'msteams',
          serviceUrl,
          from: { id: LEE.id, name: LEE.name, aadObjectId: LEE.aadObjectId },
          conversation: {
            id: 'group-chat-id',
            conversationType: 'groupChat',
            isGroup: true,
            tenantId: azure.tenantId,
          },
          recipient: { id: '00000000-0000-4000-8000-0000000000b0', name: 'cmk-runbook' },
          text: `${mention} configure ${account.name}`,
          textFormat: 'plain',
          entities: [
            {
              type: 'mention',
              text: mention,
              mentioned: { id: '00000000-0000-4000-8000-0000000000b0', name: 'cmk-runbook' },
            },
          ],
          channelData: { tenant: { id: azure.tenantId } },
        }),
      });
      assert.ok(asked.ok, `the bot refused Lee's command: ${asked.status}`);

      // The Playground cannot look members up, so the card everyone sees carries the buttons.
      await until('the approval card shows Megan a Reject button', async () =>
        (await rejectButtons.count()) > before ? true : undefined,
      );
      await page.screenshot({ path: shot('6-approver-buttons.png') });
      await rejectButtons.last().click();

      const result = (await client.workflow.getHandle(account.workflowId).result()) as RunResult;
      assert.equal(result.outcome, 'rejected', result.message);
      await page.getByText(`${MEGAN.name} rejected`).last().waitFor({ timeout: 30_000 });
      await page.getByText('🚫 Rejected').last().waitFor({ timeout: 30_000 });
      assert.equal(await rejectButtons.count(), before, 'the decided card has no buttons left');
      assert.equal(keySourceOf(account), 'Microsoft.Storage', 'nothing changed in Azure');
      await page.screenshot({ path: shot('7-rejected.png') });
    });
  });
}
