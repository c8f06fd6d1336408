import type { ProposalEvent, SliceResult } from '../../../core/src/api.ts';
import type { PromptPoint, Prompts } from '../../../core/src/prompts.ts';
import type { EditCommand, EditHistory } from './edits.ts';
import { PENDING } from './label-values.ts';
import type { ProposalStore } from './proposals.ts';
import type { Session } from './session.ts';
import type { SessionCore } from './session-core.ts';

/** What the Refine tool needs of the Session (sessionRefineHost below builds it). */
export interface RefineHost {
  labels(): Uint8Array | undefined;
  history(): EditHistory | undefined;
  proposals(): ProposalStore | undefined;
  sliceSize(): number;
  /** The model takes clicks (manifest `prompts`). */
  modelTakesPrompts(): boolean;
  activeSegment(): number;
  lockedValues(): Set<number>;
  /** A proposal or refinement is running (one at a time). */
  running(): boolean;
  /** Starts a propose run with these prompts; false when it did not start (the reason is shown). */
  propose(prompts: Prompts): Promise<boolean>;
  /** A streamed slice into the proposal: pending voxels, uncertainty, journal (Session.addProposalSlices). */
  addProposalSlices(results: SliceResult[]): void;
  labelsChanged(slices: number[]): void;
  uncertaintyChanged(slices: number[]): void;
  notice(text: string): void;
  /** The clicks or the protect setting changed (for the toolbar). */
  changed(): void;
}

/** The Refine tool's view of the open case: the session and its helpers. */
export function sessionRefineHost(s: Session, core: SessionCore): RefineHost {
  return {
    labels: () => s.labels,
    history: () => s.history,
    proposals: () => s.proposals,
    sliceSize: () => (s.image ? s.image.dims[0] * s.image.dims[1] : 0),
    modelTakesPrompts: () => !!s.model?.prompts,
    activeSegment: () => s.segments.active,
    lockedValues: () => s.segments.lockedValues(),
    running: () => s.ui.run.running,
    propose: (prompts) => {
      const { members, steps } = s.model!.recommended;
      return s.propose('all', { members, steps }, prompts);
    },
    addProposalSlices: (r) => s.addProposalSlices(r),
    labelsChanged: (ks) => core.labelsChanged(ks),
    uncertaintyChanged: (ks) => s.viewer.uncertaintyChanged(ks),
    notice: (notice) => core.set({ notice }),
    changed: () => s.changed(),
  };
}

/** Seconds from the click to the clicked slice's result and to the end of the run (test hook, README). */
export interface RefineTiming {
  clickedSliceSeconds?: number;
  /** The slice streamed first (the engine sends the clicked slice before following the lesion). */
  firstSlice?: number;
  seconds: number;
  slices: number[];
  voxels: number;
  outcome: ProposalEvent['type'];
}

interface RunningRefinement {
  /** The case's labelmap when the click was made: another case opened meanwhile ends the refinement. */
  labels: Uint8Array;
  clicksBefore: PromptPoint[];
  /** Axial slice of the newest click: the one the user waits for. */
  clickedSlice: number;
  t0: number;
  clickedSliceAt?: number;
  /** Labelmap voxels the streamed slices changed, with the value each held before the run. */
  before: Map<number, number>;
  firstSlice?: number;
  /** The uncertainty of each streamed slice before the run (undo puts it back). */
  std: Map<number, Float32Array>;
  slices: Set<number>;
}

/** What undoing or redoing one refinement puts back besides the labelmap. */
interface RefineStep {
  clicksBefore: PromptPoint[];
  clicksAfter: PromptPoint[];
  std: Map<number, { before: Float32Array; after: Float32Array }>;
}

