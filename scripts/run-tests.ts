/**
 * `npm test`: one Temporal dev server and one workflow bundle for the whole run, then node's
 * test runner over the given test files (default: every test/**\/*.test.ts, e2e, chaos and security included).
 * `--soak N` runs the files N times over (e.g. `npm run test:chaos -- --soak 10`) and ends with a
 * table of the rounds; any failed round fails the run.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflows } from '../src/workflow-bundle';
import { locateChromium } from '../test/helpers/browser';
import { ensureToolchain } from './temporal-toolchain';
import { startDevServer } from './temporal-dev-server';

const ROOT = path.resolve(__dirname, '..');

function findTests(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (statSync(full).isDirectory()) findTests(full, out);
    else if (entry.endsWith('.test.ts')) out.push(path.relative(ROOT, full));
  }
  return out.sort();
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const soakAt = args.indexOf('--soak');
  const rounds = soakAt >= 0 ? Number(args[soakAt + 1]) : 1;
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`--soak needs a whole number of rounds, e.g. --soak 10 (got ${args[soakAt + 1]})`);
  if (soakAt >= 0) args.splice(soakAt, 2);
  const files = args.length ? args : findTests(path.join(ROOT, 'test'));
  const toolchain = ensureToolchain();
  const server = await startDevServer({ cli: toolchain.cli });
  process.stderr.write(`[test] temporal ${toolchain.cliVersion} dev server on ${server.address}\n`);

  const bundleDir = path.join(ROOT, '.data', 'test');
  mkdirSync(bundleDir, { recursive: true });
  const bundlePath = path.join(bundleDir, 'workflow-bundle.js');
  const started = Date.now();
  const bundle = await bundleWorkflows({
    logger: {
      trace() {},
      debug() {},
      info() {},
      warn() {},
      error: (m: string) => process.stderr.write(`${m}\n`),
      log() {},
    },
  });
  writeFileSync(bundlePath, bundle.code);
  process.stderr.write(`[test] workflows bundled once in ${Date.now() - started} ms\n`);

  // Located (and unpacked, when it is the npm-shipped one) once, before test files run in parallel.
  const chromiumPath = await locateChromium().catch((error: unknown) => {
    process.stderr.write(`[test] ${(error as Error).message}\n`);
    return undefined;
  });
  if (chromiumPath) process.stderr.write(`[test] headless Chromium: ${chromiumPath}\n`);

  const runOnce = async (): Promise<number> => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        '--test-concurrency=2',
        '--test-timeout=300000',
        // node's own report, then every test that did not pass with its cause (a cancelled test
        // counts as failed) and a closing "tests: N passed, N failed" line.
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        `--test-reporter=${path.join(__dirname, 'test-reporter.mjs')}`,
        '--test-reporter-destination=stdout',
        ...files,
      ],
      {
        cwd: ROOT,
        stdio: 'inherit',
        env: {
          ...process.env,
          CMK_TEST_TEMPORAL_ADDRESS: server.address,
          CMK_TEST_WORKFLOW_BUNDLE: bundlePath,
          TEMPORAL_CLI_PATH: toolchain.cli,
          ...(chromiumPath ? { CHROMIUM_PATH: chromiumPath } : {}),
          ...(toolchain.testServer ? { TEMPORAL_TEST_SERVER_PATH: toolchain.testServer } : {}),
        },
      },
    );
    const code = await new Promise<number>((resolve) =>
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))),
    );
    return code;
  };
  const results: { round: number; code: number; seconds: number }[] = [];
  for (let round = 1; round <= rounds; round++) {
    const began = Date.now();
    if (rounds > 1) process.stdout.write(`\n[soak] round ${round} of ${rounds}\n`);
    results.push({ round, code: await runOnce(), seconds: Math.round((Date.now() - began) / 1000) });
  }
  const code = results.some((r) => r.code !== 0) ? 1 : 0;
  if (rounds > 1) {
    const lines = results.map(
      (r) => `${String(r.round).padStart(5)} | ${r.code === 0 ? 'green' : 'RED  '} | ${r.seconds} s`,
    );
    const failed = results.filter((r) => r.code !== 0).length;
    process.stdout.write(
      `\n[soak] ${files.length} test files, ${rounds} rounds, ${failed} failed\nround | result | duration\n${lines.join('\n')}\n`,
    );
  }
  await server.stop();
  process.exit(code);
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
