/**
 * How a worker process is started so that its workflow thread records no per-promise stack
 * traces (workflow-threads.cjs says why), and whether this process was.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

const PRELOAD = 'workflow-threads.cjs';

/** The preload at the repository's (or the image's) root: next to worker.ts, or above dist/. */
function preloadPath(): string {
  const candidates = [path.resolve(__dirname, '..', PRELOAD), path.resolve(__dirname, '..', '..', PRELOAD)];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`${PRELOAD} not found at ${candidates.join(' or ')}`);
  return found;
}

/** Node flags a worker process starts with, before its entry point (e.g. `--import tsx worker.ts`). */
export function workerNodeFlags(): string[] {
  return ['--require', preloadPath()];
}

/**
 * The workflow thread's stack traces as this process runs them: `off` or `on` as configured when
 * the preload ran, or why they are on although `wanted` is `off`.
 */
export function workflowStackTraces(wanted: 'off' | 'on'): { state: 'off' | 'on'; note?: string } {
  const preloaded = (globalThis as Record<symbol, unknown>)[Symbol.for('cmk-runbook.workflow-threads')];
  if (preloaded === undefined) {
    return wanted === 'on'
      ? { state: 'on' }
      : {
          state: 'on',
          note: `the worker was started without --require ${PRELOAD}; its workflow thread records a stack trace per promise (a fifth to a quarter of its CPU)`,
        };
  }
  return { state: preloaded === 'on' ? 'on' : 'off' };
}