/**
 * The Refine tool (issue 12): a click inside a missed lesion (positive) or a Shift+click on a
 * false positive (negative) re-proposes, with the prompt model, the clicked slice and the slices
 * of the lesion it lands in (the host and engine choose them: core/src/prompt-propagation.ts).
 * The streamed slices replace the pending proposal and the uncertainty there, as any proposal
 * does; Esc cancels like any run. The labelmap voxels the whole run changed become ONE undo step
 * (EditKind 'refine'), journalled after the run's proposal-slice records, so replaying a journal
 * rebuilds the same labelmap and the same undo step. (After a reopen, undoing it restores the
 * labelmap; the uncertainty of those slices stays the refined one, as the journal keeps no
 * earlier copy.)
 *
 * Clicks accumulate: every run sends all clicks of the current refinement, so a second click on
 * a slice is proposed together with the first rather than undoing it (nnInteractive keeps an
 * object's interaction history the same way). A refinement belongs to the active segment and
 * ends when the proposal is accepted or rejected, the active segment changes or another case
 * opens: the clicks are then forgotten. Undoing a refinement takes its click back.
 *
 * Protect edited (default on): voxels of any segment (1..254: accepted, drawn, read in) are never
 * changed; a refinement only writes and clears pending (255) voxels. Off: inside the refined
 * mask, voxels of unlocked segments become pending too (to be accepted again, into the active
 * segment); outside it labelled voxels stay (removing accepted work is a reject with the Pick
 * lesion tool). Locked segments are never changed. The protection is per voxel in the viewer, so
 * the host's slice-level `prompts.protect` (skip a slice entirely) is not used: it would stop a
 * lesion's propagation at the first slice holding any accepted voxel, e.g. the tumour next to it.
 */
export class Refiner {
  clicks: PromptPoint[] = [];
  protectEdited = true;
  lastTiming?: RefineTiming;
  private segment?: number;
  private run?: RunningRefinement;
  private readonly steps = new WeakMap<EditCommand, RefineStep>();

  constructor(private readonly host: RefineHost) {}

  /** True while a refinement run streams (its events come here, not to the plain proposal). */
  get active(): boolean {
    return this.run !== undefined;
  }

  /** Forgets the clicks: the object is done (accepted, rejected, another segment or case). */
  reset(): void {
    if (this.run && this.run.labels === this.host.labels()) return; // it ends first (finish)
    this.run = undefined;
    if (!this.clicks.length) return;
    this.clicks = [];
    this.host.changed();
  }

  setProtectEdited(on: boolean): void {
    this.protectEdited = on;
    this.host.changed();
  }

  /** A click of the tool at voxel `ijk` of the case grid: positive, or negative (Shift). */
  async click(ijk: [number, number, number], positive: boolean): Promise<void> {
    const h = this.host;
    if (!h.labels() || !h.history() || !h.proposals()) return;
    if (!h.modelTakesPrompts()) {
      h.notice(
        'Refine needs a prompt model: this model takes no clicks (its manifest.json has no "prompts")',
      );
      return;
    }
    if (this.run || h.running()) {
      h.notice('A proposal is running: wait for it, or press Esc to cancel it');
      return;
    }
    if (this.segment !== h.activeSegment()) this.clicks = [];
    this.segment = h.activeSegment();
    const clicksBefore = this.clicks;
    this.clicks = [...clicksBefore, { ijk, positive }];
    this.run = {
      labels: h.labels()!,
      clicksBefore,
      clickedSlice: ijk[2],
      t0: performance.now(),
      before: new Map(),
      std: new Map(),
      slices: new Set(),
    };
    h.changed();
    const started = await h.propose({ points: this.clicks });
    if (!started && this.run) {
      this.run = undefined;
      this.clicks = clicksBefore;
      h.changed();
    }
  }

  /** A propose event of the running refinement (Session.onProposalEvent hands them over). */
  onEvent(e: ProposalEvent): void {
    if (e.type === 'slice') this.addSlice(e.result);
    else if (e.type === 'done' || e.type === 'cancelled' || e.type === 'error' || e.type === 'disconnected')
      this.finish(e);
  }

