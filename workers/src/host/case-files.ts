import { chmodSync, closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SequenceName, Volume } from '../../../core/src/volume.ts';
import type { CaseFileRef, ChannelGeometry } from '../protocol.ts';

/**
 * The host's case files: each open case's model channels as float32, written once to a private
 * file (mode 0600) in a per-process temp folder (mode 0700) that goes when the process exits. The
 * engine reads a case by path (and caches it), so a propose request is a few hundred bytes and a
 * cancel never waits behind 70 MB on the IPC pipe.
 */
let folder: string | undefined;
let counter = 0;

function caseFolder(): string {
  if (!folder) {
    const dir = mkdtempSync(join(tmpdir(), 'quorum-cases-'));
    chmodSync(dir, 0o700);
    folder = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return folder;
}

/** Writes `channels` of a case (those it has) to a new private file. */
export function writeCaseFile(
  caseId: string,
  sequences: Partial<Record<SequenceName, Volume>>,
  channels: SequenceName[],
): CaseFileRef {
  const key = `${caseId}.${++counter}`;
  const path = join(caseFolder(), `${key}.f32`);
  const geometry: Partial<Record<SequenceName, ChannelGeometry>> = {};
  const fd = openSync(path, 'wx', 0o600);
  try {
    let offset = 0;
    for (const s of channels) {
      const v = sequences[s];
      if (!v) continue;
      const data = v.data instanceof Float32Array ? v.data : Float32Array.from(v.data);
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      for (let at = 0; at < bytes.byteLength; ) at += writeSync(fd, bytes, at, bytes.byteLength - at);
      geometry[s] = {
        dims: v.dims,
        spacing: v.spacing,
        origin: v.origin,
        direction: v.direction,
        offset,
        length: data.length,
      };
      offset += bytes.byteLength;
    }
  } finally {
    closeSync(fd);
  }
  return { key, path, channels: geometry };
}

export function removeCaseFile(ref: CaseFileRef | undefined): void {
  if (ref) rmSync(ref.path, { force: true });
}

/** The temp folder (tests check its mode and that closed cases leave nothing there). */
export function caseFileFolder(): string {
  return caseFolder();
}
