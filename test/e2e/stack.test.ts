import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Connection, WorkflowClient } from '@temporalio/client';
import type { Browser } from 'playwright-core';
import { DEMO_USERS } from '../../scripts/demo-users';
import { freePort } from '../../scripts/temporal-dev-server';
import type { BotSdk } from '../../src/config';
import { accountId, workflowIdFor } from '../../src/shared/accounts';
import { launchChromium } from '../helpers/browser';
import { temporalCli } from '../helpers/temporal-cli';
import { openChat, screenshot, send, waitForText } from './playground';

const ROOT = path.resolve(__dirname, '../..');
const STCONTOSO = {
  subscriptionId: '3f1c9a2e-7b64-4d0e-a5c8-0000000000a1',
  resourceGroup: 'rg-storage',
  name: 'stcontoso',
};

interface Ports {
  temporal: number;
  ui: number;
  azure: number;
  bot: number;
  playground: number;
  codec: number;
  workerMetrics: number;
  botMetrics: number;
}

/** Runs `npm start`'s entry point as a person would, on free ports and a data folder of its own. */
async function startStack(
  dataDir: string,
  ports: Ports,
  sdk: BotSdk,
): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      CMK_DATA_DIR: dataDir,
      CMK_START_TEMPORAL_PORT: String(ports.temporal),
      CMK_START_UI_PORT: String(ports.ui),
      LOCAL_AZURE_PORT: String(ports.azure),
      CMK_BOT_PORT: String(ports.bot),
      CMK_START_PLAYGROUND_PORT: String(ports.playground),
      CMK_START_CODEC_PORT: String(ports.codec),
      CMK_START_WORKER_METRICS_PORT: String(ports.workerMetrics),
      CMK_START_BOT_METRICS_PORT: String(ports.botMetrics),
      LOCAL_AZURE_ROLE_PROPAGATION_MS: '1000',
      CMK_BOT_SDK: sdk,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so a stop can reach every process as Ctrl-C in a terminal does.
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 180_000;
  while (!output.includes('cmk-runbook is running')) {
    if (child.exitCode !== null)
      throw new Error(`npm start exited with ${child.exitCode}:\n${output.slice(-3000)}`);
    if (Date.now() > deadline)
      throw new Error(`npm start was not ready within 180 s:\n${output.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return { child, output: () => output };
}

/** Ctrl-C in the terminal: SIGINT to every process of the group; `npm start` must exit 0, once. */
async function stopStack(stack: { child: ChildProcess; output: () => string }): Promise<void> {
  const { child } = stack;
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  process.kill(-child.pid!, 'SIGINT');
  const [code] = (await exited) as [number | null];
  assert.equal(code, 0, `npm start exits 0 on Ctrl-C:\n${stack.output().slice(-3000)}`);
  assert.doesNotMatch(stack.output(), /IllegalStateError|ERR_SERVER_NOT_RUNNING/);
  assert.equal(stack.output().match(/stopping…/g)?.length, 1, 'one stop');
}

/** The key source of an account, as the local Azure's admin API reports its state. */
async function keySourceOf(port: number, ref: typeof STCONTOSO): Promise<string | undefined> {
  const response = await fetch(`http://127.0.0.1:${port}/admin/state`);
  assert.equal(response.status, 200);
  const state = (await response.json()) as {
    storageAccounts: Record<string, { encryption?: { keySource?: string } }>;
  };
  return state.storageAccounts[accountId(ref).toLowerCase()]?.encryption?.keySource;
}

/** The run's history as `temporal workflow show --output json` prints it, without a codec. */
async function rawHistory(port: number, workflowId: string): Promise<string> {
  const address = `127.0.0.1:${port}`;
  const args = ['workflow', 'show', '--workflow-id', workflowId, '--address', address, '--output', 'json'];
  const { status, stdout, output } = await temporalCli(args);
  assert.equal(status, 0, output);
  return stdout;
}

async function assertEventually(check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) assert.fail(`not true within ${timeoutMs / 1000}s`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('npm start: the local stack, end to end', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'cmk-stack-'));
  let ports: Ports;
  let browser: Browser;

  before(async () => {
    ports = {
      temporal: await freePort(),
      ui: await freePort(),
      azure: await freePort(),
      bot: await freePort(),
      playground: await freePort(),
      codec: await freePort(),
      workerMetrics: await freePort(),
      botMetrics: await freePort(),
    };
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test('when a user types configure in the playground, then the run completes, shows in the Temporal UI, and survives a restart of the stack that moves the bot from botbuilder to the Agents SDK', async () => {
    const first = await startStack(dataDir, ports, 'botbuilder');
    const keyFile = path.join(dataDir, 'keys', 'bot-signing-key.pem');
    assert.match(first.output(), /created the bot's signing key/, 'the first start makes a signing key');
    const key = readFileSync(keyFile, 'utf8');
    assert.equal(statSync(keyFile).mode & 0o077, 0, 'only its owner may read it');
    const codecFile = path.join(dataDir, 'keys', 'codec-secrets.json');
    assert.match(first.output(), /created the payload key and codec token/, 'and a payload key');
    const codecSecrets = readFileSync(codecFile, 'utf8');
    assert.equal(statSync(codecFile).mode & 0o077, 0, 'only its owner may read the payload key');
    try {
      const page = await openChat(browser, `http://localhost:${ports.playground}`);
      await send(page, 'configure stcontoso');
      await waitForText(page, 'stcontoso now uses kv-stcontoso/cmk-key (versionless).');
      await screenshot(page, 'configure-stcontoso-card');

      assert.equal(await keySourceOf(ports.azure, STCONTOSO), 'Microsoft.Keyvault');

      const ui = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
      await ui.goto(`http://localhost:${ports.ui}/namespaces/default/workflows`, {
        waitUntil: 'domcontentloaded',
      });
      await ui.getByText('configureCmk').first().waitFor({ timeout: 60_000 });
      await screenshot(ui, 'temporal-ui-runs');
      await ui.getByText(workflowIdFor(STCONTOSO)).first().click();
      await ui.getByText('User Metadata', { exact: true }).click();
      // The UI renders user metadata (markdown) inside a frame of its own.
      const summary = ui.frameLocator('#user-metadata-summary').locator('body');
      await assertEventually(async () =>
        (await summary.innerText()).includes(
          'Configure CMK · stcontoso · kv-stcontoso/cmk-key (versionless)',
        ),
      );
      // Summary and details are payloads: the server holds them sealed, the UI shows them because
      // npm start pointed it at the codec server. The raw history, read by the CLI, holds neither.
      const details = ui.frameLocator('#user-metadata-details').locator('body');
      await assertEventually(async () => (await details.innerText()).includes('Requested by: Megan Bowen'));
      await screenshot(ui, 'temporal-ui-run-summary');
      const raw = await rawHistory(ports.temporal, workflowIdFor(STCONTOSO));
      assert.ok(raw.includes('"encryption-key-id"'), 'the server stores sealed payloads');
      for (const clear of ['Megan Bowen', DEMO_USERS.megan.aadObjectId, 'Configure CMK · stcontoso'])
        assert.ok(!raw.includes(clear), `raw history does not hold ${clear}`);
      await ui.getByText('Search Attributes', { exact: true }).click();
      for (const attribute of [
        '"CmkStage": "done"',
        '"CmkVault": "kv-stcontoso"',
        '"CmkOperation": "configure"',
      ]) {
        await ui.getByText(attribute).waitFor({ timeout: 30_000 });
      }
      await screenshot(ui, 'temporal-ui-run-search-attributes');
    } finally {
      await stopStack(first);
    }

    const second = await startStack(dataDir, ports, 'agents');
    assert.doesNotMatch(second.output(), /created the bot's signing key/);
    assert.equal(readFileSync(keyFile, 'utf8'), key, 'a restart keeps the key (and the runs it signed)');
    assert.doesNotMatch(second.output(), /created the payload key/);
    assert.equal(
      readFileSync(codecFile, 'utf8'),
      codecSecrets,
      'and the payload key the runs are sealed with',
    );
    try {
      assert.match(
        second.output(),
        /cmk-runbook bot \(agents\) listening/,
        'the bot runs on the Agents SDK now',
      );
      const connection = await Connection.connect({ address: `127.0.0.1:${ports.temporal}` });
      try {
        const description = await new WorkflowClient({ connection })
          .getHandle(workflowIdFor(STCONTOSO))
          .describe();
        assert.equal(description.status.name, 'COMPLETED', 'the run is still in Temporal after the restart');
      } finally {
        await connection.close();
      }
      assert.equal(
        await keySourceOf(ports.azure, STCONTOSO),
        'Microsoft.Keyvault',
        'the local Azure kept its state across the restart',
      );
      const page = await openChat(browser, `http://localhost:${ports.playground}`);
      await send(page, 'status stcontoso');
      await waitForText(page, 'stcontoso now uses kv-stcontoso/cmk-key (versionless).', 60_000);
      await screenshot(page, 'status-after-restart');
    } finally {
      await stopStack(second);
    }
  });
});
