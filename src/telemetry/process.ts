/**
 * Process plumbing the worker, the bot and the codec server share: one shutdown per process,
 * however many signals arrive, a free loopback port, and a server's start on its address.
 */
import { once } from 'node:events';
import net from 'node:net';

/**
 * Calls `stop` once, on the first SIGINT or SIGTERM. Ctrl-C in a terminal reaches every process
 * of the group and `npm start` then also sends SIGTERM, so later signals are ignored while the
 * process drains (a supervisor's SIGKILL still ends it).
 */
export function onFirstSignal(stop: (signal: NodeJS.Signals) => void): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    stop(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
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

/** Starts `server` on `host:port` (port 0: any free one); resolves with its base URL, e.g. http://127.0.0.1:3978. */
export async function listenOn(server: net.Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${shown}:${address.port}`;
}
