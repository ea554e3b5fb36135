/**
 * The address of the run's Temporal dev server, which a worker in another process can reach;
 * when a chaos file runs alone, a dev server of its own (stopped when the process exits).
 */
import { ensureTemporalCli } from '../../scripts/temporal-toolchain';
import { startDevServer } from '../../scripts/temporal-dev-server';

let own: Promise<{ address: string; stop(): Promise<void> }> | undefined;

/** The dev server's `host:port`. */
export function temporalAddress(): Promise<string> {
  const given = process.env.CMK_TEST_TEMPORAL_ADDRESS;
  if (given) return Promise.resolve(given);
  own ??= (async () => {
    const server = await startDevServer({ cli: ensureTemporalCli().path });
    process.env.CMK_TEST_TEMPORAL_ADDRESS = server.address;
    return server;
  })();
  return own.then((s) => s.address);
}

/** Stops the server {@link temporalAddress} started for a file run alone (no-op otherwise). */
export async function releaseTemporal(): Promise<void> {
  const server = own;
  own = undefined;
  await (await server)?.stop();
}
