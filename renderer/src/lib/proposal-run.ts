import type { ProposalEvent, SliceSelection } from '../../../core/src/api.ts';
import type { Prompts } from '../../../core/src/prompts.ts';
import { errorMessage } from '../api.ts';
import { nextRunState } from './run-state.ts';
import type { Session } from './session.ts';
import type { SessionCore } from './session-core.ts';
import type { ProposeOptions, RunState } from './ui-state.ts';
import type { Viewer } from './viewer.ts';

/**
 * One proposal run at a time: starts it on the host, takes its streamed events into the proposal
 * (or, for a refinement, into the Refine tool), journals how it ended, and cancels it on Esc.
 */
export class ProposalRun {
  /** Esc before the host has answered with the run's id (right after a Refine click): cancel it then. */
  private cancelWanted = false;

  constructor(
    private readonly s: Session,
    private readonly core: SessionCore,
  ) {}

  /** Starts a run (with `prompts`: a refinement, refine.ts); false when it did not start. */
  async start(slices: SliceSelection, opts: ProposeOptions, prompts?: Prompts): Promise<boolean> {
    const s = this.s;
    if (!s.caseInfo || !s.proposals || s.ui.run.running || this.core.editingPaused()) return false;
    const caseId = s.caseInfo.id;
    this.cancelWanted = false;
    const run: RunState = { running: true, slicesDone: 0, slicesTotal: 0, step: 0, of: opts.steps };
    this.core.set({ run, error: undefined });
    const onEvent = (e: ProposalEvent) => this.onEvent(e);
    try {
      const { runId } = await s.api.propose(
        {
          caseId,
          slices,
          currentSlice: s.currentSlice(),
          members: opts.members,
          steps: opts.steps,
          seed: opts.seed,
          includeMembers: true,
          ...(prompts ? { prompts } : {}),
        },
        onEvent,
      );
      if (s.ui.run.running) this.core.set({ run: { ...s.ui.run, runId } });
      if (this.cancelWanted) await s.api.cancel(runId).catch((e) => s.fail(e));
      return true;
    } catch (e) {
      this.core.set({ run: { ...run, running: false, message: errorMessage(e) } });
      return false;
    }
  }

  async cancel(): Promise<void> {
    const id = this.s.ui.run.runId;
    if (id) await this.s.api.cancel(id).catch((e) => this.s.fail(e));
    else if (this.s.ui.run.running) this.cancelWanted = true;
  }

  private onEvent(e: ProposalEvent) {
    const s = this.s;
    // a refinement's slices go through the Refine tool (one undo step when the run ends)
    const refining = s.refine.active;
    if (refining) s.refine.onEvent(e);
    if (e.type === 'slice') {
      if (!refining) s.addProposalSlices([e.result], true);
    } else if (e.type === 'done') this.journalProposal(e.slices, 'done');
    else if (e.type === 'cancelled') this.journalProposal(e.slicesDone, 'cancelled');
    // the run's last slices are drawn when it ends, not up to STREAM_REDRAW_MS later
    if (e.type !== 'slice' && e.type !== 'progress') s.viewer.flushStreamed();
    const run = nextRunState(s.ui.run, e, s.proposals?.slices.size ?? 0);
    if (e.type === 'progress' || e.type === 'slice') this.core.setByRun({ run });
    else this.core.set({ run });
  }

  private journalProposal(slices: number[], outcome: string) {
    this.core.journal([{ op: { type: 'proposal', outcome, slices, at: new Date().toISOString() } }]);
  }
}

/**
 * Colour range of the heat map: up to the largest std so far, in steps of 0.05 (of slice `k`
 * of `sliceSize` voxels, or of the whole map).
 */
export function followStdMax(
  viewer: Viewer,
  std: Float32Array,
  sliceSize: number | undefined,
  k?: number,
): void {
  const n = sliceSize ?? std.length;
  const from = k === undefined ? 0 : k * n;
  const to = k === undefined ? std.length : from + n;
  let m = 0;
  for (let i = from; i < to; i++) if (std[i] > m) m = std[i];
  const s = viewer.uncertaintyStyle;
  const max = Math.max(0.05, Math.ceil(m * 20) / 20);
  if (s.autoMax && max > s.max) viewer.setUncertaintyStyle({ max });
}
