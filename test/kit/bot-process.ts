/**
 * The production bot as a child process (`bot.ts`, its `main`), beside the worker child of
 * `worker-process.ts`: configured from the environment as production is, against the local
 * Azure, signing with the test bot key the workers trust; for benchmarks that time the bot's
 * endpoint on its own event loop, as it runs in production, and meter its CPU apart.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BotSdk } from '../../src/config';
import type { LocalAzure } from '../../src/local-azure';
import type { ApprovalPolicy } from '../../src/shared/approval';
import { freePort } from '../../src/telemetry/process';
import { TEST_SIGNING } from '../helpers/trust';
import { spawnEntry, stopChild, workerProcessEnv } from './worker-process';

/** The bot's entry point, relative to the repository (where children start). */
const BOT_ENTRY = 'bot.ts';

/** A running bot child. */
export interface BotProcess {
  pid: number;
  /** The endpoint's base URL (POST `${url}/api/messages`). */
  url: string;
  /** Graceful stop (SIGTERM): requests in flight are answered and card edits finished first. */
  stop(): Promise<void>;
}

/** What {@link startBotProcess} needs. */
export interface BotProcessOptions {
  /** The Temporal frontend the bot connects to. */
  address: string;
  local: LocalAzure;
  taskQueue: string;
  /** The bot's copy of the policy (tenant, requesters), read from the environment. */
  policy: ApprovalPolicy;
  /** The Bot Connectors it answers (CMK_TRUSTED_SERVICE_URLS). */
  trustedServiceUrls: string[];
  sdk: BotSdk;
  log?: (line: string) => void;
}

/** Starts `bot.ts` without Bot Framework credentials (local use, loopback) and resolves once `/readyz` answers 200. */
export async function startBotProcess(options: BotProcessOptions): Promise<BotProcess> {
  const keyDir = mkdtempSync(path.join(tmpdir(), 'cmk-bot-key-'));
  const keyFile = path.join(keyDir, 'signing-key.pem');
  writeFileSync(keyFile, TEST_SIGNING.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  const [port, opsPort] = [await freePort(), await freePort()];
  const env = {
    ...workerProcessEnv({
      address: options.address,
      local: options.local,
      taskQueue: options.taskQueue,
      policy: options.policy,
    }),
    CMK_BOT_SDK: options.sdk,
    CMK_BOT_SIGNING_KEY_FILE: keyFile,
    CMK_BOT_PORT: String(port),
    CMK_METRICS_PORT: String(opsPort),
    CMK_TRUSTED_SERVICE_URLS: options.trustedServiceUrls.join(','),
    CMK_LOG_LEVEL: 'warn',
  };
  const { child, errors } = spawnEntry(['--import', 'tsx', BOT_ENTRY], env);
  const cleanUp = (): void => rmSync(keyDir, { recursive: true, force: true });
  const stop = async (): Promise<void> => {
    await stopChild(child);
    cleanUp();
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) {
      cleanUp();
      throw new Error(`the bot exited with ${child.exitCode}: ${errors()}`);
    }
    const ready = await fetch(`http://127.0.0.1:${opsPort}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the bot was not ready within 120 s: ${errors()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  options.log?.(`bot pid ${child.pid} answers on port ${port}`);
  return { pid: child.pid!, url: `http://127.0.0.1:${port}`, stop };
}
