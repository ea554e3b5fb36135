/**
 * How failures are stored: their message and stack move into an encoded attributes payload, so the
 * payload codec seals them like every other payload (a failure can quote an account, a person or a
 * plan). Loaded by path into the workflow bundle and by every client and worker.
 */
import { DefaultFailureConverter } from '@temporalio/common';

/** The failure converter every data converter of cmk-runbook names by path. */
export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
