/**
 * The production worker's `main` (config from env, Azure clients with DefaultAzureCredential,
 * the Teams chat port, the payload codec), loading the bench run's prebuilt workflow bundle so a restart does not re-bundle. Run as a child so its RSS is its own.
 */
import { main } from '../worker';

/** This file, for spawning it as the worker child process. */
export const BENCH_WORKER_ENTRY = __filename;

if (require.main === module) {
  const codePath = process.env.CMK_BENCH_WORKFLOW_BUNDLE;
  main(process.env, codePath ? { workflowBundle: { codePath } } : {}).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`bench worker failed: ${(error as Error).message}\n`);
      process.exit(1);
    },
  );
}
