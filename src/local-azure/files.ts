/**
 * Files the local Azure keeps (CA, token key, state) are replaced atomically: written to a
 * temporary file in the same folder, flushed to disk, then renamed over the old one, so a
 * process killed mid-write (Ctrl-C twice, SIGKILL, power loss) leaves the old file or the new
 * one, never half of one.
 */
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

const TEMP = /\.\d+\.\d+\.tmp$/;

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

/** Removes the temporary files interrupted {@link writeFileAtomic} calls left in `dir`. */
export function removeStaleTemps(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) if (TEMP.test(name)) rmSync(path.join(dir, name), { force: true });
}
