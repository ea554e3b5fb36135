import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { COMMAND_FORMS } from '../../src/bot/commands';
import type { LocalAzure } from '../../src/local-azure';
import { localAzure, ownDataDir, startBot, type BotServer } from '../kit';
import { workflowIdFor } from '../../src/shared/accounts';
import type { ConfigureCmkInput } from '../../src/shared/runbooks';
import { TypedSearchAttributes } from '@temporalio/common';
import { SA } from '../../src/shared/runbooks';
import { scheduleIdFor } from '../../src/shared/start';
import { terminateAll, testEnv, uniqueId } from '../helpers/temporal';

import { SDKS, asRead, localBot, startRecordingConnector, type RecordingConnector } from './channel';
import { chatPolicy } from './chat-stack';
import { APPROVER, REQUESTER, TENANT } from './fixtures';
import { openPayload } from '../helpers/codec';

const policy = chatPolicy({ approvers: { configure: [APPROVER.aadObjectId] }, alwaysApprove: [] });

for (const sdk of SDKS) {
  describe(`the Teams bot answering commands (${sdk})`, () => {
    let azure: LocalAzure;
    let client: Client;
    let subscription: string;
    const taskQueue = uniqueId(`bot-commands-${sdk}`);
    const workflows: string[] = [];
    let connector: RecordingConnector;
    let server: BotServer;

    before(async () => {
      const kit = await localAzure({ throttling: false, dataDir: ownDataDir() });
      azure = kit.local;
      client = (await testEnv()).client;
      subscription = azure.subscriptionIds[0]!;
      connector = await startRecordingConnector();
      server = await startBot({
        bot: localBot(sdk, [connector.serviceUrl]),
        client,
        taskQueue,
        azure: kit,
        policy,
      });
    });

    after(async () => {
      await terminateAll(client, workflows);
      await server?.close();
      await connector?.close();
      await azure?.close();
    });

    /** Sends one message over HTTP and returns what the bot answered: its text and the card's visible strings. */
    async function say(
      text: string,
      extra: Record<string, unknown> = {},
    ): Promise<{ text: string; card?: Record<string, unknown> }> {
      const before = connector.sent.length;
      const response = await fetch(`${server.url}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          type: 'message',
          id: randomUUID(),
          text,
          channelId: 'msteams',
          serviceUrl: connector.serviceUrl,
          conversation: { id: 'a:personal-chat', conversationType: 'personal', tenantId: TENANT },
          from: { id: '29:adele', aadObjectId: REQUESTER.aadObjectId, name: REQUESTER.name },
          recipient: { id: '28:cmk-runbook', name: 'cmk-runbook' },
          channelData: { tenant: { id: TENANT } },
          ...extra,
        }),
      });
      assert.equal(response.status, 200);
      const replies = connector.sent.slice(before);
      assert.equal(replies.length, 1, `one reply to "${text}"`);
      const reply = replies[0]!.body as {
        text?: string;
        attachments?: { content: Record<string, unknown> }[];
      };
      assert.equal(replies[0]!.conversationId, 'a:personal-chat');
      const card = reply.attachments?.[0]?.content;
      return { text: reply.text ?? strings(card).join('\n'), ...(card ? { card } : {}) };
    }

    function strings(value: unknown): string[] {
      if (typeof value === 'string') return [asRead(value)];
      if (Array.isArray(value)) return value.flatMap(strings);
      if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
      return [];
    }

    function addAccount(
      name = `st${randomUUID().slice(0, 10).replace(/-/g, '')}`,
      resourceGroup = 'rg-storage',
    ): string {
      azure.state.addStorageAccount({ subscriptionId: subscription, resourceGroup, name });
      return name;
    }

    async function startedInput(workflowId: string): Promise<ConfigureCmkInput> {
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      const payload = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
      return openPayload<ConfigureCmkInput>(payload!);
    }

    test('when someone types help, then the card lists every command with its form', async () => {
      const { text } = await say('help');
      for (const { usage } of COMMAND_FORMS) assert.ok(text.includes(usage), usage);
      for (const form of [
        'update-version <account>',
        'restore-access <account>',
        'set-rotation-policy <vault>/<key>',
        'plan <operation> <account>',
        'rotate-fleet [--tag <name>=<value>]',
        'pending',
      ])
        assert.ok(text.includes(form), form);
    });

    test('when a command is malformed, then the card names the exact problem and shows the right form', async () => {
      const { text } = await say('configure stcontoso --key-size 1024');
      assert.match(text, /I could not read that command/);
      assert.match(text, /--key-size: must be one of 2048, 3072, 4096 bits \(got 1024\)/);
      assert.match(text, /configure <account> \[--vault <name> \[--vault-subscription <id>\]/);
    });

    test('when configure names an account, then its run starts for the resolved account with the defaults', async () => {
      const name = addAccount();
      const { text } = await say(`configure ${name} --hsm`);
      assert.match(
        text,
        new RegExp(`Started \\*\\*Configure CMK · ${name} · kv-${name}/cmk-key \\(versionless\\)\\*\\*`),
      );
      const workflowId = workflowIdFor({ subscriptionId: subscription, resourceGroup: 'rg-storage', name });
      workflows.push(workflowId);
      assert.ok(
        text.includes(`http://ui.test/namespaces/default/workflows/${encodeURIComponent(workflowId)}/`),
      );
      const description = await client.workflow.getHandle(workflowId).describe();
      assert.equal(description.type, 'configureCmk');
      const input = await startedInput(workflowId);
      assert.deepEqual(input.vault, { name: `kv-${name}`.slice(0, 24) });
      assert.deepEqual(input.key, { name: 'cmk-key', type: 'RSA-HSM', size: 2048, mustMatch: true });
      assert.deepEqual(input.identity, { type: 'SystemAssigned' });
      assert.deepEqual(input.requester, REQUESTER);
      assert.equal(input.uiBaseUrl, 'http://ui.test');
      assert.equal((input.conversation?.conversation as { id: string }).id, 'a:personal-chat');
    });

    test('when another run holds the account, then the answer links to that run and nothing new starts', async () => {
      const name = addAccount();
      await say(`rotate ${name}`);
      const workflowId = workflowIdFor({ subscriptionId: subscription, resourceGroup: 'rg-storage', name });
      workflows.push(workflowId);
      const first = await client.workflow.getHandle(workflowId).describe();
      const { text, card } = await say(`disable ${name}`);
      assert.match(text, /The account is busy/);
      const link = (card?.actions as { url: string }[])[0]!.url;
      assert.equal(
        link,
        `http://ui.test/namespaces/default/workflows/${encodeURIComponent(workflowId)}/${first.runId}/history`,
      );
      assert.equal((await client.workflow.getHandle(workflowId).describe()).type, 'rotateKey');
    });

    test('when a name matches accounts in two resource groups, then both resource ids are offered', async () => {
      const name = addAccount();
      addAccount(name, 'rg-other');
      const { text } = await say(`revoke ${name}`);
      assert.match(text, new RegExp(`"${name}" names 2 storage accounts`));
      assert.ok(
        text.includes(`/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts/${name}`),
      );
      assert.ok(
        text.includes(`/resourceGroups/rg-other/providers/Microsoft.Storage/storageAccounts/${name}`),
      );
    });

    test('when no account has the name, then the answer says where it looked', async () => {
      const { text } = await say('rotate stnosuchaccount');
      assert.match(text, /No storage account named "stnosuchaccount" in the configured subscriptions/);
    });

    test('when a missing account is given by its resource id, then it is refused as a missing name is, and no run starts', async () => {
      const id = `/subscriptions/${subscription}/resourceGroups/rg-storage/providers/Microsoft.Storage/storageAccounts/stnosuchbyid`;
      const { text } = await say(`rotate ${id}`);
      assert.match(text, /No storage account stnosuchbyid in resource group rg-storage of subscription/);
      const workflowId = workflowIdFor({
        subscriptionId: subscription,
        resourceGroup: 'rg-storage',
        name: 'stnosuchbyid',
      });
      await assert.rejects(client.workflow.getHandle(workflowId).describe(), /not found/i);
    });

    test('when the bot is @mentioned in a channel, then the mention is not part of the command', async () => {
      const name = addAccount();
      const { text } = await say(`<at>cmk-runbook</at> rotate ${name}`, {
        entities: [
          {
            type: 'mention',
            text: '<at>cmk-runbook</at>',
            mentioned: { id: '28:cmk-runbook', name: 'cmk-runbook' },
          },
        ],
      });
      assert.match(text, new RegExp(`Started \\*\\*Rotate key · ${name}\\*\\*`));
      const workflowId = workflowIdFor({ subscriptionId: subscription, resourceGroup: 'rg-storage', name });
      workflows.push(workflowId);
      assert.equal((await client.workflow.getHandle(workflowId).describe()).type, 'rotateKey');
    });

    test('when rotation is scheduled and unscheduled, then the Temporal schedule follows', async () => {
      const name = addAccount();
      const account = { subscriptionId: subscription, resourceGroup: 'rg-storage', name };
      const { text } = await say(`schedule-rotation ${name} --every 30d`);
      assert.match(text, new RegExp(`${name} will be rotated every 30d`));
      const handle = client.schedule.getHandle(scheduleIdFor(account));
      const schedule = await handle.describe();
      assert.deepEqual(
        schedule.spec.intervals?.map((i) => i.every),
        [30 * 86_400_000],
      );
      assert.equal(schedule.action.type, 'startWorkflow');
      assert.equal(
        schedule.action.type === 'startWorkflow' ? schedule.action.workflowType : '',
        'scheduledRotation',
      );
      const attributes =
        schedule.action.type === 'startWorkflow' ? schedule.action.typedSearchAttributes : undefined;
      assert.ok(
        attributes instanceof TypedSearchAttributes,
        'the scheduled action carries search attributes',
      );
      assert.equal(
        attributes.get(SA.operation),
        'rotate',
        'scheduled runs are searchable by operation like chat-started ones',
      );
      assert.match((await say(`unschedule-rotation ${name}`)).text, /Automatic rotation of .* is stopped/);
      await assert.rejects(handle.describe(), { name: 'ScheduleNotFoundError' });
      assert.match(
        (await say(`unschedule-rotation ${name}`)).text,
        /had no rotation schedule; nothing changed/,
      );
    });
  });
}
