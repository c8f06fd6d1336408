import { createHash } from 'node:crypto';
import {
  closeSync,
  constants,
  existsSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { CaseInfo, JournalNotice, JournalRead, JournalRecord } from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { writeFailureReason } from '../../../core/src/node/atomic.ts';
import { decodeFrame, encodeFrame } from '../../../core/src/rpc/frame.ts';

/**
 * The edit journal on disk: append-only, one length-prefixed wire frame per record (the op's JSON
 * with its binary payload raw). The host stores ops as they come; the renderer defines and
 * replays them (renderer/src/lib/edits.ts, renderer/src/lib/replay.ts).
 *
 * - The tail is checked once, when the journal is read at open: everything after the last
 *   readable record (a torn append, a zero-filled or garbled tail) is copied to a
 *   `<journal>.corrupt-<time>` side file and cut off, and the read says so (JournalNotice).
 * - Appends are O(1): the valid length is kept in memory; an append writes only its records at
 *   that offset and fsyncs, it never reads the file.
 * - A failed write (disk full, no permission, I/O error) throws a 'not-saved' QuorumError and
 *   leaves the valid length where it was, so the caller can send the same records again later
 *   and they land in order, with no gap and no half record in between.
 */

/** The file calls the journal makes, replaceable by tests (count reads, inject write errors). */
export const journalIo = {
  readFile: (path: string): Buffer => readFileSync(path),
  write: (fd: number, data: Uint8Array, offset: number, length: number, position: number): number =>
    writeSync(fd, data, offset, length, position),
  fsync: (fd: number): void => fsyncSync(fd),
};

export class JournalFile {
  /** Bytes of readable records at the start of the file; undefined until the file was scanned. */
  private length?: number;
  /** A failed write may have left bytes past `length`: cut them at the next append. */
  private dirty = false;

  constructor(readonly path: string) {}

  /** Reads every record (the one full read of the file); sets aside an unreadable tail first. */
  read(): JournalRead {
    if (!existsSync(this.path)) {
      this.length = 0;
      this.dirty = false;
      return { records: [] };
    }
    const b = new Uint8Array(journalIo.readFile(this.path)); // own copy: records are views onto it
    const records: JournalRecord[] = [];
    let at = 0;
    while (at + 4 <= b.byteLength) {
      const len = new DataView(b.buffer, b.byteOffset + at).getUint32(0, true);
      if (len === 0 || at + 4 + len > b.byteLength) break; // torn, zero-filled or garbled
      let m: { kind: string; value: unknown };
      try {
        m = decodeFrame<{ kind: string; value: unknown }>(b.subarray(at + 4, at + 4 + len));
      } catch {
        break;
      }
      if (m.kind !== 'result' || !isRecord(m.value)) break;
      records.push(m.value);
      at += 4 + len;
    }
    this.length = at;
    this.dirty = false;
    if (at === b.byteLength) return { records };
    return { records, notice: this.setAside(b.subarray(at)) };
  }

  /** Appends records (written and fsynced before it returns); throws 'not-saved' when it cannot. */
  append(records: JournalRecord[]): void {
    if (!records.length) return;
    this.scanned();
    const data = encodeRecords(records);
    let fd: number;
    try {
      mkdirSync(dirname(this.path), { recursive: true });
      fd = openSync(this.path, constants.O_RDWR | constants.O_CREAT, 0o600);
    } catch (e) {
      throw notSaved(e, this.path);
    }
    try {
      // O(1) guard: a file that changed under us (removed, or written by someone else) is
      // scanned again rather than written at a stale offset.
      const size = fstatSync(fd).size;
      if (size !== this.length && !(this.dirty && size > (this.length ?? 0))) this.length = undefined;
      const start = this.scanned();
      try {
        let off = 0;
        while (off < data.byteLength)
          off += journalIo.write(fd, data, off, data.byteLength - off, start + off);
        if (this.dirty || size > start + data.byteLength) ftruncateSync(fd, start + data.byteLength);
        journalIo.fsync(fd);
      } catch (e) {
        this.dirty = true;
        try {
          ftruncateSync(fd, start); // no half record left behind
          this.dirty = false;
        } catch {
          // cut at the next append (or the next read)
        }
        throw notSaved(e, this.path);
      }
      this.length = start + data.byteLength;
      this.dirty = false;
    } finally {
      closeSync(fd);
    }
  }

  /** The valid length, scanning the file first when it is not known (once, at open). */
  private scanned(): number {
    if (this.length === undefined) this.read();
    if (this.length === undefined)
      throw new QuorumError(
        'not-saved',
        'the unreadable end of the case journal could not be set aside, so nothing can be appended after it yet',
        this.path,
      );
    return this.length;
  }

  /** Copies an unreadable tail to a side file (never deleting user data), then cuts it off. */
  private setAside(tail: Uint8Array): JournalNotice {
    const at = this.length ?? 0;
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    let side = `${this.path}.corrupt-${stamp}`;
    for (let n = 2; existsSync(side); n++) side = `${this.path}.corrupt-${stamp}-${n}`;
    try {
      const fd = openSync(side, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      try {
        let off = 0;
        while (off < tail.byteLength) off += writeSync(fd, tail, off, tail.byteLength - off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      fsyncDir(dirname(side));
      const j = openSync(this.path, 'r+');
      try {
        ftruncateSync(j, at);
        fsyncSync(j);
      } finally {
        closeSync(j);
      }
    } catch (e) {
      // Could not set it aside: keep the bytes in the journal; the next append cuts them only
      // after it has set them aside (dirty makes it scan again first).
      this.length = undefined;
      return {
        bytes: tail.byteLength,
        message:
          `The last ${tail.byteLength} bytes of this case's journal were unreadable and could not be set ` +
          `aside (${(e as Error).message}); every record before them was restored.`,
      };
    }
    return {
      bytes: tail.byteLength,
      sideFile: side,
      message:
        `The last ${tail.byteLength} bytes of this case's journal were unreadable and were set aside in ` +
        `${basename(side)} (next to the journal); every record before them was restored.`,
    };
  }
}

function isRecord(v: unknown): v is JournalRecord {
  return (
    !!v && typeof v === 'object' && !!(v as JournalRecord).op && typeof (v as JournalRecord).op === 'object'
  );
}

function encodeRecords(records: JournalRecord[]): Buffer {
  const parts: Uint8Array[] = [];
  for (const r of records) {
    const f = encodeFrame({ kind: 'result', id: 0, value: r });
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, f.byteLength, true);
    parts.push(len, f);
  }
  return Buffer.concat(parts);
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not supported here (Windows): the file itself was fsynced
  }
}

/** A write failure as the 'not-saved' error the renderer shows (and retries on). */
function notSaved(e: unknown, path: string): QuorumError {
  return new QuorumError(
    'not-saved',
    `the case journal could not be written (${writeFailureReason(e)}): your latest edits are not saved yet`,
    path,
  );
}

/** One-shot helpers (tests, tools): open, append and close. */
export function appendJournalFile(path: string, records: JournalRecord[]): void {
  new JournalFile(path).append(records);
}

export function readJournalFile(path: string): JournalRecord[] {
  return new JournalFile(path).read().records;
}

/** A case's journal file: one per case source (not per session id), so reopening a case finds its edits. */
export function journalFileFor(stateDir: string, info: CaseInfo): string {
  // Keyed by the source files, not the folder: two cases picked from one folder stay apart.
  const sources = info.sequences
    .map((s) => s.path)
    .sort()
    .join('\n');
  const key = createHash('sha256').update(sources).digest('hex').slice(0, 32);
  return join(stateDir, 'journal', `${key}.qjournal`);
}
