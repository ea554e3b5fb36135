/**
 * The production worker's `main` (config from env, Azure clients with DefaultAzureCredential,
 * the Teams chat port, the payload codec), loading a prebuilt workflow bundle when
 * CMK_KIT_WORKFLOW_BUNDLE names one so a restart does not re-bundle. Spawned by
 * {@link startWorkerProcess} as a child, so it can be killed and its memory is its own.
 */
import { main } from '../../worker';

/** This file, for spawning it as the worker child process. */
export const WORKER_ENTRY = __filename;

if (require.main === module) {
  const codePath = process.env.CMK_KIT_WORKFLOW_BUNDLE;
  main(process.env, codePath ? { workflowBundle: { codePath } } : {}).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`worker failed: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
