import type { JournalRecord } from '../../../core/src/api.ts';
import type { UiState } from './ui-state.ts';

/**
 * The Session's own helpers that its parts (proposal-run.ts, segment-actions.ts, review.ts,
 * export.ts) use besides its public state; session.ts builds it once.
 */
export interface SessionCore {
  /** Patches the UI state and schedules a repaint. */
  set(patch: Partial<UiState>): void;
  /** The same for a running proposal's progress: repainted at a bounded rate (Session.changedByRun). */
  setByRun(patch: Partial<UiState>): void;
  /** True (and says so) while edits are paused because the journal cannot be written. */
  editingPaused(): boolean;
  /** The labelmap changed on these axial slices: repaint them and recount the pending slices. */
  labelsChanged(slices: number[]): void;
  /** Appends to the case journal, in order (journal-queue.ts). */
  journal(records: JournalRecord[]): void;
}
