/**
 * The Playground end-to-end stack: the local Azure, the production worker factory with the real
 * activities, the bot endpoint on one SDK, the Microsoft 365 Agents Playground pointed at it (its
 * connector the one service URL bot and worker trust), and headless Chromium on its chat.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { Browser, Page } from 'playwright-core';
import { stringify } from 'yaml';
import { playgroundServiceUrl } from '../../scripts/demo-users';
import type { BotSdk } from '../../src/config';
import type { LocalAzure } from '../../src/local-azure';
import type { ApprovalPolicy } from '../../src/shared/approval';
import { FAST_TIMING } from '../activities/harness';
import { launchChromium } from '../helpers/browser';
import { testEnv, uniqueId } from '../helpers/temporal';
import { TEST_BOT_KEY } from '../helpers/trust';
import { chatPortFor, localAzure, localBot, quickAzure, startBot, startWorker } from '../kit';

/** Where screenshots go (git-ignored test artifacts). */
export const SHOTS = path.resolve(__dirname, '../../test-results/e2e');

/** A Playground user: its id there, and the Entra object id it sends. */
export interface PlaygroundUser {
  id: string;
  name: string;
  userPrincipleName: string;
  aadObjectId: string;
  givenName: string;
  surname: string;
  email: string;
}

/** The n-th demo person of the Playground's configuration. */
export function person(n: number, name: string): PlaygroundUser {
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
}

/** The person the Playground's UI acts as. */
export const MEGAN = person(1, 'Megan Bowen');
/** The other five members of its chats. */
export const USERS = [
  person(2, 'Lee Gu'),
  person(3, 'Adele Vance'),
  person(4, 'Isaiah Langer'),
  person(5, 'Patti Fernandez'),
  person(6, 'Lynne Robbins'),
];
export const LEE = USERS[0]!;

/** A running Playground stack. */
export interface PlaygroundStack {
  azure: LocalAzure;
  client: Client;
  url: string;
  /** The bot's own endpoint, and the service URL the Playground's activities carry. */
  botUrl: string;
  serviceUrl: string;
  page: Page;
  /** The bot's log of refused clicks (message id and reason), in order. */
  refusals: { messageId?: string; reason?: string }[];
  /**
   * Types `text` into a chat and sends it, as a person would; in a group chat or channel it starts
   * with an @mention of the bot picked from the typeahead menu (the bot hears nothing else there).
   */
  say(chat: 'Personal Chat' | 'Storage owners', text: string): Promise<void>;
  /** A screenshot path for this SDK's run. */
  shot(name: string): string;
  /** Clicks a card button as another member, through the Playground's own invoke API. */
  invokeAs(
    user: PlaygroundUser,
    conversationId: string,
    replyToId: string | undefined,
    verb: string,
    data: unknown,
  ): Promise<Response>;
  close(): Promise<void>;
}

/** Polls until `probe` gives a value (errors count as not yet). */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  attempts = 600,
): Promise<T> {
  for (let i = 0; i < attempts; i++) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`never happened: ${what}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts everything on `sdk` with `policy(tenantId)`; close it after the suite. */
export async function startPlaygroundStack(
  sdk: BotSdk,
  policy: (tenantId: string) => ApprovalPolicy,
): Promise<PlaygroundStack> {
  mkdirSync(SHOTS, { recursive: true });
  const kit = await localAzure(quickAzure());
  const azure = kit.local;
  const tenantId = azure.tenantId;
  const env = await testEnv();
  const trust = policy(tenantId);
  const port = await freePort();
  const trustedServiceUrls = [playgroundServiceUrl(port)];
  const taskQueue = uniqueId(`e2e-${sdk}`);
  const worker = await startWorker({
    connection: env.nativeConnection,
    taskQueue,
    activities: kit.activities({
      chat: await chatPortFor(localBot(sdk), {
        trustedServiceUrls,
        delivery: { minIntervalInMs: 20, baseDelayInMs: 50 },
      }),
      timing: FAST_TIMING,
    }),
    trust: { policy: trust, botKeys: [TEST_BOT_KEY], trustedServiceUrls },
  });
  const refusals: PlaygroundStack['refusals'] = [];
  const server = await startBot({
    bot: localBot(sdk, trustedServiceUrls),
    client: env.client,
    taskQueue,
    azure: kit,
    policy: trust,
    uiBaseUrl: 'http://localhost:8233',
    log: (_level, message, fields) => {
      if (message === 'card action refused') refusals.push(fields as { messageId?: string; reason?: string });
    },
  });
  const playground = startPlayground(port, server.url, tenantId);
  const url = `http://127.0.0.1:${port}`;
  await until('the playground is up', async () => ((await fetch(`${url}/`)).ok ? true : undefined));
  const browser: Browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await page.goto(url);
  return {
    azure,
    client: env.client,
    url,
    botUrl: server.url,
    serviceUrl: playgroundServiceUrl(port),
    page,
    refusals,
    async say(chat, text) {
      await page.getByText(chat, { exact: true }).first().click();
      await page.locator('[data-lexical-editor="true"][role="textbox"]').click();
      if (chat !== 'Personal Chat') {
        await page.keyboard.type('@cmk');
        // The menu's item, not an earlier message's author line of the same name.
        await page
          .locator('#typeahead-menu')
          .getByRole('menuitem', { name: /cmk-runbook/ })
          .click();
        await page.keyboard.type(' ');
      }
      await page.keyboard.type(text);
      await page.keyboard.press('Enter');
    },
    shot: (name) => path.join(SHOTS, `${sdk}-${name}`),
    invokeAs: (user, conversationId, replyToId, verb, data) =>
      fetch(`${url}/_conversation/v1/invoke`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'adaptiveCard/action',
          from: { id: user.id },
          conversation: { id: conversationId },
          replyToId,
          value: { action: { type: 'Action.Execute', verb, data } },
        }),
      }),
    async close() {
      await browser.close();
      playground.kill();
      await server.close();
      await worker.close();
      await azure.close();
    },
  };
}

/** The Playground on `port`, configured with the demo people and chats, sending to the bot at `botUrl`. */
function startPlayground(port: number, botUrl: string, tenantId: string): ChildProcess {
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
  return spawn(
    process.execPath,
    [
      require.resolve('@microsoft/m365agentsplayground/cli.js'),
      'start',
      '-e',
      `${botUrl}/api/messages`,
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
}
