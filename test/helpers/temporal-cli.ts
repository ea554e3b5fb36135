/**
 * The `temporal` CLI the suite installed, run as an operator or a namespace user runs it. It runs
 * asynchronously, because the worker or the codec server it talks to may live in this process.
 */
import { execFile } from 'node:child_process';
import { ensureTemporalCli } from '../../scripts/temporal-toolchain';

/** What a CLI call printed and how it exited. */
export interface CliResult {
  status: number;
  stdout: string;
  /** stdout and stderr together, for matching a message wherever the CLI printed it. */
  output: string;
}

/**
 * Runs `temporal <args>`; a non-zero exit is a result, not a throw. Payloads are read and written
 * as they are stored unless `codecArgs` (from `startTestCodecServer`) point the CLI at a codec server.
 */
export function temporalCli(
  args: string[],
  { codecArgs = [], timeoutMs = 60_000 }: { codecArgs?: string[]; timeoutMs?: number } = {},
): Promise<CliResult> {
  const cli = process.env.TEMPORAL_CLI_PATH ?? ensureTemporalCli().path;
  return new Promise((resolve, reject) => {
    execFile(
      cli,
      [...args, ...codecArgs],
      { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') reject(new Error(error.message, { cause: error }));
        else resolve({ status: error ? Number(error.code) : 0, stdout, output: `${stdout}\n${stderr}` });
      },
    );
  });
}
