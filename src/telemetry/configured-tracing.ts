/**
 * Tracing as configured (CMK_TRACING). OpenTelemetry's SDK, exporter and instrumentation are loaded
 * only when tracing is on: about 35 MiB of every process's memory that an untraced worker or bot
 * never uses.
 */
import type { TelemetryConfig } from '../config';
import type { Tracing } from './tracing';

/** Starts tracing when CMK_TRACING=otlp, named OTEL_SERVICE_NAME or `serviceName`; else nothing. */
export async function startConfiguredTracing(
  telemetry: Pick<TelemetryConfig, 'tracing' | 'serviceName'>,
  serviceName: string,
): Promise<Tracing | undefined> {
  if (telemetry.tracing !== 'otlp') return undefined;
  const { startTracing } = await import('./tracing.js');
  return startTracing({ serviceName: telemetry.serviceName ?? serviceName });
}
