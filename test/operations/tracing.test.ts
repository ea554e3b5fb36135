import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { Client } from '@temporalio/client';
import type { LocalAzure } from '../../src/local-azure';
import type { RunResult } from '../../src/shared/runbooks';
import { startTracing, type Tracing } from '../../src/telemetry/tracing';
import { bundleWorkflows } from '../../src/workflow-bundle';
import { ChatRecorder, localAzure, startWorker, type KitWorker } from '../kit';
import { LOCAL, PEOPLE, testPolicy } from '../helpers/stack';
import { testDataConverter, testEnv, uniqueId } from '../helpers/temporal';
import { startSigned, workerTrust } from '../helpers/trust';
import { decide, waitForApproval } from '../workflows/support';

describe('OpenTelemetry tracing (CMK_TRACING=otlp), exported in memory', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let local: LocalAzure;
  let worker: KitWorker;
  let client: Client;
  const taskQueue = uniqueId('tq-traced');
  const policy = testPolicy({ alwaysApprove: ['configure'] });

  before(async () => {
    tracing = startTracing({ serviceName: 'cmk-test', exporter });
    const azure = await localAzure({ throttling: false, roleAssignmentPropagationMs: 100 });
    local = azure.local;
    const env = await testEnv();
    worker = await startWorker({
      connection: env.nativeConnection,
      taskQueue,
      activities: azure.activities({ chat: new ChatRecorder() }),
      trust: workerTrust(policy),
      tracing,
      workflowBundle: await bundleWorkflows({ tracing: true }),
    });
    client = new Client({
      connection: env.connection,
      dataConverter: testDataConverter,
      interceptors: { workflow: tracing.clientInterceptors },
    });
  });

  after(async () => {
    await worker?.close();
    await local?.close();
    await tracing?.shutdown();
  });

  test('when a run is started, approved and done, then one trace holds the client call, the workflow, its activities and their Azure SDK calls', async () => {
    const account = {
      subscriptionId: LOCAL.subscriptionId,
      resourceGroup: LOCAL.storageGroup,
      name: `sttrace${uniqueId('').slice(1, 9)}`,
    };
    local.state.addStorageAccount(account);
    // Started as the bot starts it (signed), through the tracing client.
    const handle = await startSigned(
      client,
      'configure',
      {
        account,
        vault: { name: `kv-trace-${uniqueId('').slice(1, 7)}`, resourceGroup: LOCAL.keysGroup },
        key: { name: 'cmk-key', type: 'RSA', size: 2048 },
        identity: { type: 'SystemAssigned' },
        pinVersion: false,
        requester: PEOPLE.requester,
      },
      taskQueue,
    );
    await waitForApproval(handle);
    await decide(handle, PEOPLE.alice, 'approve');
    const result = (await handle.result()) as RunResult;
    assert.equal(result.outcome, 'succeeded', result.message);

    const spans: ReadableSpan[] = await (async () => {
      for (let i = 0; i < 100; i++) {
        const found = exporter.getFinishedSpans();
        if (found.some((s) => s.name.startsWith('RunWorkflow:'))) return found;
        await new Promise((r) => setTimeout(r, 100));
      }
      return exporter.getFinishedSpans();
    })();
    const named = (prefix: string) => spans.filter((s) => s.name.startsWith(prefix));
    const start = named('StartWorkflow:configureCmk')[0];
    assert.ok(start, `a client span: ${[...new Set(spans.map((s) => s.name))].join(', ')}`);
    const trace = start.spanContext().traceId;
    const inTrace = (s: ReadableSpan) => s.spanContext().traceId === trace;
    assert.ok(named('RunWorkflow:configureCmk').some(inTrace), 'the workflow span is in the trace');
    assert.ok(named('StartActivity:ensureKey').some(inTrace), 'the workflow scheduled ensureKey');
    const runKey = named('RunActivity:ensureKey').find(inTrace);
    assert.ok(runKey, 'the activity span is in the trace');
    const azureSpans = spans.filter((s) => s.attributes['az.namespace'] !== undefined && inTrace(s));
    const namespaces = new Set(azureSpans.map((s) => String(s.attributes['az.namespace'])));
    assert.ok(namespaces.has('Microsoft.KeyVault'), `Azure SDK spans: ${[...namespaces].join(', ')}`);
    assert.ok(namespaces.has('Microsoft.Storage'), `Azure SDK spans: ${[...namespaces].join(', ')}`);
  });
});

describe('OpenTelemetry is loaded only when tracing is on', () => {
  const ROOT = path.resolve(__dirname, '../..');
  /** The OpenTelemetry SDK packages a fresh process holds after `script` (run as the entry points run). */
  function otelLoadedAfter(script: string): string[] {
    const out = execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `(async () => { ${script}; const loaded = Object.keys(require.cache).filter((k) => /node_modules\\/@opentelemetry\\/(sdk-trace|exporter)/.test(k)); console.log(JSON.stringify([...new Set(loaded.map((k) => k.split('node_modules/').pop().split('/').slice(0, 2).join('/')))])); })()`,
      ],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1' },
      },
    );
    return JSON.parse(out.trim().split('\n').pop()!) as string[];
  }

  test('when CMK_TRACING is off, then the worker and the bot load no OpenTelemetry SDK or exporter', () => {
    const loaded = otelLoadedAfter(
      "require('./worker.ts'); require('./bot.ts'); const t = await require('./src/telemetry/configured-tracing.ts').startConfiguredTracing({ tracing: 'off' }, 'cmk-test'); if (t) throw new Error('tracing started')",
    );
    assert.deepEqual(loaded, []);
  });

  test('when CMK_TRACING=otlp, then tracing starts with the OTLP exporter, loaded on demand', () => {
    const loaded = otelLoadedAfter(
      "require('./worker.ts'); const t = await require('./src/telemetry/configured-tracing.ts').startConfiguredTracing({ tracing: 'otlp' }, 'cmk-test'); if (!t) throw new Error('no tracing'); await t.shutdown()",
    );
    assert.ok(loaded.includes('@opentelemetry/sdk-trace-node'), loaded.join(', '));
    assert.ok(loaded.includes('@opentelemetry/exporter-trace-otlp-http'), loaded.join(', '));
  });
});
