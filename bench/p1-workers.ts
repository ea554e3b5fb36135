/**
 * P1 by worker processes: the same fleet rotated by the `fleetRotate` runbook through 1, 2 and
 * 4 production worker processes polling one task queue. Every worker polls the subscription's
 * ARM write queue, whose rate Temporal's server enforces across them (one budget), and paces
 * in-process besides; the rows show whether throughput and the 429 share stay the same.
 */
import { loadavg } from 'node:os';
import { msPerAccount, type CpuSpent } from './cpu';
import { DEFAULT_ARM_WRITES_PER_SECOND } from '../src/shared/task-queues';
import { measureRunbook, prepareP1, type P1Options, type WayResult } from './p1-fleet';
import { describeTimeline } from './p1-stats';
import type { BenchOutcome } from './report';
import type { RowServers } from './stack';

/** Options of {@link runP1Workers}: P1's, and the worker process counts, one row each. */
export interface P1WorkersOptions extends P1Options {
  workers: readonly number[];
}

/** CPU ms per rotated account: every worker process summed, the dev server, the bench process. */
function cpuPerRotation(cpu: CpuSpent, accounts: number): string {
  return [cpu.worker, cpu.temporal, cpu.bench].map((s) => msPerAccount(s, accounts)).join(' / ');
}

/** The 1-minute load average, as `uptime` prints it. */
function load(): string {
  return loadavg()[0]!.toFixed(1);
}

/** Runs the fleet once per worker count on fresh copies of one seeded state; one table. */
export async function runP1Workers(servers: RowServers, options: P1WorkersOptions): Promise<BenchOutcome> {
  const setup = await prepareP1(options);
  const count = setup.fleet.length;
  const rows: { workers: number; result: WayResult; loadStart: string; loadEnd: string }[] = [];
  for (const workers of options.workers) {
    const loadStart = load();
    const result = await measureRunbook(
      servers,
      `fleetRotate, ${workers} worker process${workers === 1 ? '' : 'es'}`,
      setup,
      options,
      workers,
    );
    rows.push({ workers, result, loadStart, loadEnd: load() });
  }
  const share = (r: WayResult): number =>
    r.stats.writes429 / Math.max(1, r.stats.writes429 + r.stats.writesOk);
  const table = rows.map(({ workers, result: r, loadStart, loadEnd }) => ({
    'worker processes': workers,
    'wall s': (r.wallMs / 1000).toFixed(1),
    'accounts/s': (count / (r.wallMs / 1000)).toFixed(2),
    'ARM writes ok': r.stats.writesOk,
    'ARM write 429s': r.stats.writes429,
    '429 share %': (share(r) * 100).toFixed(1),
    'ARM reads ok': r.stats.readsOk,
    'ARM read 429s': r.stats.reads429,
    'failed accounts': r.failed,
    'extra key versions': r.extraVersions,
    'CPU ms per rotation: workers / server / bench': r.cpu ? cpuPerRotation(r.cpu, count) : 'n/a',
    'load 1m start → end': `${loadStart} → ${loadEnd}`,
  }));
  const rates = rows.map((r) => count / (r.result.wallMs / 1000));
  const spread = Math.max(...rates) / Math.min(...rates);
  const worst = Math.max(...rows.map((r) => share(r.result)));
  const failed = rows.reduce((n, r) => n + r.result.failed, 0);
  return {
    title: `P1 · the same fleet of ${count} pinned accounts through ${options.workers.join(', ')} worker processes`,
    table,
    notes: [
      `Every worker process polls the runbooks' queue and the subscription's ARM write queue, whose rate Temporal's server enforces across all of them; each worker sets that rate from what ARM's answers say is left in the write bucket (${DEFAULT_ARM_WRITES_PER_SECOND}/s, CMK_ARM_WRITES_PER_SECOND, plus what lies above a reserve), so the queue spends ARM's burst and then its refill, and each also paces in-process, corrected by ARM's remaining-requests headers. A rotation's ARM write is its rotateKey activity; ARM's bound for ${count} rotations is ${Math.max(0, (count - 200) / 10).toFixed(0)} s with its burst.`,
      'Same fleet, same seeded state on a fresh local Azure and fresh buckets for each row; the worker processes start before the clock does. "load 1m" is the machine\'s 1-minute load average (2 cores) at the start and end of the row. "CPU ms per rotation" sums every worker process of the row (user + system, /proc), then the dev server and the bench process (the local Azure and its client), each divided by the accounts.',
      ...rows.map((r) =>
        describeTimeline(`${r.workers} worker process(es)`, r.result.stats, r.result.approval),
      ),
    ],
    summary: [
      {
        benchmark: `P1 1/2/4 worker processes: same throughput, ≤ 5 % 429s (${count} accounts)`,
        target: 'same accounts/s (within 15 %), ≤ 5 % 429s, 0 failed',
        reached: `${rates.map((r) => r.toFixed(2)).join(' / ')} accounts/s, worst 429 share ${(worst * 100).toFixed(1)} %, ${failed} failed`,
        met: spread <= 1.15 && worst <= 0.05 && failed === 0,
      },
    ],
  };
}
