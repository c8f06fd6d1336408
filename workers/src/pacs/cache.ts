import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { QuorumError } from '../../../core/src/errors.ts';
import { fsyncDir, writeFileAtomic } from '../../../core/src/node/atomic.ts';

/**
 * The local study cache: <stateDir>/pacs-cache/<StudyInstanceUID>/<SOPInstanceUID>.dcm. A study
 * is fetched into "<uid>.partial" and renamed into place once complete, so a folder without the
 * suffix always holds a whole study (an interrupted retrieve never opens as a case); each image
 * is written atomically. Files are named by UID only (checked: digits and dots), never by
 * anything else a PACS sends.
 */
const UID = /^[0-9]+(\.[0-9]+)*$/;

export function checkUid(uid: string, what: string): string {
  if (!UID.test(uid) || uid.length > 64)
    throw new QuorumError(
      'bad-argument',
      `${what} must be a DICOM UID (digits and dots, at most 64), got ${JSON.stringify(uid)}`,
    );
  return uid;
}

export function cacheRoot(stateDir: string): string {
  return join(stateDir, 'pacs-cache');
}

export class StudyDownload {
  readonly folder: string;
  private readonly partial: string;
  private readonly root: string;
  readonly files: string[] = [];

  constructor(stateDir: string, studyInstanceUid: string) {
    checkUid(studyInstanceUid, 'StudyInstanceUID');
    this.root = cacheRoot(stateDir);
    this.folder = join(this.root, studyInstanceUid);
    this.partial = `${this.folder}.partial`;
    // A fresh start: what an earlier interrupted retrieve left is dropped.
    rmSync(this.partial, { recursive: true, force: true });
    mkdirSync(this.partial, { recursive: true });
  }

  add(sopInstanceUid: string, bytes: Uint8Array): void {
    checkUid(sopInstanceUid, 'SOPInstanceUID of a received image');
    const name = `${sopInstanceUid}.dcm`;
    writeFileAtomic(join(this.partial, name), bytes);
    this.files.push(join(this.folder, name));
  }

  /** Moves the complete study into place (replacing an older copy of it). */
  commit(): string {
    if (existsSync(this.folder)) rmSync(this.folder, { recursive: true, force: true });
    renameSync(this.partial, this.folder);
    fsyncDir(this.root);
    return this.folder;
  }

  discard(): void {
    rmSync(this.partial, { recursive: true, force: true });
  }
}

/** Studies in the cache (complete ones). */
export function cachedStudies(stateDir: string): string[] {
  const root = cacheRoot(stateDir);
  if (!existsSync(root)) return [];
  return readdirSync(root).filter((n) => UID.test(n));
}
