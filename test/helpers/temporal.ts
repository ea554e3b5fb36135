/**
 * The shared Temporal test harness: the dev server and workflow bundle `npm test` started
 * once for the run, unique ids per test, and the time-skipping server for long timers.
 * Run a file directly (`node --import tsx --test test/x.test.ts`) and it starts its own.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Client } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { ensureTemporalCli, ensureTimeSkippingServer } from '../../scripts/temporal-toolchain';
import { SA } from '../../src/shared/runbooks';
import { bundleWorkflows } from '../../src/workflow-bundle';
import { testDataConverter } from './codec';

export { testDataConverter } from './codec';

let shared: Promise<TestWorkflowEnvironment> | undefined;
let runtime = false;

/**
 * The suite's in-process workers log at WARN: a line per activity (the worker logs each outcome at
 * info) would bury the test report. The production worker's logs are tested through its entry point.
 */
function quietRuntime(): void {
  if (runtime) return;
  runtime = true;
  Runtime.install({ logger: new DefaultLogger('WARN') });
}
let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** A client on the run's dev server (or a server of this file's own when run alone). Close with the test file. */
export function testEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  shared ??= (async () => {
    const address = process.env.CMK_TEST_TEMPORAL_ADDRESS;
    const client = { dataConverter: testDataConverter };
    if (address) return TestWorkflowEnvironment.createFromExistingServer({ address, client });
    return localDevServer();
  })();
  return shared;
}

/**
 * A dev server of the caller's own, with the project's search attributes and, when given,
 * dynamic config values (e.g. `limit.historyCount.suggestContinueAsNew`). Tear it down when done.
 */
export function localDevServer(
  dynamicConfig: Record<string, string | number> = {},
): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createLocal({
    client: { dataConverter: testDataConverter },
    server: {
      executable: { type: 'existing-path', path: ensureTemporalCli().path },
      searchAttributes: Object.values(SA),
      extraArgs: Object.entries(dynamicConfig).flatMap(([k, v]) => ['--dynamic-config-value', `${k}=${v}`]),
    },
  });
}

/** The workflow bundle `npm test` built once for the run (built here when run alone). */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= (async () => {
    const path = process.env.CMK_TEST_WORKFLOW_BUNDLE;
    if (path) return { code: readFileSync(path, 'utf8') } as WorkflowBundleWithSourceMap;
    return bundleWorkflows();
  })();
  return bundle;
}

/** A time-skipping environment (Java test server), or undefined when it is not installed. */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment | undefined> {
  const path = process.env.TEMPORAL_TEST_SERVER_PATH ?? ensureTimeSkippingServer();
  if (!path) return undefined;
  quietRuntime();
  return TestWorkflowEnvironment.createTimeSkipping({
    client: { dataConverter: testDataConverter },
    server: { executable: { type: 'existing-path', path } },
  });
}

/** A unique id for workflow ids and task queues, so tests never share state. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** Terminates the runs a suite left waiting (an approval nobody gives); one already closed is skipped. */
export async function terminateAll(client: Client, workflowIds: Iterable<string>): Promise<void> {
  for (const id of workflowIds)
    await client.workflow
      .getHandle(id)
      .terminate('test finished')
      .catch(() => undefined);
}
