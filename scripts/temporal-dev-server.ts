/**
 * Starts `temporal server start-dev` with the project's search attributes, for tests and
 * `npm start`, and stops it cleanly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../src/shared/runbooks';

/** A running dev server. */
export interface DevServer {
  address: string;
  port: number;
  uiUrl?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Options for {@link startDevServer}. */
export interface DevServerOptions {
  cli: string;
  port?: number;
  /** Serve the UI on this port; headless when absent. */
  uiPort?: number;
  /** Persistent SQLite file; in-memory when absent. */
  dbFile?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  startTimeoutMs?: number;
  /** The codec server the UI decodes payloads with (`--ui-codec-endpoint`). */
  uiCodecEndpoint?: string;
  /** Serve the server's Prometheus metrics on this port (`--metrics-port`); off when absent. */
  metricsPort?: number;
}

/** A free TCP port on loopback. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

async function waitForPort(
  port: number,
  child: ChildProcess,
  timeoutMs: number,
  output: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new Error(`temporal server exited with ${child.exitCode}:\n${output()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`temporal server did not listen on ${port} within ${timeoutMs} ms:\n${output()}`);
}

/**
 * Resolves once the frontend answers as a client needs it: the gRPC health check says SERVING and
 * the namespace can be described. A listening port is not enough: right after a start (or a
 * restart on the same database) the frontend answers "Frontend is not healthy yet" for a while,
 * longer on a loaded machine.
 */
export async function waitForFrontend(
  address: string,
  { namespace = 'default', timeoutMs = 60_000 }: { namespace?: string; timeoutMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 2_000 });
      const health = await connection.healthService.check({
        service: 'temporal.api.workflowservice.v1.WorkflowService',
      });
      // 1 = SERVING in grpc.health.v1.HealthCheckResponse.ServingStatus.
      if (Number(health.status) !== 1) throw new Error(`health status ${String(health.status)}`);
      await connection.workflowService.describeNamespace({ namespace });
      return;
    } catch (error) {
      last = (error as Error).message;
    } finally {
      await connection?.close().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the Temporal frontend at ${address} was not healthy within ${timeoutMs} ms: ${last}`);
}

/** Starts the dev server and resolves once its frontend is healthy and serves the namespace. */
export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const port = options.port ?? (await freePort());
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(port),
    '--log-level',
    options.logLevel ?? 'error',
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecution=true',
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
    '--dynamic-config-value',
    'frontend.workerVersioningDataAPIs=true',
    // One partition per task queue (Temporal's default is 4): the server splits a queue's rate
    // over its read partitions, so the ARM write queue's budget and each vault's create pace
    // were dispatched at less than their rate whenever a partition ran out of backlog. See
    // deploy/temporal-dynamicconfig.yaml, which docker-compose.yml gives its Temporal server.
    '--dynamic-config-value',
    'matching.numTaskqueueReadPartitions=1',
    '--dynamic-config-value',
    'matching.numTaskqueueWritePartitions=1',
    // Eager activity dispatch (off in Temporal's defaults): an activity a run schedules on its own
    // task queue goes back to the worker in the answer to the workflow task that scheduled it, not
    // through matching and a poll. The write and create queues are other queues, so their rates
    // still hold every one of their activities. deploy/temporal-dynamicconfig.yaml sets it too.
    '--dynamic-config-value',
    'system.enableActivityEagerExecution=true',
    ...SEARCH_ATTRIBUTES.flatMap((sa) => ['--search-attribute', sa]),
  ];
  if (options.uiPort) args.push('--ui-port', String(options.uiPort));
  if (options.uiCodecEndpoint) args.push('--ui-codec-endpoint', options.uiCodecEndpoint);
  else args.push('--headless');
  if (options.dbFile) args.push('--db-filename', options.dbFile);
  if (options.metricsPort) args.push('--metrics-port', String(options.metricsPort));
  const env = { ...process.env };
  for (const key of ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy']) delete env[key];
  const child = spawn(options.cli, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const started = Date.now();
  await waitForPort(port, child, startTimeoutMs, () => output);
  await waitForFrontend(`127.0.0.1:${port}`, {
    timeoutMs: Math.max(5_000, startTimeoutMs - (Date.now() - started)),
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${output}`);
  });
  return {
    address: `127.0.0.1:${port}`,
    port,
    uiUrl: options.uiPort ? `http://localhost:${options.uiPort}` : undefined,
    process: child,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await once(child, 'exit');
      clearTimeout(timer);
    },
  };
}
