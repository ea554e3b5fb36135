/**
 * How benchmarks report: one table per benchmark, a summary row each (target / reached / met),
 * percentiles and a loud failure when a benchmark's own outcome check does not hold.
 */

/** One benchmark's line in the summary table. */
export interface SummaryRow {
  benchmark: string;
  target: string;
  reached: string;
  met: boolean;
}

/** What a benchmark hands back: its own table and its summary rows. */
export interface BenchOutcome {
  title: string;
  table: Array<Record<string, string | number>>;
  notes: string[];
  summary: SummaryRow[];
}

/** A benchmark whose result is wrong (not slow: wrong) stops the run with this error. */
export class BenchmarkInvalid extends Error {
  override readonly name = 'BenchmarkInvalid';
}

/** Throws {@link BenchmarkInvalid} unless `condition` holds. */
export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new BenchmarkInvalid(message);
}

/** The value at percentile `p` (0..100) of `values`, nearest-rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

/** The median of `values`. */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** A markdown table of rows that share their keys (the first row's keys are the columns). */
export function markdownTable(rows: ReadonlyArray<Record<string, string | number | boolean>>): string {
  if (rows.length === 0) return '(no rows)';
  const columns = Object.keys(rows[0]!);
  const cell = (v: string | number | boolean | undefined): string => String(v ?? '').replace(/\|/g, '\\|');
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]): string => `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [
    line(columns),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map((r) => line(columns.map((c) => cell(r[c])))),
  ].join('\n');
}

/** Prints a benchmark's table and notes. */
export function printOutcome(outcome: BenchOutcome): void {
  process.stdout.write(`\n### ${outcome.title}\n\n${markdownTable(outcome.table)}\n`);
  for (const note of outcome.notes) process.stdout.write(`\n- ${note}`);
  process.stdout.write('\n');
}

/** Prints the summary table over every benchmark that ran. */
export function printSummary(rows: readonly SummaryRow[]): void {
  const table = rows.map((r) => ({
    benchmark: r.benchmark,
    target: r.target,
    reached: r.reached,
    met: r.met ? 'yes' : 'NO',
  }));
  process.stdout.write(`\n### Summary\n\n${markdownTable(table)}\n`);
}

/** Seconds with one decimal. */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

/** Progress on stderr, so the tables on stdout stay clean. */
export function progress(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
