/**
 * The local processes every benchmark runs against: a Temporal dev server, the workflow
 * bundle (built once), the local Azure, the production worker as a child process (so its
 * memory can be read from /proc), and the real activities called directly in-process.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { bundleWorkflows } from '../src/workflow-bundle';
import { testDataConverter } from '../test/helpers/codec';
import { startDevServer, type DevServer } from '../scripts/temporal-dev-server';
import { ensureTemporalCli } from '../scripts/temporal-toolchain';
import { DEFAULT_TIMING, type ActivityTiming } from '../src/activities';
import { startLocalAzure, type LocalAzure, type LocalAzureOptions } from '../src/local-azure';
import type { AccountRef } from '../src/shared/accounts';
import type { CmkActivities } from '../src/shared/activities';
import type { ApprovalPolicy } from '../src/shared/approval';
import type { ChatPort } from '../src/shared/chat';
import { kitAzureOf, SEEDED } from '../test/kit';
import { progress } from './report';
import { startWorkerProcess as startKitWorkerProcess, type WorkerProcess } from '../test/kit/worker-process';
import {
  startBotProcess as startKitBotProcess,
  type BotProcess,
  type BotProcessOptions,
} from '../test/kit/bot-process';

/** A scratch directory for this bench run (state files, SQLite, bundle). */
export const SCRATCH = mkdtempSync(path.join(tmpdir(), 'cmk-bench-'));

/** A dev server and a client on it. */
export interface BenchTemporal {
  server: DevServer;
  connection: Connection;
  client: Client;
  stop(): Promise<void>;
}

/** Starts a dev server (persistent SQLite when `dbFile` is given) and connects a client. */
export async function startTemporal(
  options: { dbFile?: string; port?: number } = {},
): Promise<BenchTemporal> {
  const server = await startDevServer({ cli: ensureTemporalCli().path, ...options });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: 'default', dataConverter: testDataConverter });
  return {
    server,
    connection,
    client,
    async stop() {
      await connection.close();
      await server.stop();
    },
  };
}

/**
 * The Temporal dev server each of P1's runbook rows runs on. `fresh` starts one for the row and
 * stops it after, so no row runs on the thousands of closed runs the rows before it left in the
 * dev server's in-memory SQLite (a production cluster deletes them after the namespace's
 * retention): on one shared server the one-key row took 116.9 s after three 1,000-account rows
 * and 88.3 s alone. `shared` runs every row on the bench run's one server, as the benchmarks
 * after P1 do.
 */
export interface RowServers {
  mode: 'fresh' | 'shared';
  forRow<T>(row: (temporal: BenchTemporal) => Promise<T>): Promise<T>;
}

/** A fresh dev server for each row. */
export function freshServerPerRow(): RowServers {
  return {
    mode: 'fresh',
    async forRow(row) {
      const temporal = await startTemporal();
      try {
        return await row(temporal);
      } finally {
        await temporal.stop();
      }
    },
  };
}

/** The bench run's one server (`shared` starts it when first asked) for every row. */
export function sharedServer(shared: () => Promise<BenchTemporal>): RowServers {
  return { mode: 'shared', forRow: async (row) => row(await shared()) };
}

let bundlePath: Promise<string> | undefined;

/** The workflow bundle, built once per bench run and written to a file the worker loads. */
export function workflowBundlePath(): Promise<string> {
  bundlePath ??= (async () => {
    const file = path.join(SCRATCH, 'workflow-bundle.js');
    const silent = (): void => {};
    const bundle = await bundleWorkflows({
      logger: { trace: silent, debug: silent, info: silent, warn: silent, error: silent, log: silent },
    });
    writeFileSync(file, bundle.code);
    return file;
  })();
  return bundlePath;
}

/** The local Azure in the scratch directory; its CA is generated once per bench run. */
export function startBenchAzure(options: LocalAzureOptions = {}): Promise<LocalAzure> {
  return startLocalAzure({
    dataDir: path.join(SCRATCH, 'local-azure'),
    roleAssignmentPropagationMs: 0,
    revocationPropagationMs: 0,
    ...options,
  });
}

