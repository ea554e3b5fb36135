import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureSigningKey } from '../../scripts/signing-key';
import { freePort } from '../../scripts/temporal-dev-server';
import { startLocalAzure, type LocalAzure } from '../../src/local-azure';
import { workflowIdFor } from '../../src/shared/accounts';
import { startRecordingConnector, type RecordingConnector, type SentActivity } from '../bot/channel';
import { APPROVER, REQUESTER } from '../bot/fixtures';
import { Client, Connection } from '@temporalio/client';
import { TEST_PAYLOAD_ENV, testDataConverter } from '../helpers/codec';
import { temporalAddress, releaseTemporal } from '../chaos/temporal-address';
import { uniqueId } from '../helpers/temporal';
import { quickAzure } from '../kit/azure';
import { startEntry, until, type EntryProcess } from './processes';

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

/** Samples of a Prometheus text page: name, labels and value per line. */
function samples(page: string): { name: string; labels: Record<string, string>; value: number }[] {
  return page
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const match = /^([\w:]+)(?:\{(.*)\})?\s+(\S+)/.exec(line);
      const labels = Object.fromEntries(
        [...(match?.[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]),
      );
      return { name: match?.[1] ?? '', labels, value: Number(match?.[3]) };
    });
}

/** The value of the first sample of `name` whose labels include `labels`, or undefined. */
function valueOf(page: string, name: string, labels: Record<string, string> = {}): number | undefined {
  return samples(page).find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

async function text(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}

describe('the worker and the bot as an operator runs them: JSON logs, /metrics, health, a clean stop', () => {
  let local: LocalAzure;
  let connector: RecordingConnector;
  let worker: EntryProcess;
  let bot: EntryProcess;
  let ports: { worker: number; bot: number; botMetrics: number };
  let tenantId: string;
  const taskQueue = uniqueId('tq-ops');
  const conversation = { id: `a:ops-${randomUUID().slice(0, 8)}`, conversationType: 'personal' };
  const keysDir = mkdtempSync(path.join(os.tmpdir(), 'cmk-ops-keys-'));
  const signingKey = ensureSigningKey(path.join(keysDir, 'bot-signing-key.pem'));

  before(async () => {
    local = await startLocalAzure(quickAzure('local-azure-ops'));
    tenantId = local.tenantId;
    connector = await startRecordingConnector();
    ports = { worker: await freePort(), bot: await freePort(), botMetrics: await freePort() };
    const address = await temporalAddress();
    const env = {
      ...local.env,
      ...TEST_PAYLOAD_ENV,
      TEMPORAL_ADDRESS: address,
      CMK_TASK_QUEUE: taskQueue,
      CMK_APPROVERS: APPROVER.aadObjectId,
      CMK_REQUESTERS: REQUESTER.aadObjectId,
      CMK_TRUSTED_SERVICE_URLS: connector.serviceUrl,
      CMK_LOG_LEVEL: 'info',
    };
    worker = startEntry('worker.ts', {
      ...env,
      CMK_BOT_PUBLIC_KEYS: signingKey.publicKey,
      CMK_METRICS_PORT: String(ports.worker),
    });
    bot = startEntry('bot.ts', {
      ...env,
      CMK_BOT_SIGNING_KEY_FILE: signingKey.file,
      CMK_METRICS_PORT: String(ports.botMetrics),
      CMK_BOT_PORT: String(ports.bot),
    });
    for (const [name, process, port] of [
      ['worker', worker, ports.worker],
      ['bot', bot, ports.botMetrics],
    ] as const) {
      await until(
        `the ${name} is ready`,
        async () => ((await text(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined),
        { output: () => process.output() },
      );
    }
  });

  after(async () => {
    await worker?.stop(['SIGKILL']);
    await bot?.stop(['SIGKILL']);
    await connector?.close();
    await local?.close();
    await releaseTemporal();
    rmSync(keysDir, { recursive: true, force: true });
  });

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

  async function post(body: object): Promise<number> {
    const response = await fetch(`http://127.0.0.1:${ports.bot}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    await response.text();
    return response.status;
  }

  const cardWith = (needle: string, after = 0) =>
    until(
      `a card showing "${needle}"`,
      () => connector.sent.slice(after).find((s) => cardText(cardOf(s)).includes(needle)),
      { output: () => worker.output() + bot.output() },
    );

  test('when a revoke is asked, refused once and approved in chat, then both /metrics pages show the named series and every activity line carries its ids as JSON', async () => {
    const name = `stops${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const ref = { subscriptionId: local.subscriptionIds[0]!, resourceGroup: 'rg-storage', name };
    local.state.addStorageAccount(ref);
    const workflowId = workflowIdFor(ref);

    assert.equal(await post(activity(REQUESTER, { type: 'message', text: `configure ${name}` })), 200);
    await cardWith(`${name} now uses`);
    // The card shows the outcome while the run still confirms; the account is free once it closed.
    await until('the configure run has closed', async () => {
      const page = (await text(`http://127.0.0.1:${ports.worker}/metrics`)).body;
      return (valueOf(page, 'temporal_workflow_completed', { workflow_type: 'configureCmk' }) ?? 0) >= 1
        ? true
        : undefined;
    });
    const mark = connector.sent.length;
    assert.equal(await post(activity(REQUESTER, { type: 'message', text: `revoke ${name}` })), 200);
    const asked = await cardWith('Waiting for approval', mark);
    const messageId =
      asked.method === 'PUT'
        ? asked.path.split('/').at(-1)!
        : `activity-${connector.sent.indexOf(asked) + 1}`;
    const data = (cardOf(asked)!.actions as { verb?: string; data?: unknown }[]).find(
      (a) => a.verb === 'refresh',
    )!.data;
    const click = (who: typeof APPROVER, invokeId: string) =>
      post(
        activity(who, {
          id: invokeId,
          type: 'invoke',
          name: 'adaptiveCard/action',
          replyToId: messageId,
          value: { action: { type: 'Action.Execute', verb: 'approve', data }, trigger: 'manual' },
        }),
      );
    const backlog = valueOf(
      (await text(`http://127.0.0.1:${ports.botMetrics}/metrics`)).body,
      'cmk_runs_awaiting_approval',
      { age: 'any' },
    );
    assert.ok((backlog ?? 0) >= 1, `the waiting revoke is counted: ${backlog}`);
    assert.equal(await click(REQUESTER, randomUUID()), 200);
    const approval = randomUUID();
    assert.equal(await click(APPROVER, approval), 200);
    await cardWith('Succeeded', mark);
    const revoked = await until('the revoke run has finished', async () => {
      const line = worker.lines.find(
        (l) => l.msg === 'activity completed' && l.activityType === 'probeDataAccess',
      );
      return line ? true : undefined;
    });
    assert.ok(revoked);

    // Refusals are counted by their class: a command from someone the policy does not let ask, and
    // an activity naming a connector the bot does not trust.
    const beforeRefusals = connector.sent.length;
    assert.equal(await post(activity(APPROVER, { type: 'message', text: `rotate ${name}` })), 200);
    await cardWith('You may not ask for', beforeRefusals);
    const untrusted = {
      ...activity(REQUESTER, { type: 'message', text: 'runs' }),
      serviceUrl: 'https://evil.example/',
    };
    assert.equal(await post(untrusted), 403);

    const workerMetrics = (await text(`http://127.0.0.1:${ports.worker}/metrics`)).body;
    const worker_ = (name: string, labels: Record<string, string> = {}) =>
      valueOf(workerMetrics, name, labels);
    assert.ok(
      (worker_('temporal_workflow_completed', { workflow_type: 'configureCmk' }) ?? 0) >= 1,
      'Temporal: workflows completed, by type',
    );
    assert.ok(
      (worker_('temporal_activity_execution_latency_count', { activity_type: 'ensureKey' }) ?? 0) >= 1,
      'Temporal: activity latency, by type',
    );
    assert.notEqual(worker_('temporal_worker_task_slots_available'), undefined, 'Temporal: task slots');
    assert.ok(
      (worker_('cmk_azure_requests_total', { service: 'arm', status: '200' }) ?? 0) > 0,
      'ARM answers',
    );
    assert.ok(
      (worker_('cmk_azure_requests_total', { service: 'keyvault', status: '200' }) ?? 0) > 0,
      'Key Vault',
    );
    assert.ok(
      (worker_('cmk_azure_requests_total', { service: 'storage', status: '200' }) ?? 0) > 0,
      'the blob data plane (the access probe)',
    );
    assert.ok(workerMetrics.includes('# TYPE cmk_teams_delivery_retries_total counter'), 'Teams retries');
    assert.ok((worker_('cmk_process_resident_memory_bytes') ?? 0) > 0, 'process memory');

    const botMetrics = (await text(`http://127.0.0.1:${ports.botMetrics}/metrics`)).body;
    const bot_ = (name: string, labels: Record<string, string> = {}) => valueOf(botMetrics, name, labels);
    assert.equal(bot_('cmk_bot_commands_total', { command: 'configure' }), 1);
    assert.equal(bot_('cmk_bot_commands_total', { command: 'revoke' }), 1);
    assert.equal(bot_('cmk_bot_card_actions_total', { verb: 'approve', outcome: 'recorded' }), 1);
    assert.equal(bot_('cmk_bot_card_actions_total', { verb: 'approve', outcome: 'refused' }), 1);
    assert.equal(bot_('cmk_bot_refusals_total', { reason: 'OwnRequest', request: 'click' }), 1);
    assert.equal(bot_('cmk_bot_refusals_total', { reason: 'RequesterNotAllowed', request: 'command' }), 1);
    assert.equal(bot_('cmk_bot_refusals_total', { reason: 'UntrustedServiceUrl', request: 'activity' }), 1);
    assert.equal(bot_('cmk_bot_decision_seconds_count', { verdict: 'approve' }), 2);
    assert.equal(bot_('cmk_bot_decision_seconds_bucket', { verdict: 'approve', le: '+Inf' }), 2);
    assert.ok(botMetrics.includes('# TYPE cmk_teams_delivery_retries_total counter'));

    const activityLines = worker.lines.filter((l) => l.workflowId === workflowId && l.activityType);
    assert.ok(activityLines.length >= 5, `activity lines of ${workflowId}: ${activityLines.length}`);
    for (const line of activityLines) {
      assert.equal(typeof line.runId, 'string', JSON.stringify(line));
      assert.equal(line.account, name);
      assert.equal(line.name, 'cmk-worker');
      assert.match(String(line.time), /^\d{4}-\d\d-\d\dT/);
    }
    assert.ok(activityLines.some((l) => l.msg === 'activity completed' && l.activityType === 'revokeAccess'));

    const clickLine = bot.lines.find((l) => l.invokeId === approval);
    assert.ok(clickLine, 'the approving click is logged with its invoke id');
    assert.equal(clickLine.workflowId, workflowId);
    assert.equal(clickLine.account, name);
    assert.equal(clickLine.msg, 'card action recorded');

    const everything = worker.output() + bot.output();
    assert.ok(!everything.includes(local.env.AZURE_CLIENT_SECRET!), 'the client secret never reaches a log');
    assert.ok(
      !everything.includes(TEST_PAYLOAD_ENV.CMK_PAYLOAD_KEYS.split(':')[1]!),
      'no payload key in a log',
    );
    const pem = readFileSync(signingKey.file, 'utf8').split('\n')[1]!;
    assert.ok(!everything.includes(pem), "the bot's signing key never reaches a log");
    assert.doesNotMatch(everything, /eyJ[\w-]+\.[\w-]+\.[\w-]+/, 'no proof (compact JWS) in a log');
    const error = worker.lines.find((l) => l.level === 'error');
    assert.equal(error, undefined, `no error lines: ${JSON.stringify(error)}`);
  });

  test("when the worker runs as production starts it, then its workflow thread keeps no stack traces: Temporal's stack-trace query on its run says so, and its start line names it", async () => {
    const name = `trace${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const ref = { subscriptionId: local.subscriptionIds[0]!, resourceGroup: 'rg-storage', name };
    local.state.addStorageAccount(ref);
    const mark = connector.sent.length;
    assert.equal(await post(activity(REQUESTER, { type: 'message', text: `configure ${name}` })), 200);
    await cardWith(`${name} now uses`, mark);
    const connection = await Connection.connect({ address: await temporalAddress() });
    try {
      const client = new Client({ connection, dataConverter: testDataConverter });
      const handle = client.workflow.getHandle(workflowIdFor(ref));
      // Refused by the worker: its workflow thread keeps no stack traces (the SDK's own error,
      // "Workflow stack traces are not enabled on this worker", whose text the payload codec seals).
      await assert.rejects(handle.query('__stack_trace'), (error: Error) => {
        assert.equal(error.name, 'QueryNotRegisteredError');
        return true;
      });
      // The run itself answers queries as before.
      assert.ok(await handle.query('status'));
    } finally {
      await connection.close();
    }
    const started = worker.lines.find(
      (l) => typeof l.msg === 'string' && l.msg.startsWith('cmk-runbook worker polling'),
    );
    assert.equal(started?.workflowStackTraces, 'off');
  });

  test('when the worker and the bot are told to stop twice (Ctrl-C, then SIGTERM), then each drains once and exits 0', async () => {
    assert.equal((await text(`http://127.0.0.1:${ports.botMetrics}/livez`)).status, 200);
    assert.equal((await text(`http://127.0.0.1:${ports.worker}/livez`)).status, 200);
    const [workerCode, botCode] = await Promise.all([
      worker.stop(['SIGINT', 'SIGTERM']),
      bot.stop(['SIGINT', 'SIGTERM']),
    ]);
    assert.equal(workerCode, 0, worker.output().slice(-3000));
    assert.equal(botCode, 0, bot.output().slice(-3000));
    for (const [process, last] of [
      [worker, 'cmk-runbook worker stopped'],
      [bot, 'cmk-runbook bot stopped'],
    ] as const) {
      assert.equal(process.lines.filter((l) => l.msg === last).length, 1, `${last} once`);
      assert.doesNotMatch(process.output(), /IllegalStateError|ERR_SERVER_NOT_RUNNING/);
    }
  });
});
