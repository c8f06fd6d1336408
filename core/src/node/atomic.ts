import { closeSync, fsyncSync, openSync, realpathSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { QuorumError } from '../errors.ts';

/**
 * Writes a file atomically: temp file in the same folder, fsync, rename. A crash leaves either
 * the old file or the new one, never half of one.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {}
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
}

function canonical(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/** Refuses to write over any source image: user work never overwrites inputs. */
export function assertNotSource(target: string, sources: string[]): void {
  const t = canonical(target);
  for (const s of sources) {
    if (canonical(s) === t)
      throw new QuorumError('bad-argument', `refusing to overwrite the input image ${s}`, target);
  }
}
