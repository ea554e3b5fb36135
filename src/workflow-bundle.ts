/**
 * How the workflow bundle is built, in one place for `npm run build`, `npm test` and the
 * worker's development fallback: the runbooks, their own workflow interceptor, the failure
 * converter every worker uses and, for a tracing worker, Temporal's OpenTelemetry workflow
 * interceptors.
 */
import path from 'node:path';
import { bundleWorkflowCode, type BundleOptions, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { FAILURE_CONVERTER_PATH } from './codec/data-converter';

/** The workflows' entry module. */
export const WORKFLOWS_PATH = require.resolve('./workflows');

/**
 * The runbooks' own workflow interceptor (one search-attribute upsert per workflow task): in every
 * bundle, since runs recorded with it replay only with it.
 */
export const WORKFLOW_INTERCEPTORS = require.resolve('./workflows/interceptors');

/** The workflow interceptor module of a tracing worker. */
export const OTEL_WORKFLOW_INTERCEPTORS =
  require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');

/** Where `npm run build` writes the bundles: next to the compiled worker (dist/). */
export const PREBUILT_BUNDLES = {
  plain: path.resolve(__dirname, '..', 'workflow-bundle.js'),
  traced: path.resolve(__dirname, '..', 'workflow-bundle-traced.js'),
};

/**
 * Modules loaded once per workflow sandbox and shared by every run in it (Temporal's
 * `preloadModules`), because they hold no per-run state:
 * - the decision-proof verifier, whose Ed25519 tables would otherwise be rebuilt by every run's
 *   first decision;
 * - the runbooks themselves and everything they import. Without this each cached run holds its own
 *   copy of every module's functions and constants: about 80 KiB of the workflow thread's heap per
 *   run, some 110 MiB of the worker's memory with 1,000 runs cached.
 *
 * Per-run state lives in the workflow functions' own scope, never at module level: lint forbids
 * module-level `let`, `var` and collections in src/workflows and src/shared
 * (test/foundation/lint.test.ts), and the sandbox freezes what the shared modules export.
 */
export const PRELOADED_MODULES = [require.resolve('./shared/proof-preload'), WORKFLOWS_PATH];

/** Options of {@link bundleWorkflows}. */
export interface BundleWorkflowsOptions extends Pick<BundleOptions, 'logger'> {
  /** Include the OpenTelemetry workflow interceptors (CMK_TRACING=otlp). */
  tracing?: boolean;
}

/** Bundles the runbooks with the project's failure converter (and tracing interceptors when asked). */
export function bundleWorkflows(options: BundleWorkflowsOptions = {}): Promise<WorkflowBundleWithSourceMap> {
  const { tracing, ...rest } = options;
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    failureConverterPath: FAILURE_CONVERTER_PATH,
    preloadModules: PRELOADED_MODULES,
    workflowInterceptorModules: [WORKFLOW_INTERCEPTORS, ...(tracing ? [OTEL_WORKFLOW_INTERCEPTORS] : [])],
    ...rest,
  });
}
