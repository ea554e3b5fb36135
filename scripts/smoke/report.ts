/** How a smoke run reads: its table (step, outcome, seconds, propagation), what it left, and its JSON. */
import { markdownTable } from '../../bench/report';
import type { SmokeReport } from './lifecycle';

/** The table as printed: one row per step, lanes in order. */
export function smokeTable(report: SmokeReport): string {
  const order = ['setup', 'A', 'B'];
  const rows = [...report.rows].sort((a, b) => order.indexOf(a.lane) - order.indexOf(b.lane));
  return markdownTable(
    rows.map((r) => ({
      lane: r.lane,
      step: r.step,
      outcome: r.outcome,
      azure: r.azure,
      seconds: r.seconds.toFixed(1),
      'propagation s': r.propagationSeconds === undefined ? '-' : r.propagationSeconds.toFixed(1),
      'propagation measured': r.propagation ?? '-',
    })),
  );
}

/** The whole printout: table, verdict, what stays in Azure. */
export function smokeSummary(report: SmokeReport): string {
  return [
    `Smoke run in resource group ${report.resourceGroup}`,
    '',
    smokeTable(report),
    '',
    report.passed
      ? 'PASSED: every step succeeded and Azure shows the state each step promised.'
      : 'FAILED: see the rows whose outcome is not succeeded/done or whose azure column is not ok.',
    '',
    'Left in Azure:',
    ...(report.leftBehind.length ? report.leftBehind.map((l) => `- ${l}`) : ['- nothing']),
  ].join('\n');
}
