/**
 * workflow-threads.cjs, preloaded into every worker process (src/workflow-threads.ts): in the
 * process's worker threads, where the Temporal SDK runs workflow code, the SDK's per-promise stack
 * traces are not recorded unless CMK_WORKFLOW_STACK_TRACES=on, while Node's async hooks (the
 * AsyncLocalStorage the SDK's cancellation scopes stand on) keep working. The end-to-end check
 * (the stack-trace query on a run of the production worker) is in observability.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config';
import { workerNodeFlags } from '../../src/workflow-threads';

const ROOT = path.resolve(__dirname, '../..');

/**
 * Installs the SDK's global handlers (as its workflow thread does) in the main thread and in a
 * worker thread, then enables an async hook and reads an AsyncLocalStorage across a promise.
 */
const PROBE = `
const { Worker } = require('node:worker_threads');
const check = \`
  const { globalHandlers } = require('@temporalio/worker/lib/workflow/vm-shared');
  const warn = console.warn;
  console.warn = () => {};
  globalHandlers.install();
  console.warn = warn;
  const asyncHooks = require('node:async_hooks');
  asyncHooks.createHook({ init() {} }).enable();
  const storage = new asyncHooks.AsyncLocalStorage();
  const seen = storage.run('kept', () => Promise.resolve().then(() => storage.getStore()));
\`;
const report = (where) => \`seen.then((store) => \${where}({ sdkStackTraces: globalHandlers.promiseHookInstalled, store }));\`;
const thread = new Worker(check + report("require('node:worker_threads').parentPort.postMessage"), { eval: true });
thread.once('message', (inThread) => {
  void thread.terminate();
  new Function('require', 'done', check + report('done'))(require, (inMain) => console.log(JSON.stringify({ inMain, inThread })));
});
thread.once('error', (error) => { console.error(error); process.exit(1); });
`;

interface Seen {
  sdkStackTraces: boolean;
  store: string;
}

function probe(env: Record<string, string>): { inMain: Seen; inThread: Seen } {
  const run = spawnSync(process.execPath, [...workerNodeFlags(), '-e', PROBE], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout.trim()) as { inMain: Seen; inThread: Seen };
}

describe('workflow-threads.cjs: no per-promise stack traces in the workflow thread', () => {
  test("when a process starts with the worker flags, then the SDK's stack traces are off in its worker threads, on in its main thread, and AsyncLocalStorage works in both", () => {
    assert.deepEqual(probe({}), {
      inMain: { sdkStackTraces: true, store: 'kept' },
      inThread: { sdkStackTraces: false, store: 'kept' },
    });
  });

  test("when CMK_WORKFLOW_STACK_TRACES=on, then the SDK's stack traces are on in its worker threads as before", () => {
    assert.deepEqual(probe({ CMK_WORKFLOW_STACK_TRACES: 'on' }).inThread, {
      sdkStackTraces: true,
      store: 'kept',
    });
  });

  test('when CMK_WORKFLOW_STACK_TRACES is neither on nor off, then the worker refuses the configuration', () => {
    assert.throws(
      () => loadConfig({ CMK_WORKFLOW_STACK_TRACES: 'yes' }, ['temporal']),
      /CMK_WORKFLOW_STACK_TRACES.*must be one of off, on/,
    );
  });
});