  private addSlice(r: SliceResult) {
    const run = this.run;
    const labels = this.host.labels();
    const proposals = this.host.proposals();
    if (!run || !labels || !proposals || labels !== run.labels) return;
    const n = this.host.sliceSize();
    const off = r.k * n;
    const before = labels.slice(off, off + n);
    if (!run.std.has(r.k)) run.std.set(r.k, proposals.uncertainty.slice(off, off + n));
    // as any proposal slice: pending where the mask is and the voxel is empty, old pending cleared
    this.host.addProposalSlices([r]);
    if (!this.protectEdited) {
      const locked = this.host.lockedValues();
      for (let i = 0; i < n; i++) {
        const v = labels[off + i];
        if (r.mask[i] && v !== 0 && v !== PENDING && !locked.has(v)) labels[off + i] = PENDING;
      }
      this.host.labelsChanged([r.k]);
    }
    for (let i = 0; i < n; i++)
      if (labels[off + i] !== before[i] && !run.before.has(off + i)) run.before.set(off + i, before[i]);
    run.slices.add(r.k);
    run.firstSlice ??= r.k;
    if (r.k === run.clickedSlice && run.clickedSliceAt === undefined) run.clickedSliceAt = performance.now();
  }

  /** The run ended (done, cancelled, failed): what it changed becomes one undo step. */
  private finish(e: ProposalEvent) {
    const run = this.run;
    this.run = undefined;
    const labels = this.host.labels();
    const history = this.host.history();
    // another case was opened meanwhile: what the run wrote went with the old labelmap
    if (!run || !labels || !history || labels !== run.labels) return;
    const idx: number[] = [];
    const was: number[] = [];
    for (const [i, v] of [...run.before].sort((a, b) => a[0] - b[0]))
      if (labels[i] !== v) {
        idx.push(i);
        was.push(v);
      }
    const cmd = history.recordWritten('refine', Uint32Array.from(idx), Uint8Array.from(was));
    const proposals = this.host.proposals();
    if (cmd && proposals) {
      const n = this.host.sliceSize();
      const std = new Map<number, { before: Float32Array; after: Float32Array }>();
      for (const [k, b] of run.std)
        std.set(k, { before: b, after: proposals.uncertainty.slice(k * n, (k + 1) * n) });
      this.steps.set(cmd, { clicksBefore: run.clicksBefore, clicksAfter: this.clicks, std });
    } else if (!cmd) this.clicks = run.clicksBefore; // a click that changed nothing is not kept
    const slices = [...run.slices].sort((a, b) => a - b);
    this.lastTiming = {
      clickedSliceSeconds:
        run.clickedSliceAt === undefined ? undefined : (run.clickedSliceAt - run.t0) / 1000,
      firstSlice: run.firstSlice,
      seconds: (performance.now() - run.t0) / 1000,
      slices,
      voxels: idx.length,
      outcome: e.type,
    };
    if (e.type === 'done' || e.type === 'cancelled') {
      const first = this.lastTiming.clickedSliceSeconds;
      this.host.notice(
        `${e.type === 'done' ? 'Refined' : 'Refinement cancelled after'} ${slices.length} slice${slices.length === 1 ? '' : 's'}: ${idx.length} voxels changed` +
          (first === undefined ? '' : ` (clicked slice in ${first.toFixed(1)} s)`),
      );
    }
    this.host.changed();
  }

  /** Session.undo/redo of a 'refine' command: the clicks and the uncertainty follow the labelmap. */
  undone(cmd: EditCommand, how: 'undo' | 'redo'): void {
    const step = this.steps.get(cmd);
    const proposals = this.host.proposals();
    if (!step || !proposals) return;
    this.clicks = how === 'undo' ? step.clicksBefore : step.clicksAfter;
    const n = this.host.sliceSize();
    for (const [k, s] of step.std) proposals.uncertainty.set(how === 'undo' ? s.before : s.after, k * n);
    this.host.uncertaintyChanged([...step.std.keys()]);
    this.host.changed();
  }
}
