/**
 * Files the local Azure keeps (CA, token key, state) are replaced atomically: written to a
 * temporary file in the same folder, flushed to disk, then renamed over the old one, so a
 * process killed mid-write (Ctrl-C twice, SIGKILL, power loss) leaves the old file or the new
 * one, never half of one.
 */
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';

const TEMP = /\.(\d+)\.\d+\.tmp$/;

/** Whether a process with this id is running (EPERM: it is, but another user's). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Replaces `file` with `content` atomically. */
export function writeFileAtomic(file: string, content: string | Buffer, mode = 0o644): void {
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, typeof content === 'string' ? Buffer.from(content) : content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/**
 * Removes the temporary files interrupted {@link writeFileAtomic} calls left in `dir`: those of
 * processes that are gone. Another running process may be between writing and renaming one (two
 * test files starting local Azures in one data folder), so its files are left alone.
 */
export function removeStaleTemps(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const pid = TEMP.exec(name)?.[1];
    if (pid !== undefined && !isRunning(Number(pid))) rmSync(path.join(dir, name), { force: true });
  }
}

/**
 * Runs `fn` while holding `dir`'s lock (a `.lock` folder, made atomically, naming its owner), so
 * processes sharing a data folder create its CA and token key once instead of each writing its own
 * over the other's. A lock whose owner is gone is taken over.
 */
export async function withDirLock<T>(dir: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
  const lock = path.join(dir, '.lock');
  const owner = path.join(lock, 'pid');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(owner, String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let holder = Number.NaN;
    let age = 0;
    try {
      holder = Number(readFileSync(owner, 'utf8'));
    } catch {
      // Made but not yet named: a holder that died right after mkdir is stale after a while.
      try {
        age = Date.now() - statSync(lock).mtimeMs;
      } catch {
        continue;
      }
    }
    if ((Number.isInteger(holder) && holder > 0 && !isRunning(holder)) || age > 10_000) {
      rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline)
      throw new Error(`${dir} stayed locked by process ${holder} for ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
