/**
 * Every runbook workflow the worker registers. Pure: workflow code imports only
 * `@temporalio/workflow` and `src/shared` (enforced by lint).
 */
export {};
