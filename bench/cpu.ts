/**
 * CPU time spent by the processes a benchmark runs on: the worker, the Temporal dev server and,
 * where it runs apart, the bot (children, read from /proc), and this process (the local Azure
 * and the bench's client).
 */
import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) a process has used so far; NaN where /proc cannot be read. */
export function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds of each process between `start()` and `stop()`. */
export interface CpuSpent {
  /** Every worker process metered, summed. */
  worker: number;
  temporal: number;
  /** The bot process, where the benchmark runs one (0 otherwise). */
  bot: number;
  /** This process: the local Azure and the bench's own client. */
  bench: number;
}

/** Starts counting the CPU the worker processes (one or several), the dev server, the bot and this process spend. */
export function cpuMeter(pids: {
  worker: number | readonly number[];
  temporal: number | undefined;
  bot?: number;
}): {
  stop(): CpuSpent;
} {
  const workers = typeof pids.worker === 'number' ? [pids.worker] : pids.worker;
  const workersCpu = (): number => workers.reduce((sum, pid) => sum + cpuSecondsOf(pid), 0);
  const worker0 = workersCpu();
  const temporal0 = cpuSecondsOf(pids.temporal);
  const botCpu = (): number => (pids.bot === undefined ? 0 : cpuSecondsOf(pids.bot));
  const bot0 = botCpu();
  const self0 = process.cpuUsage();
  return {
    stop() {
      const self = process.cpuUsage(self0);
      return {
        worker: workersCpu() - worker0,
        temporal: cpuSecondsOf(pids.temporal) - temporal0,
        bot: botCpu() - bot0,
        bench: (self.user + self.system) / 1e6,
      };
    },
  };
}

/** CPU seconds over `accounts` accounts, as milliseconds per account with one decimal. */
export function msPerAccount(seconds: number, accounts: number): string {
  return ((seconds / accounts) * 1000).toFixed(1);
}
