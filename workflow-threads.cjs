/**
 * Preloaded into the worker process (`node --require ./workflow-threads.cjs …`: the Dockerfile,
 * docker-compose.yml, `npm run worker`, and workerNodeFlags() in src/workflow-threads.ts), so it
 * also runs in each worker thread the process starts, the Temporal SDK's workflow thread among
 * them. Plain JavaScript: it loads before any TypeScript loader.
 *
 * The SDK records a stack trace for every promise workflow code creates (a V8 promise hook that
 * builds an Error and maps its frames through the bundle's source map), only so that a query can
 * show where a run waits (the Temporal UI's "Stack Trace" tab). On P1 that cost a fifth to a
 * quarter of the worker's CPU: 72.8 ms per rotation before, 58.8 after (docs/benchmarks.md).
 * Where `v8.promiseHooks.createHook` is missing (Bun, Node before 16.14) the SDK records none. In
 * worker threads its call to that function throws here, so it takes the same path, and its
 * stack-trace query answers "Workflow stack traces are not enabled on this worker". Errors thrown
 * by workflow code keep their source-mapped stacks (a separate hook).
 * CMK_WORKFLOW_STACK_TRACES=on keeps the traces. The main thread runs no workflow code and is
 * left alone.
 */
'use strict';
const path = require('node:path');
const { isMainThread } = require('node:worker_threads');

const setting = (process.env.CMK_WORKFLOW_STACK_TRACES ?? '').trim() || 'off';
globalThis[Symbol.for('cmk-runbook.workflow-threads')] = setting;
if (setting !== 'on' && !isMainThread) {
  const { promiseHooks } = require('node:v8');
  const createHook = promiseHooks.createHook;
  // Only the SDK's own call is refused: Node's async_hooks create theirs through the same
  // function (AsyncLocalStorage, on which the SDK's cancellation scopes stand, needs it).
  const sdk = `${path.sep}@temporalio${path.sep}worker${path.sep}`;
  promiseHooks.createHook = function createHookUnlessForStackTraces(hooks) {
    if (callerFile(createHookUnlessForStackTraces).includes(sdk)) {
      throw new Error(
        'workflow stack traces are off in this worker (CMK_WORKFLOW_STACK_TRACES=on keeps them)',
      );
    }
    return createHook.call(this, hooks);
  };
}

/** The file of the function that called `fn`. */
function callerFile(fn) {
  const prepare = Error.prepareStackTrace;
  Error.prepareStackTrace = (_, frames) => frames;
  const holder = {};
  try {
    Error.captureStackTrace(holder, fn);
    return holder.stack[0]?.getFileName() ?? '';
  } finally {
    Error.prepareStackTrace = prepare;
  }
}
