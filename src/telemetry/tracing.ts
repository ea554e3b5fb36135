/**
 * OpenTelemetry tracing, off unless `CMK_TRACING=otlp`: Temporal's interceptors trace client
 * calls, workflows and activities (one trace from a chat command to the last Azure call), and the
 * Azure SDK's instrumentation adds a span per ARM, Key Vault and Storage call.
 */
import { context, propagation, trace } from '@opentelemetry/api';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import * as coreTracing from '@azure/core-tracing';
import { createAzureSdkInstrumentation } from '@azure/opentelemetry-instrumentation-azure-sdk';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import {
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
  OpenTelemetryWorkflowClientInterceptor,
  makeWorkflowExporter,
} from '@temporalio/interceptors-opentelemetry';
import type { WorkerOptions } from '@temporalio/worker';

/** Tracing for one process. */
export interface Tracing {
  /** Interceptors for a Temporal client (the bot, scripts). */
  clientInterceptors: WorkflowClientInterceptor[];
  /** Interceptors and the span sink for a worker (its bundle is built with `tracing: true`). */
  workerOptions: Pick<WorkerOptions, 'interceptors' | 'sinks'>;
  /** Flushes and stops exporting. */
  shutdown(): Promise<void>;
}

/** Options of {@link startTracing}; tests pass an in-memory exporter. */
export interface TracingOptions {
  /** The service name on every span (the process's, or OTEL_SERVICE_NAME as the config read it). */
  serviceName: string;
  /** Defaults to OTLP/HTTP at OTEL_EXPORTER_OTLP_ENDPOINT, batched. */
  exporter?: SpanExporter;
}

/** Registers a global tracer provider, the Azure SDK's instrumentation and Temporal's interceptors. */
export function startTracing(options: TracingOptions): Tracing {
  const resource = new Resource({ 'service.name': options.serviceName });
  const processor: SpanProcessor = options.exporter
    ? new SimpleSpanProcessor(options.exporter)
    : new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  provider.register();

  const azure = createAzureSdkInstrumentation();
  const unregister = registerInstrumentations({ instrumentations: [azure], tracerProvider: provider });
  // The Azure SDK was usually loaded before tracing started, so its require hook never fires: set
  // the instrumenter on the loaded @azure/core-tracing directly.
  const definitions = (azure as unknown as { init(): { patch?: (exports: unknown) => unknown } }).init();
  definitions.patch?.(coreTracing);

  const activityInterceptor: NonNullable<NonNullable<WorkerOptions['interceptors']>['activity']>[number] = (
    ctx,
  ) => ({
    inbound: new OpenTelemetryActivityInboundInterceptor(ctx),
    outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
  });
  return {
    clientInterceptors: [new OpenTelemetryWorkflowClientInterceptor()],
    workerOptions: {
      interceptors: {
        activity: [activityInterceptor],
        client: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
      },
      sinks: { exporter: makeWorkflowExporter(processor, resource) },
    },
    async shutdown() {
      unregister();
      await provider.shutdown();
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
