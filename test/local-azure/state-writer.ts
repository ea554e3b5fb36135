/**
 * A local Azure on a slow disk: it saves a large state, and every large write stops halfway
 * for two seconds after printing `half`, so the test that runs it can kill it in the middle of
 * a save. Args: data folder, state file.
 */
import fs from 'node:fs';
import { startLocalAzure } from '../../src/local-azure';

/** Larger than any file but the state (the CA bundle holds the system's CAs, some 200 KB). */
const LARGE = 600_000;
const pause = (): void => {
  fs.writeSync(1, 'half\n');
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2_000);
};
type WriteSync = (fd: number, data: Buffer | string, ...rest: unknown[]) => number;
const originalWriteSync = fs.writeSync as unknown as WriteSync;
const originalWriteFileSync = fs.writeFileSync;
const writeHalves = (fd: number, data: Buffer): number => {
  const half = Math.floor(data.length / 2);
  originalWriteSync(fd, data.subarray(0, half));
  pause();
  return half + originalWriteSync(fd, data.subarray(half));
};
// Both ways a file can be written: writeSync on an open file and writeFileSync of a path.
(fs as { writeSync: unknown }).writeSync = (fd: number, data: Buffer | string, ...rest: unknown[]) =>
  Buffer.isBuffer(data) && data.length >= LARGE
    ? writeHalves(fd, data)
    : originalWriteSync(fd, data, ...rest);
(fs as { writeFileSync: unknown }).writeFileSync = (
  file: fs.PathOrFileDescriptor,
  data: string | NodeJS.ArrayBufferView,
  options?: fs.WriteFileOptions,
): void => {
  if (typeof data !== 'string' || data.length < LARGE) return originalWriteFileSync(file, data, options);
  const fd = fs.openSync(file as fs.PathLike, 'w');
  writeHalves(fd, Buffer.from(data));
  fs.closeSync(fd);
};

async function main(): Promise<void> {
  const [dataDir, stateFile] = process.argv.slice(2);
  const local = await startLocalAzure({ dataDir, stateFile, propagation: 'fast' });
  const subscriptionId = local.subscriptionIds[0]!;
  for (let i = 0; i < 4000; i++)
    local.state.addStorageAccount({ subscriptionId, resourceGroup: 'rg-bulk', name: `stbulk${i}` });
  local.state.flush();
}

void main();