export type { WorkerProcess } from '../test/kit/worker-process';

/** Starts the production worker (its `main`) as a child with the bench run's bundle, the local Azure's client env and a policy; waits until it polls. */
export async function startWorkerProcess(
  temporal: BenchTemporal,
  local: LocalAzure,
  taskQueue: string,
  policy: ApprovalPolicy,
  extraEnv: Record<string, string> = {},
): Promise<WorkerProcess> {
  return startKitWorkerProcess({
    address: temporal.server.address,
    connection: temporal.connection,
    local,
    taskQueue,
    policy,
    bundlePath: await workflowBundlePath(),
    env: extraEnv,
    log: progress,
  });
}

export type { BotProcess } from '../test/kit/bot-process';

/** Starts the production bot (`bot.ts`) as a child with the local Azure's client env and a policy; waits until it is ready. */
export function startBotProcess(
  temporal: BenchTemporal,
  local: LocalAzure,
  taskQueue: string,
  policy: ApprovalPolicy,
  bot: Pick<BotProcessOptions, 'sdk' | 'trustedServiceUrls'>,
): Promise<BotProcess> {
  return startKitBotProcess({
    address: temporal.server.address,
    local,
    taskQueue,
    policy,
    ...bot,
    log: progress,
  });
}

/** A chat port that drops everything; for in-process direct activity calls, where no one is chatting. */
export const SILENT_CHAT: ChatPort = {
  postCard: () => Promise.resolve('message'),
  updateCard: () => Promise.resolve(),
  sendText: () => Promise.resolve(),
};

/** The real activities over the real SDK clients, called in-process inside an activity context. */
export interface DirectActivities {
  activities: CmkActivities;
  run<T>(fn: (a: CmkActivities) => Promise<T>, runId?: string): Promise<T>;
}

/** Builds the activities against `local` with the given timing (production defaults otherwise). */
export function directActivities(local: LocalAzure, timing: Partial<ActivityTiming> = {}): DirectActivities {
  const kit = kitAzureOf(local);
  // The SDK's default retry, as production has it.
  const activities = kit.activities({
    azure: kit.clients({}),
    chat: SILENT_CHAT,
    timing: { ...DEFAULT_TIMING, ...timing },
  });
  let n = 0;
  return {
    activities,
    run: (fn, runId = `bench-run-${++n}`) =>
      new MockActivityEnvironment({
        workflowExecution: { workflowId: `bench/${runId}`, runId },
        heartbeatTimeoutMs: 600_000,
      }).run(() => fn(activities)),
  };
}

/** The seeded demo subscription. */
export const BENCH_SUBSCRIPTION = SEEDED.subscriptionId;
const KEY_VAULT_CRYPTO_OFFICER = '14b46e9e-c2b7-41b4-b07b-48a6ebf60603';

/** Adds an RBAC vault with purge protection in rg-keys where the runbook holds Key Vault Crypto Officer (state API, no ARM calls). */
export function addBenchVault(local: LocalAzure, name: string): void {
  local.state.addVault({
    subscriptionId: BENCH_SUBSCRIPTION,
    resourceGroup: 'rg-keys',
    name,
    enablePurgeProtection: true,
    enableRbacAuthorization: true,
  });
  const runbook = Object.values(local.state.data.principals).find((p) => p.clientSecret && p.appId);
  if (!runbook) throw new Error('the local Azure has no runbook principal');
  local.state.addRoleAssignment({
    scope: `/subscriptions/${BENCH_SUBSCRIPTION}/resourceGroups/rg-keys/providers/Microsoft.KeyVault/vaults/${name}`,
    roleDefinitionId: KEY_VAULT_CRYPTO_OFFICER,
    principalId: runbook.objectId,
    effectiveImmediately: true,
  });
}

/** Adds a storage account on Microsoft-managed keys in rg-storage (state API, no ARM calls). */
export function addBenchAccount(local: LocalAzure, name: string): AccountRef {
  const account = { subscriptionId: BENCH_SUBSCRIPTION, resourceGroup: 'rg-storage', name };
  local.state.addStorageAccount(account);
  return account;
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
