import type { JournalRecord, QuorumApi } from '../../../core/src/api.ts';
import { errorMessage } from '../api.ts';

export interface JournalQueueEvents {
  /** The journal cannot be written: why (the host's 'not-saved' message). */
  paused(why: string): void;
  /** Every queued record is on disk again after a pause. */
  resumed(): void;
  /** Any other failure (e.g. 'locked'): the batch is dropped, retrying cannot help. */
  failed(e: unknown): void;
}

/**
 * The page's side of the case journal. Records queue here and go one batch at a time, in order;
 * a batch leaves the queue only once the host has it on disk (QuorumApi.appendJournal fsyncs
 * before answering). A 'not-saved' answer keeps the queue, reports `paused` and retries every
 * RETRY_MS or on retry(), so nothing is lost and nothing is skipped: the host writes a failed
 * batch nowhere, and the same records sent again land right after the last good one.
 */
export class JournalQueue {
  static RETRY_MS = 3000;
  /** Records not yet on disk, oldest first (the batch in flight included). */
  private unsaved: JournalRecord[] = [];
  private flushing?: Promise<void>;
  private retryTimer?: ReturnType<typeof setTimeout>;
  private isPaused = false;

  constructor(
    private readonly api: QuorumApi,
    private readonly caseId: () => string | undefined,
    private readonly on: JournalQueueEvents,
  ) {}

  get pending(): number {
    return this.unsaved.length;
  }

  push(records: JournalRecord[]): void {
    if (!this.caseId()) return;
    this.unsaved.push(...records);
    void this.flush();
  }

  /** Sends the queued records; resolves when the queue is empty or a write failed. */
  flush(): Promise<void> {
    this.flushing ??= this.send().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /** "Retry now": writes the queued records at once. */
  retry(): Promise<void> {
    clearTimeout(this.retryTimer);
    return this.flush();
  }

  private async send() {
    for (let id = this.caseId(); this.unsaved.length && id; id = this.caseId()) {
      const batch = this.unsaved.slice();
      try {
        await this.api.appendJournal(id, batch);
      } catch (e) {
        if ((e as { code?: string })?.code !== 'not-saved') {
          this.unsaved.splice(0, batch.length);
          this.on.failed(e);
          continue;
        }
        this.isPaused = true;
        this.on.paused(errorMessage(e));
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => void this.flush(), JournalQueue.RETRY_MS);
        return;
      }
      this.unsaved.splice(0, batch.length);
      if (!this.unsaved.length && this.isPaused) {
        this.isPaused = false;
        this.on.resumed();
      }
    }
  }
}
