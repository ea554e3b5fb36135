/**
 * The kit in node:test: a piece started before the suite's tests and closed after them. The only
 * kit module that imports the test runner; bench and scripts use the pieces directly.
 */
import { after, before } from 'node:test';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { timeSkippingEnv } from '../helpers/temporal';

/**
 * Starts `start()` in the suite's `before` and closes it in its `after`; returns a stand-in that
 * reads through to the started value once the suite runs (a getter, so reading it at file scope
 * before the suite starts is an error, not an undefined).
 */
export function beforeAll<T extends { close(): Promise<void> }>(start: () => Promise<T>): T {
  let value: T | undefined;
  before(async () => {
    value = await start();
  });
  after(async () => {
    await value?.close();
  });
  return new Proxy({} as T, {
    get(_, property) {
      if (!value) throw new Error(`the suite's ${String(property)} was read before the suite started`);
      const field = Reflect.get(value, property, value) as unknown;
      return typeof field === 'function' ? (field as (...a: unknown[]) => unknown).bind(value) : field;
    },
    has: (_, property) => value !== undefined && property in value,
  });
}

/** A value made on first use (inside a test, once the suite's pieces are up), then kept. */
export function lazy<T extends object>(make: () => T): T {
  let value: T | undefined;
  return new Proxy({} as T, {
    get(_, property) {
      value ??= make();
      const field = Reflect.get(value, property, value) as unknown;
      return typeof field === 'function' ? (field as (...a: unknown[]) => unknown).bind(value) : field;
    },
  });
}

/**
 * A time-skipping Temporal server and a stack on it, started before the suite and torn down after
 * it. `env` is undefined when the time-skipping server is not installed (tests then skip).
 */
export function onTimeSkipping<S extends { close(): Promise<void> }>(
  start: (env: TestWorkflowEnvironment) => Promise<S>,
): { readonly env: TestWorkflowEnvironment | undefined; readonly stack: S } {
  let env: TestWorkflowEnvironment | undefined;
  let stack: S | undefined;
  before(async () => {
    env = await timeSkippingEnv();
    if (env) stack = await start(env);
  });
  after(async () => {
    await stack?.close();
    await env?.teardown();
  });
  return {
    get env() {
      return env;
    },
    get stack() {
      if (!stack) throw new Error('the time-skipping stack was read before the suite started');
      return stack;
    },
  };
}
