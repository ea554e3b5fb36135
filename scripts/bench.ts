/**
 * `npm run bench [-- p1 p2 p3 p4 p5 p6] [--p1-accounts=N] [--p3-runs=N] [--p4-runs=N] …`: the
 * benchmarks against local processes only, one table each and a summary (target / reached /
 * met). Benchmarks check their own outcome and fail loudly when it is wrong.
 */
import { cpus, loadavg } from 'node:os';
import { execSync } from 'node:child_process';
import { runP1 } from '../bench/p1-fleet';
import { P1_LAYOUTS, runP1Layouts, type P1Layout } from '../bench/p1-layouts';
import { runP1Workers } from '../bench/p1-workers';
import { runP2 } from '../bench/p2-click-latency';
import { runP3 } from '../bench/p3-waiting-runs';
import { deployedWorkerHeapMiB } from '../test/kit/worker-process';
import { runP4 } from '../bench/p4-configure';
import { runP5 } from '../bench/p5-large-fleet';
import { runP6 } from '../bench/p6-shared-budget';
import { printOutcome, printSummary, progress, type BenchOutcome, type SummaryRow } from '../bench/report';
import { freshServerPerRow, sharedServer, startTemporal, type BenchTemporal } from '../bench/stack';

const BENCHMARKS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'] as const;
type BenchmarkId = (typeof BENCHMARKS)[number];

/** Parsed command line. */
interface BenchArgs {
  only: BenchmarkId[];
  p1Accounts: number;
  p1Concurrency: number | undefined;
  p1Latency: 'azure' | 'none';
  p1Sequential: number | undefined;
  p1Layouts: P1Layout[];
  /** Run P1's comparison of the runbook with the scripts (its first table); `--p1-ways=none` skips it. */
  p1Ways: boolean;
  /** Worker process counts of P1's worker rows (none: no such rows). */
  p1Workers: number[];
  /** Where P1's runbook rows run: each on a fresh dev server (default) or all on the run's one. */
  p1Server: 'fresh' | 'shared';
  p2Approvers: number;
  p2Single: number;
  p3Runs: number;
  p3HeapMiB: number | 'node';
  p4Runs: number;
  p5Accounts: number;
  p5AccountsPerKey: number;
  p6Writes: number;
  p6Rate: number;
}

function parseArgs(argv: string[]): BenchArgs {
  const flags = new Map<string, string>();
  const only: BenchmarkId[] = [];
  for (const arg of argv) {
    const flag = /^--([a-z0-9-]+)=(.+)$/.exec(arg);
    if (flag) flags.set(flag[1]!, flag[2]!);
    else if ((BENCHMARKS as readonly string[]).includes(arg.toLowerCase()))
      only.push(arg.toLowerCase() as BenchmarkId);
    else
      throw new Error(
        `Unknown argument "${arg}". Use p1..p6 and --p1-accounts=N, --p1-concurrency=N, --p1-latency=azure|none, --p1-sequential=N, --p1-layouts=spread,one-vault,one-key|none, --p1-ways=all|none, --p1-workers=1,2,4|none, --p1-server=fresh|shared, --p2-approvers=N, --p2-single=N, --p3-runs=N, --p3-heap-mib=N|node, --p4-runs=N, --p5-accounts=N, --p5-accounts-per-key=N, --p6-writes=N, --p6-rate=N.`,
      );
  }
  const int = (name: string, fallback: number): number => {
    const raw = flags.get(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1)
      throw new Error(`--${name} must be a positive integer, got "${raw}".`);
    return value;
  };
  return {
    only: only.length ? only : [...BENCHMARKS],
    p1Accounts: int('p1-accounts', 1000),
    p1Concurrency: flags.has('p1-concurrency') ? int('p1-concurrency', 8) : undefined,
    p1Latency: latency(flags.get('p1-latency') ?? 'azure'),
    p1Sequential: flags.has('p1-sequential') ? int('p1-sequential', 1) : undefined,
    p1Layouts: layouts(flags.get('p1-layouts') ?? P1_LAYOUTS.join(',')),
    p1Ways: ways(flags.get('p1-ways') ?? 'all'),
    p1Workers: workerCounts(flags.get('p1-workers') ?? '1,2,4'),
    p1Server: server(flags.get('p1-server') ?? 'fresh'),
    p2Approvers: int('p2-approvers', 50),
    p2Single: int('p2-single', 20),
    p3Runs: int('p3-runs', 10_000),
    // Absent: the heap limit docker-compose.yml gives the worker; `node` for Node's default.
    p3HeapMiB: flags.get('p3-heap-mib') === 'node' ? 'node' : int('p3-heap-mib', deployedWorkerHeapMiB()),
    p4Runs: int('p4-runs', 5),
    p5Accounts: int('p5-accounts', 20_000),
    p5AccountsPerKey: int('p5-accounts-per-key', 20),
    p6Writes: int('p6-writes', 300),
    p6Rate: int('p6-rate', 8),
  };
}

