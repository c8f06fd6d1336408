import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { CaseInfo, JournalRecord } from '../../../core/src/api.ts';
import { QuorumError } from '../../../core/src/errors.ts';
import { decodeFrame, encodeFrame } from '../../../core/src/rpc/frame.ts';

/**
 * The edit journal on disk: append-only, one length-prefixed wire frame per record (the op's JSON
 * with its binary payload raw). Appends are what make it crash-safe: a torn last record is
 * dropped on read, everything before it survives. The host stores ops as they come; the renderer
 * defines and replays them (renderer/src/lib/edits.ts, renderer/src/lib/replay.ts).
 */
export function appendJournalFile(path: string, records: JournalRecord[]): void {
  if (!records.length) return;
  mkdirSync(dirname(path), { recursive: true });
  // Cut a torn tail first, or new records would sit behind it, unreadable.
  if (existsSync(path)) {
    const end = completeLength(new Uint8Array(readFileSync(path)));
    if (end !== statSync(path).size) truncateSync(path, end);
  }
  const parts: Uint8Array[] = [];
  for (const r of records) {
    const f = encodeFrame({ kind: 'result', id: 0, value: r });
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, f.byteLength, true);
    parts.push(len, f);
  }
  // Synchronous append + fsync before the call returns: once appendJournal resolves, the records
  // survive a crash of the app (and of the OS). A few ms per stroke.
  const fd = openSync(path, 'a');
  try {
    const data = Buffer.concat(parts);
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, data.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Byte length of the complete records at the start of a journal. */
function completeLength(b: Uint8Array): number {
  let at = 0;
  while (at + 4 <= b.byteLength) {
    const len = new DataView(b.buffer, b.byteOffset + at).getUint32(0, true);
    if (at + 4 + len > b.byteLength) break;
    at += 4 + len;
  }
  return at;
}

export function readJournalFile(path: string): JournalRecord[] {
  if (!existsSync(path)) return [];
  const b = new Uint8Array(readFileSync(path)); // own copy: records are views onto it
  const out: JournalRecord[] = [];
  let at = 0;
  while (at + 4 <= b.byteLength) {
    const len = new DataView(b.buffer, b.byteOffset + at).getUint32(0, true);
    if (at + 4 + len > b.byteLength) break; // torn tail from a crash mid-append
    try {
      const m = decodeFrame<{ kind: string; value: unknown }>(b.subarray(at + 4, at + 4 + len));
      if (m.kind === 'result') out.push(m.value as JournalRecord);
    } catch (e) {
      throw new QuorumError(
        'corrupt',
        `journal record at byte ${at} is unreadable (${(e as Error).message})`,
        path,
      );
    }
    at += 4 + len;
  }
  return out;
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
