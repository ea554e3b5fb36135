/**
 * The address of the run's Temporal dev server, which a worker in another process can reach;
 * when a chaos file runs alone, a dev server of its own (stopped when the process exits). And a
 * server of a suite's own that it restarts on the same database.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ensureTemporalCli } from '../../scripts/temporal-toolchain';
import { freePort, startDevServer, type DevServer } from '../../scripts/temporal-dev-server';
import { testDataConverter, uniqueId } from '../helpers/temporal';

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

/** A dev server on a SQLite file of its own, and a client on it, that a suite restarts at will. */
export interface RestartableTemporal {
  /** The server's `host:port`, the same across restarts. */
  readonly address: string;
  env: TestWorkflowEnvironment;
  /** Stops the server and starts it again on the same port and database. */
  restart(): Promise<void>;
  /** Stops the client and the server and removes the database. */
  close(): Promise<void>;
}

/** Starts a {@link RestartableTemporal} whose database lives under `.data/test/<name>-…`. */
export async function startRestartableTemporal(name: string): Promise<RestartableTemporal> {
  const dir = path.resolve('.data/test', uniqueId(name));
  const dbFile = path.join(dir, 'temporal.db');
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const start = (): Promise<DevServer> => startDevServer({ cli: ensureTemporalCli().path, port, dbFile });
  let server = await start();
  const env = await TestWorkflowEnvironment.createFromExistingServer({
    address: server.address,
    client: { dataConverter: testDataConverter },
  });
  return {
    address: server.address,
    env,
    async restart() {
      await server.stop();
      server = await start();
    },
    async close() {
      await env.teardown();
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
