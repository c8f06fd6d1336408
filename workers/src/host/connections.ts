import { QuorumError } from '../../../core/src/errors.ts';

/**
 * One client of the host (a browser tab, an Electron window): what it opened, so that all of it
 * is released when it goes (QuorumService.disconnect).
 */
export interface Connection {
  id: string;
  /** Who it is, for people: "browser tab from 127.0.0.1, connected at 14:02:11". */
  label: string;
  /** Open cases by id. */
  cases: Set<string>;
  /** Proposal runs by id. */
  runs: Set<string>;
  /** Pre-labelling subscriptions to drop. */
  subscriptions: Set<() => void>;
}

let next = 0;

export function newConnection(what: string): Connection {
  const n = ++next;
  const at = new Date().toTimeString().slice(0, 8);
  return {
    id: `c${n}`,
    label: `${what}, connected at ${at}`,
    cases: new Set(),
    runs: new Set(),
    subscriptions: new Set(),
  };
}

/**
 * One writer per case journal. Two people who open the same case (same source files) in two tabs
 * or windows of one host would otherwise append to one journal, and its replay would interleave
 * both people's strokes and undos into one labelmap that neither made. The first connection to
 * read or write a case's journal holds it until it closes every case on those files (or goes);
 * any other connection is refused, with a message naming the holder. Reopening a case later, or
 * after a crash, still finds all its edits: the journal stays one per case.
 */
export class JournalLocks {
  private readonly holders = new Map<string, Connection>();

  /** Throws a 'locked' error when another connection holds `journal`; takes it otherwise. */
  acquire(journal: string, conn: Connection, caseName: string): void {
    const holder = this.holders.get(journal);
    if (holder && holder !== conn)
      throw new QuorumError(
        'locked',
        `${caseName} is open for editing in another Quorum tab or window (${holder.label}). ` +
          'A case has one editor at a time, so that its saved edits never mix two people’s work: ' +
          'close the case there (or that tab), then open it here.',
      );
    this.holders.set(journal, conn);
  }

  /** Releases `journal` if `conn` holds it. */
  release(journal: string, conn: Connection): void {
    if (this.holders.get(journal) === conn) this.holders.delete(journal);
  }

  releaseAll(conn: Connection): void {
    for (const [j, c] of [...this.holders]) if (c === conn) this.holders.delete(j);
  }

  get size(): number {
    return this.holders.size;
  }
}
