import {
  closeSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { QuorumError } from '../errors.ts';

function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
}

/** `.<name>.<pid>.<ms>.tmp`, as tempPath names it. */
const TEMP_NAME = /^\.(.+)\.(\d+)\.(\d+)\.tmp$/;

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // runs, as another user
  }
}

/**
 * Removes the temp files of `path` that a killed Quorum process left (kill -9, power cut between
 * the temp file and its rename): those whose process no longer runs. A live writer's are kept.
 * Called for outputs a user sees (writeOutputFile), not for every atomic write: a PACS retrieval
 * writes hundreds of uniquely named files, and a folder listing for each would be wasted.
 */
function removeStaleTemps(path: string): void {
  const dir = dirname(path);
  const base = basename(path);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m || m[1] !== base) continue;
    const pid = Number(m[2]);
    if (pid !== process.pid && !isRunning(pid)) removeQuietly(join(dir, name));
  }
}

/** Writes `bytes` to a new temp file beside `path` and fsyncs it; returns the temp file's path. */
function writeTemp(path: string, bytes: Uint8Array | string): string {
  const tmp = tempPath(path);
  const fd = openSync(tmp, 'wx');
  try {
    const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    removeQuietly(tmp);
    throw e;
  }
  closeSync(fd);
  return tmp;
}

const WRITE_FAILURES: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  EACCES: 'no permission to write it',
  EPERM: 'no permission to write it',
  EROFS: 'the disk is read-only',
  EIO: 'the disk reported an input/output error',
};

/** Why a write failed, in words a user can act on ("the disk is full, ENOSPC"); else the raw message. */
export function writeFailureReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException)?.code ?? '';
  return WRITE_FAILURES[code] ? `${WRITE_FAILURES[code]}, ${code}` : `${(e as Error)?.message ?? e}`;
}

/** A failed write of a user's file as a 'not-saved' QuorumError naming the file; others pass through. */
function asNotSaved(e: unknown, path: string): unknown {
  const code = (e as NodeJS.ErrnoException)?.code ?? '';
  if (e instanceof QuorumError || !WRITE_FAILURES[code]) return e;
  return new QuorumError(
    'not-saved',
    `could not be written (${writeFailureReason(e)}): nothing was saved`,
    path,
  );
}

function removeQuietly(p: string): void {
  try {
    unlinkSync(p);
  } catch {}
}

/**
 * Makes a rename or link in `dir` durable: fsync of the folder. Platforms that cannot open or
 * fsync a folder (Windows) skip it: there NTFS journals the rename itself.
 */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EACCES', 'ENOTSUP'].includes(code ?? '')) throw e;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Writes a file atomically: temp file in the same folder, fsync, rename, fsync of the folder. A
 * crash leaves either the old file or the new one, never half of one, and the rename survives a
 * power cut. For Quorum's own state files; outputs a user sees go through writeOutputFile.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  try {
    const tmp = writeTemp(path, bytes);
    try {
      renameSync(tmp, path);
    } catch (e) {
      removeQuietly(tmp);
      throw e;
    }
    fsyncDir(dirname(path));
  } catch (e) {
    throw asNotSaved(e, path);
  }
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

/**
 * Which existing files an output may replace: 'never' (new files only: host exports pick a
 * numbered name instead) or 'own' (a file Quorum wrote and nobody changed since: a resumed
 * `propose-dataset`, `propose --overwrite`). Nothing else is ever replaced.
 */
export type ReplacePolicy = 'never' | 'own';

/** The folder beside Quorum's outputs that records which files it wrote (one small record per file). */
export const WRITTEN_DIR = '.quorum-written';

interface FileStamp {
  size: number;
  mtimeMs: number;
  ino: number;
}

/**
 * The stamp of the file as Quorum wrote it. While Quorum replaces its own file, also the stamp
 * of the file being replaced: a run killed between this record and the rename leaves that file
 * in place, and it must stay Quorum's, or the rerun would refuse its own summary.csv.
 */
interface WrittenRecord extends FileStamp {
  replacing?: FileStamp;
}

