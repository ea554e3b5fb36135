/**
 * `npm run build`: bundles the workflows once, next to the compiled worker, so production
 * workers start without webpack (`worker.ts` picks up `workflow-bundle.js` when present).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

async function main(): Promise<void> {
  const started = Date.now();
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows') });
  const out = path.resolve(__dirname, '..', 'workflow-bundle.js');
  writeFileSync(out, code);
  console.log(
    `workflow bundle: ${path.relative(process.cwd(), out)} (${Math.round(code.length / 1024)} KiB, ${Date.now() - started} ms)`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