function workerCounts(raw: string): number[] {
  if (raw === 'none') return [];
  const counts = raw.split(',').map(Number);
  if (!counts.every((n) => Number.isInteger(n) && n >= 1 && n <= 8))
    throw new Error(
      `--p1-workers must be none or a list of worker process counts (1–8), e.g. 1,2,4; got "${raw}".`,
    );
  return counts;
}

function latency(raw: string): 'azure' | 'none' {
  if (raw !== 'azure' && raw !== 'none') throw new Error(`--p1-latency must be azure or none, got "${raw}".`);
  return raw;
}

function server(raw: string): 'fresh' | 'shared' {
  if (raw !== 'fresh' && raw !== 'shared')
    throw new Error(`--p1-server must be fresh or shared, got "${raw}".`);
  return raw;
}

function ways(raw: string): boolean {
  if (raw !== 'all' && raw !== 'none') throw new Error(`--p1-ways must be all or none, got "${raw}".`);
  return raw === 'all';
}

function layouts(raw: string): P1Layout[] {
  if (raw === 'none') return [];
  const ids = raw.split(',').map((l) => l.trim());
  const unknown = ids.filter((l) => !(P1_LAYOUTS as readonly string[]).includes(l));
  if (unknown.length > 0)
    throw new Error(`--p1-layouts takes ${P1_LAYOUTS.join(', ')} or none, got "${unknown.join(', ')}".`);
  return ids as P1Layout[];
}

function machine(): string {
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
  } catch {
    // Outside a git checkout the commit is simply unknown.
  }
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return `${new Date().toISOString()} · ${cpus().length} cores · node ${process.version} · commit ${commit} · load ${load}`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  process.stdout.write(`cmk-runbook benchmarks: ${args.only.join(', ')}\n${machine()}\n`);
  const summary: SummaryRow[] = [];
  const report = (outcome: BenchOutcome): void => {
    printOutcome(outcome);
    summary.push(...outcome.summary);
  };
  let shared: BenchTemporal | undefined;
  const temporal = async (): Promise<BenchTemporal> => (shared ??= await startTemporal());
  const rowServers = args.p1Server === 'fresh' ? freshServerPerRow() : sharedServer(temporal);
  try {
    for (const id of args.only) {
      const started = Date.now();
      progress(`${id.toUpperCase()} starting`);
      if (id === 'p1')
        progress(
          rowServers.mode === 'fresh'
            ? 'P1: each runbook row on a fresh Temporal dev server (--p1-server=shared: all on one)'
            : "P1: every runbook row on the run's one Temporal dev server",
        );
      if (id === 'p1' && args.p1Ways)
        report(
          await runP1(rowServers, {
            accounts: args.p1Accounts,
            concurrency: args.p1Concurrency,
            latency: args.p1Latency,
            ...(args.p1Sequential ? { sequentialAccounts: args.p1Sequential } : {}),
          }),
        );
      if (id === 'p1' && args.p1Layouts.length > 0)
        report(
          await runP1Layouts(rowServers, {
            accounts: args.p1Accounts,
            concurrency: args.p1Concurrency,
            latency: args.p1Latency,
            layouts: args.p1Layouts,
          }),
        );
      if (id === 'p1' && args.p1Workers.length)
        report(
          await runP1Workers(rowServers, {
            accounts: args.p1Accounts,
            concurrency: args.p1Concurrency,
            latency: args.p1Latency,
            workers: args.p1Workers,
          }),
        );
      if (id === 'p2')
        report(await runP2(await temporal(), { approvers: args.p2Approvers, singleClicks: args.p2Single }));
      if (id === 'p3') report(await runP3({ runs: args.p3Runs, heapMiB: args.p3HeapMiB }));
      if (id === 'p4') report(await runP4(await temporal(), { runs: args.p4Runs }));
      if (id === 'p5')
        for (const outcome of await runP5(await temporal(), {
          accounts: args.p5Accounts,
          accountsPerKey: args.p5AccountsPerKey,
        }))
          report(outcome);
      if (id === 'p6') report(await runP6(await temporal(), { writes: args.p6Writes, rate: args.p6Rate }));
      progress(`${id.toUpperCase()} done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    }
  } finally {
    await shared?.stop();
  }
  printSummary(summary);
  process.stdout.write(`\nfinished ${machine()}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`benchmark failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
