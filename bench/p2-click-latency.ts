/**
 * P2: card click → invoke response latency with N concurrent approvers. N configure runs wait
 * for approval (one per approver: in a real tenant each approver acts on the run their team
 * asked for), then every approver clicks Approve at once through the bot's real HTTP endpoint;
 * the time is taken client-side until the HTTP response arrives.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StorageManagementClient } from '@azure/arm-storage';
import { ClientSecretCredential } from '@azure/identity';
import { createArmAccountResolver } from '../src/bot/accounts';
import { createRunService } from '../src/bot/run-service';
import { startBotServer } from '../src/bot/server';
import { CmkTeamsBot } from '../src/bot/teams-bot';
import type { BotConfig } from '../src/config';
import { statusQuery, type ApprovalPolicy, type Person, type RunStatus } from '../src/shared/approval';
import type { ConfigureCmkInput, RunResult } from '../src/shared/runbooks';
import { startOptionsFor } from '../src/shared/start';
import { check, percentile, progress, type BenchOutcome } from './report';
import {
  addBenchAccount,
  addBenchVault,
  startBenchAzure,
  startWorkerProcess,
  type BenchTemporal,
} from './stack';

/** Options of {@link runP2}. */
export interface P2Options {
  approvers: number;
}

const BOT: BotConfig = {
  appId: '',
  appPassword: '',
  appType: 'SingleTenant',
  appTenantId: '',
  port: 0,
  host: '127.0.0.1',
};
const REQUESTER: Person = { aadObjectId: '00000000-0000-4000-8000-00000000b201', name: 'Bench Requester' };
const TARGET_P99_MS = 250;

/** A Bot Connector stand-in that accepts the bot's message edits (the bot edits the card for everyone). */
async function startConnector(): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ id: randomUUID() }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function waitForApproval(get: () => Promise<RunStatus>): Promise<RunStatus> {
  for (let i = 0; i < 1200; i++) {
    const status = await get();
    if (status.approval.state === 'pending' && status.plan) return status;
    check(status.stage !== 'done', `P2 run ended before asking for approval: ${status.summary}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('P2 runs did not reach the approval within 120 s');
}

/** Runs P2 on the given Temporal server and returns its table. */
export async function runP2(temporal: BenchTemporal, options: P2Options): Promise<BenchOutcome> {
  const local = await startBenchAzure({ throttling: false });
  const taskQueue = `bench-p2-${randomUUID().slice(0, 8)}`;
  const worker = await startWorkerProcess(temporal, local, taskQueue);
  const connector = await startConnector();
  const approvers: Person[] = Array.from({ length: options.approvers }, (_, i) => ({
    aadObjectId: randomUUID(),
    name: `Approver ${i + 1}`,
  }));
  const policy: ApprovalPolicy = {
    approvers: { configure: approvers.map((a) => a.aadObjectId) },
    quorum: { configure: 1 },
    deadline: '1h',
    tenantId: local.tenantId,
    alwaysApprove: ['configure'],
  };
  const { tenantId, clientId, clientSecret } = local.credentials;
  const credential = new ClientSecretCredential(tenantId, clientId, clientSecret, { agent: local.agent });
  const server = await startBotServer({
    bot: BOT,
    handler: new CmkTeamsBot({
      runs: createRunService({
        client: temporal.client,
        taskQueue,
        namespace: 'default',
        uiBaseUrl: 'http://localhost:8233',
      }),
      resolver: createArmAccountResolver({
        subscriptionIds: local.subscriptionIds,
        storage: (s) => new StorageManagementClient(credential, s, { agent: local.agent }),
      }),
      subscriptionIds: local.subscriptionIds,
      policy,
      uiBaseUrl: 'http://localhost:8233',
    }),
    log: () => {},
  });
  const vaultName = `kv-p2-${randomUUID().slice(0, 8)}`;
  addBenchVault(local, vaultName);
  const latencies: number[] = [];
  try {
    const handles = await Promise.all(
      approvers.map(async (_, i) => {
        const account = addBenchAccount(local, `stp2${randomUUID().replace(/-/g, '').slice(0, 12)}`);
        const input: ConfigureCmkInput = {
          account,
          vault: { name: vaultName, resourceGroup: 'rg-keys' },
          key: { name: `cmk-${i}`, type: 'RSA', size: 2048 },
          identity: { type: 'SystemAssigned' },
          pinVersion: false,
          requester: REQUESTER,
          policy,
        };
        const { workflowType, ...start } = startOptionsFor('configure', input, taskQueue);
        return temporal.client.workflow.start(workflowType, start);
      }),
    );
    const statuses = await Promise.all(handles.map((h) => waitForApproval(() => h.query(statusQuery))));
    progress(`P2 ${handles.length} runs wait for approval`);
    const click = async (i: number): Promise<void> => {
      const who = approvers[i]!;
      const status = statuses[i]!;
      const body = {
        type: 'invoke',
        name: 'adaptiveCard/action',
        id: randomUUID(),
        channelId: 'msteams',
        serviceUrl: connector.url,
        from: { id: `29:${who.aadObjectId}`, aadObjectId: who.aadObjectId, name: who.name },
        recipient: { id: '28:cmk-runbook', name: 'cmk-runbook' },
        conversation: { id: `a:bench-${i}`, conversationType: 'personal', tenantId },
        channelData: { tenant: { id: tenantId } },
        replyToId: `message-${i}`,
        value: {
          action: {
            type: 'Action.Execute',
            verb: 'approve',
            data: {
              workflowId: status.workflowId,
              runId: status.runId,
              fingerprint: status.plan?.fingerprint,
            },
          },
          trigger: 'manual',
        },
      };
      const t0 = performance.now();
      const response = await fetch(`${server.url}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      latencies.push(performance.now() - t0);
      check(response.status === 200, `P2 click ${i} answered HTTP ${response.status}`);
      check(text.includes(`${who.name} approved`), `P2 click ${i} was not recorded: ${text.slice(0, 300)}`);
    };
    await Promise.all(approvers.map((_, i) => click(i)));
    const results = (await Promise.all(handles.map((h) => h.result()))) as RunResult[];
    for (const r of results)
      check(r.outcome === 'succeeded', `P2 run after approval ended ${r.outcome}: ${r.message}`);
  } finally {
    await server.close();
    await connector.close();
    await worker.stop();
    await local.close();
  }
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  return {
    title: `P2 · card click → invoke response, ${options.approvers} concurrent approvers`,
    table: [
      {
        clicks: latencies.length,
        'p50 ms': p50.toFixed(0),
        'p90 ms': percentile(latencies, 90).toFixed(0),
        'p99 ms': p99.toFixed(0),
        'max ms': Math.max(...latencies).toFixed(0),
      },
    ],
    notes: [
      'Each click is a real `adaptiveCard/action` invoke POSTed to the bot endpoint (auth off, local); the bot reads the run, sends the `decide` update and waits until the workflow accepted it, renders the card and edits the message for everyone before answering.',
      `With ${latencies.length} samples, p99 is the slowest click (nearest rank). Every click is checked to be recorded, and every run then completes with CMK on.`,
    ],
    summary: [
      {
        benchmark: 'P2 click → invoke response p99',
        target: `≤ ${TARGET_P99_MS} ms`,
        reached: `p50 ${p50.toFixed(0)} ms, p99 ${p99.toFixed(0)} ms`,
        met: p99 <= TARGET_P99_MS,
      },
    ],
  };
}
