import type { CaseInfo } from '../../../core/src/api.ts';
import { type Connection, JournalLocks } from './connections.ts';
import { JournalFile, journalFileFor } from './journal-store.ts';

/**
 * The journals of the host's open cases. One connection at a time reads and writes a case's
 * journal (connections.ts JournalLocks), so two people's edits never mix; the open file keeps
 * its valid length, so appends never re-read it (journal-store.ts JournalFile).
 */
export class CaseJournals {
  private readonly locks = new JournalLocks();
  private readonly open = new Map<string, JournalFile>();

  constructor(private readonly stateDir: string) {}

  /** The case's journal for `conn`; a 'locked' error when another connection edits the case. */
  forCase(info: CaseInfo, conn: Connection): JournalFile {
    const path = journalFileFor(this.stateDir, info);
    this.locks.acquire(path, conn, info.name);
    const j = this.open.get(path) ?? new JournalFile(path);
    this.open.set(path, j);
    return j;
  }

  /** `info` closed on `conn`; its journal is freed unless `conn` still has the same case open. */
  closed(info: CaseInfo, conn: Connection, stillOpen: CaseInfo[]): void {
    const path = journalFileFor(this.stateDir, info);
    if (stillOpen.some((o) => journalFileFor(this.stateDir, o) === path)) return;
    this.locks.release(path, conn);
    this.open.delete(path);
  }

  releaseAll(conn: Connection): void {
    this.locks.releaseAll(conn);
  }

  get size(): number {
    return this.locks.size;
  }
}
