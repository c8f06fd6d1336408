import type { ProposalEvent } from '../../../core/src/api.ts';
import type { RunState } from './ui-state.ts';

/**
 * The proposal panel's run state after one streamed event (pure: the Session applies the
 * event's other effects). `slicesKept` = slices in the proposal store once a 'slice' is added.
 */
export function nextRunState(prev: RunState, e: ProposalEvent, slicesKept: number): RunState {
  const run = { ...prev, runId: e.type === 'disconnected' ? prev.runId : e.runId };
  switch (e.type) {
    case 'started':
      return { ...run, slicesTotal: e.slices.length, of: e.steps, message: undefined };
    case 'progress':
      return {
        ...run,
        step: e.step,
        of: e.of,
        slicesDone: e.slicesDone,
        slicesTotal: e.slicesTotal,
        etaSeconds: e.etaSeconds,
      };
    case 'slice':
      return { ...run, slicesDone: Math.max(run.slicesDone, slicesKept) };
    case 'done':
      return {
        ...run,
        running: false,
        slicesDone: e.slices.length,
        message: `Done: ${e.slices.length} slices in ${e.seconds.toFixed(1)} s${islandsNote(e.islands)}${edgeNote(e.edge)}`,
      };
    case 'cancelled':
      return { ...run, running: false, message: `Cancelled after ${e.slicesDone.length} slices` };
    case 'error':
    case 'disconnected':
      // The run is over either way; a lost connection says so instead of waiting forever.
      return { ...run, running: false, message: e.message };
  }
}

/** What the island rule took out (core/src/islands.ts), in the run's closing message. */
function islandsNote(islands?: { count: number; ml: number }): string {
  if (!islands?.count) return '';
  const n = islands.count === 1 ? '1 small uncertain island' : `${islands.count} small uncertain islands`;
  return `; ${n} (${islands.ml.toFixed(2)} mL) left out`;
}

/** What the edge rule added (core/src/contrast-grow.ts), in the run's closing message. */
function edgeNote(edge?: { ml: number }): string {
  if (!edge?.ml) return '';
  return `; edge grown by ${edge.ml.toFixed(2)} mL to the FLAIR contrast`;
}