function stampOf(path: string, st = lstatSync(path)): FileStamp {
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

function sameStamp(a: FileStamp | undefined, b: FileStamp): boolean {
  return !!a && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

function recordPath(path: string): string {
  return join(dirname(path), WRITTEN_DIR, `${basename(path)}.json`);
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * True when `path` is a plain file Quorum wrote and nobody changed since (size, mtime and inode as
 * recorded right after the write). A file a user saved over, or replaced, is theirs again.
 */
export function isQuorumFile(path: string): boolean {
  try {
    const st = lstatSync(path);
    if (!st.isFile()) return false;
    const r = JSON.parse(readFileSync(recordPath(path), 'utf8')) as WrittenRecord;
    const now = stampOf(path, st);
    return sameStamp(r, now) || sameStamp(r.replacing, now);
  } catch {
    return false;
  }
}

function refuse(path: string, replace: ReplacePolicy): QuorumError {
  return new QuorumError(
    'bad-argument',
    replace === 'own'
      ? 'already exists and was not written by Quorum (or was changed since); Quorum never overwrites it: choose another output folder or move the file'
      : 'already exists; Quorum never overwrites a file: choose another output folder or move the file (CLI: --overwrite replaces only files Quorum wrote)',
    path,
  );
}

/** Throws the message writeOutputFile would, before any work is done (CLI checks before the engine starts). */
export function assertCanWrite(
  path: string,
  opts: { sources?: string[]; replace?: ReplacePolicy } = {},
): void {
  const replace = opts.replace ?? 'never';
  assertNotSource(path, opts.sources ?? []);
  if (exists(path) && !(replace === 'own' && isQuorumFile(path))) throw refuse(path, replace);
}

/**
 * Writes an output file (an export, a proposal, a summary): atomically (temp, fsync, then an
 * exclusive link or a rename, fsync of the folder), never over a source, never over a file Quorum
 * did not write, and recorded in `.quorum-written/` so a later run knows the file is Quorum's.
 * A new file is created with link(2), which fails if the name exists: no check-then-write race.
 */
export function writeOutputFile(
  path: string,
  bytes: Uint8Array | string,
  opts: { sources?: string[]; replace?: ReplacePolicy } = {},
): void {
  const replace = opts.replace ?? 'never';
  assertCanWrite(path, opts);
  removeStaleTemps(path);
  removeStaleTemps(recordPath(path));
  let tmp: string;
  try {
    tmp = writeTemp(path, bytes);
  } catch (e) {
    throw asNotSaved(e, path); // a full disk: the temp file is gone, the target untouched
  }
  try {
    // The record first, from the temp file (link and rename keep its inode and mtime), naming
    // the file it replaces too: a run killed at any point leaves no file of Quorum's without
    // its record, so a rerun may redo it.
    const written = stampOf(tmp);
    const replacing = replace === 'own' && exists(path) ? stampOf(path) : undefined;
    mkdirSync(dirname(recordPath(path)), { recursive: true });
    writeFileAtomic(recordPath(path), JSON.stringify({ ...written, replacing } satisfies WrittenRecord));
    if (replacing) {
      renameSync(tmp, path);
      // the old file is gone: from now on only the new one is Quorum's
      writeFileAtomic(recordPath(path), JSON.stringify(written satisfies WrittenRecord));
    } else {
      try {
        linkSync(tmp, path);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw refuse(path, replace);
        // File systems without hard links (FAT, some network shares): check, then rename.
        if (!['EPERM', 'ENOTSUP', 'ENOSYS', 'EXDEV', 'EMLINK'].includes(code ?? '')) throw e;
        if (exists(path)) throw refuse(path, replace);
        renameSync(tmp, path);
      }
    }
  } finally {
    removeQuietly(tmp);
  }
  fsyncDir(dirname(path));
}

/** Removes `path` only if Quorum wrote it (a stale report of an earlier run); true if removed. */
export function removeOwnFile(path: string): boolean {
  if (!isQuorumFile(path)) return false;
  unlinkSync(path);
  removeQuietly(recordPath(path));
  return true;
}
