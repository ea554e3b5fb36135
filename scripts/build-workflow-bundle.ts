/**
 * `npm run build`: bundles the workflows once, next to the compiled worker, so production
 * workers start without webpack (`worker.ts` picks up `workflow-bundle.js`, or `workflow-bundle-traced.js` with tracing on).
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflows, PREBUILT_BUNDLES } from '../src/workflow-bundle';

async function main(): Promise<void> {
  for (const tracing of [false, true]) {
    const started = Date.now();
    const { code } = await bundleWorkflows({ tracing });
    const out = tracing ? PREBUILT_BUNDLES.traced : PREBUILT_BUNDLES.plain;
    writeFileSync(out, code);
    console.log(
      `workflow bundle: ${path.relative(process.cwd(), out)} (${Math.round(code.length / 1024)} KiB, ${Date.now() - started} ms)`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
