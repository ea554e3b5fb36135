/**
 * The production entry points (`worker.ts`, `bot.ts`) as child processes, the way an
 * operator runs them: configured by environment only, their JSON log lines collected, stopped by
 * a signal and their exit code kept.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { workerNodeFlags } from '../../src/workflow-threads';

const ROOT = path.resolve(__dirname, '../..');

/** A running entry point. */
export interface EntryProcess {
  child: ChildProcess;
  /** Every stdout line that parsed as JSON. */
  lines: Record<string, unknown>[];
  /** stdout and stderr as they came. */
  output(): string;
  /** Sends the signals (in order, 50 ms apart) and resolves with the exit code. */
  stop(signals?: NodeJS.Signals[]): Promise<number | null>;
}

/** Spawns `entry` (relative to the repository) with `env` over the parent's PATH and HOME. */
export function startEntry(entry: string, env: Record<string, string>): EntryProcess {
  // The worker starts as production starts it (src/workflow-threads.ts).
  const flags = entry === 'worker.ts' ? workerNodeFlags() : [];
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', entry], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NO_PROXY: 'localhost,127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let text = '';
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    partial += chunk.toString();
    const complete = partial.split('\n');
    partial = complete.pop() ?? '';
    for (const line of complete) {
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a JSON line; kept in output()
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    lines,
    output: () => text,
    async stop(signals = ['SIGTERM']) {
      for (const signal of signals) {
        if (child.exitCode !== null) break;
        child.kill(signal);
        await new Promise((r) => setTimeout(r, 50));
      }
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Polls `probe` every 200 ms until it gives a value; fails naming `what` and the process output. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 120_000, output }: { timeoutMs?: number; output?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await Promise.resolve(probe()).catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not within ${timeoutMs / 1000} s: ${what}\n${output?.().slice(-4000) ?? ''}`);
}
