import type {
  CaseInfo,
  ExportFormat,
  JournalRecord,
  ModelInfo,
  QuorumApi,
  SliceResult,
  SliceSelection,
  VolumeData,
} from '../../../core/src/api.ts';
import type { Component } from '../../../core/src/components.ts';
import type { Prompts } from '../../../core/src/prompts.ts';
import type { Rgb, SegmentAction, SegmentOp } from '../../../core/src/segments.ts';
import type { SequenceName } from '../../../core/src/volume.ts';
import { errorMessage } from '../api.ts';
import { Calipers } from './calipers.ts';
import { EditingPause } from './editing-pause.ts';
import { EditHistory } from './edits.ts';
import type { ToolMode, ViewportName } from './engine.ts';
import { exportCase } from './export.ts';
import { interpolateCase } from './interpolate.ts';
import { JournalQueue } from './journal-queue.ts';
import { LabelCensus } from './label-census.ts';
import { type JournalBase, restartFromJournalLabels, startFromLabels } from './labels-in.ts';
import { followStdMax, ProposalRun } from './proposal-run.ts';
import { ProposalStore } from './proposals.ts';
import { RateLimited } from './rate-limit.ts';
import { Refiner, sessionRefineHost } from './refine.ts';
import { proposalRecord, replayCase, resetRecord } from './replay.ts';
import { reviewComponentAt, reviewComponentFrom, reviewSlices } from './review.ts';
import { SegmentActions } from './segment-actions.ts';
import { SegmentStore } from './segments.ts';
import type { SessionCore } from './session-core.ts';
import { watchStrokes } from './strokes.ts';
import {
  currentUi,
  EDIT_TOOLS,
  initialUi,
  type ProposeOptions,
  pickSequence,
  type UiState,
} from './ui-state.ts';
import { LESION, PENDING, type UncertaintyStyle, type Viewer } from './viewer.ts';

export type { ProposeOptions, RunState, UiState } from './ui-state.ts';

/** Least time between two repaints of the panels for a running proposal's events (Session.changedByRun). */
export const RUN_REFRESH_MS = 500;

/** The open case and everything done to it: drives the Viewer, talks to the API. */
export class Session {
  caseInfo?: CaseInfo;
  model?: ModelInfo;
  image?: VolumeData;
  history?: EditHistory;
  proposals?: ProposalStore;
  labels?: Uint8Array;
  /** The case's segments (segments.ts); replaced per case, journalled like every edit. */
  segments!: SegmentStore;
  ui: UiState;
  /** The Refine tool: clicks that guide a re-proposal (refine.ts). */
  readonly refine: Refiner;
  private listeners = new Set<(ui: UiState) => void>();
  /** The helpers the session's parts use (session-core.ts). */
  private readonly core: SessionCore;
  /** Starts, streams and cancels proposal runs (proposal-run.ts). */
  private readonly proposalRun: ProposalRun;
  /** The segment table's add/change/delete, in step with the viewer (segment-actions.ts). */
  private readonly segmentActions: SegmentActions;
  private emitQueued = false;

  constructor(
    readonly api: QuorumApi,
    readonly viewer: Viewer,
  ) {
    this.ui = initialUi(viewer.uncertaintyStyle);
    this.journalQueue = new JournalQueue(api, () => this.caseInfo?.id, {
      paused: (why) => this.editing.pause(why),
      resumed: () => this.editing.resume(),
      failed: (e) => this.fail(e),
    });
    this.segments = new SegmentStore(this.journal);
    this.core = {
      set: (patch) => this.set(patch),
      setByRun: (patch) => {
        this.ui = { ...this.ui, ...patch };
        this.changedByRun();
      },
      editingPaused: () => this.editingPaused(),
      labelsChanged: (slices) => this.labelsChanged(slices),
      journal: this.journal,
    };
    this.proposalRun = new ProposalRun(this, this.core);
    this.segmentActions = new SegmentActions(this, this.core);
    this.refine = new Refiner(sessionRefineHost(this, this.core));
    viewer.onChange(() => this.changed());
    watchStrokes(this);
  }

  subscribe(cb: (ui: UiState) => void): () => void {
    this.listeners.add(cb);
    cb(this.ui);
    return () => this.listeners.delete(cb);
  }

  /** Coalesces updates to one per animation frame. */
  changed(): void {
    if (this.emitQueued) return;
    this.emitQueued = true;
    requestAnimationFrame(() => {
      this.emitQueued = false;
      this.refresh();
    });
  }

  /**
   * An update caused by a running proposal's own events (progress, streamed slices): at most one
   * repaint of the panels per RUN_REFRESH_MS. Without a GPU, each repaint of the page costs the
   * compositor ~50 ms of CPU whatever changed (measured with SwiftShader), taken from the engine
   * on the same cores once per progress or slice event (`npm run bench viewer`).
   */
  private changedByRun(): void {
    this.runRefresh.request();
  }

  private readonly runRefresh = new RateLimited(RUN_REFRESH_MS, () => this.changed());

  private refresh() {
    this.ui = currentUi(this, this.census);
    this.calipers.show(this.ui.calipers ? this.ui.activeMeasure : undefined, this.caseInfo?.geometry);
    for (const cb of this.listeners) cb(this.ui);
  }

  /** Voxels per label value and the slices with pending voxels: recounted where the labelmap changed. */
  private census?: LabelCensus;
  /** The active segment's measurement drawn on its slice (calipers.ts). */
  readonly calipers = new Calipers();

  /** The slices k holding pending (proposed, not yet reviewed) voxels, in order. */
  pendingSlices(): number[] {
    return this.census?.pendingSlices() ?? [];
  }

  private labelsChanged(slices: number[]) {
    this.census?.changed(slices);
    this.viewer.labelsChanged(slices);
  }

  private set(patch: Partial<UiState>) {
    this.ui = { ...this.ui, ...patch };
    this.changed();
  }

  fail(e: unknown): void {
    this.set({ error: errorMessage(e), loading: false, exporting: false });
  }

  /** The × of the error box or of the journal notice. */
  dismissError(which: 'error' | 'journalNotice' = 'error'): void {
    this.set({ [which]: undefined });
  }

  async open(what: () => Promise<CaseInfo>): Promise<void> {
    this.set({ loading: true, error: undefined });
    try {
      if (this.ui.run.running && this.ui.run.runId) await this.api.cancel(this.ui.run.runId);
      this.model ??= await this.api.getModelInfo();
      await this.journalQueue.flush();
      if (this.journalQueue.pending)
        throw new Error('Edits not saved yet: opening another case would lose them');
      const info = await what();
      const seq = pickSequence(info, this.model);
      const image = await this.api.getVolume(info.id, seq);
      const [nx, ny, nz] = image.dims;
      const labels = new Uint8Array(nx * ny * nz);
      this.caseInfo = info;
      this.image = image;
      this.labels = labels;
      this.proposals = new ProposalStore(labels, nx * ny);
      this.census = new LabelCensus(labels, nx * ny);
      this.history = new EditHistory(labels, nx * ny, this.journal);
      this.segments = new SegmentStore(this.journal);
      this.refine.reset();
      this.segmentActions.guardStrokes();
      if (this.viewer.uncertaintyStyle.autoMax) this.viewer.uncertaintyStyle.max = 0.05;
      // The work of an earlier session, closed or crashed, from the case journal (replay.ts).
      const { held, ...r } = await replayCase(this, info.id);
      this.journalHeld = held;
      for (const p of this.proposals.slices.values())
        followStdMax(this.viewer, this.proposals.uncertainty, this.sliceSize(), p.k);
      const notice = await this.startFromLabels(info);
      this.census.changed();
      this.segmentActions.show();
      await this.viewer.showCase(image, labels, this.proposals.uncertainty);
      this.calipers.show(undefined, undefined); // drawn again, on this case's volumes, at the next refresh
      this.viewer.setTool(this.ui.tool);
      this.viewer.setBrushSize(this.ui.brushSize);
      this.set({
        loading: false,
        exportResult: undefined,
        caseWarning: undefined,
        ...r,
        ...(notice ? { notice } : {}),
      });
    } catch (e) {
      this.fail(e);
    }
  }

  /** What the case's journal held at open (labels read in only start a case without work). */
  private journalHeld: JournalBase = { records: 0 };

  private startFromLabels(info: CaseInfo, force = false): Promise<string | undefined> {
    if (!this.labels) return Promise.resolve(undefined);
    return startFromLabels(this.api, info, this.labels, this.journalHeld, this.journal, this.segments, force);
  }

  /** "Start over": forgets the restored work (a reset record, so a later replay skips it too). */
  async discardRestored(): Promise<void> {
    if (this.editingPaused() || !this.caseInfo || !this.labels || !this.image) return;
    this.journal([resetRecord()]);
    const [nx, ny] = this.image.dims;
    this.labels.fill(0);
    this.proposals = new ProposalStore(this.labels, nx * ny);
    this.history = new EditHistory(this.labels, nx * ny, this.journal);
    this.segments.reset();
    this.segmentActions.guardStrokes();
    // A case that started from a label file starts over from its labels (and their segments).
    const notice = this.caseInfo.labelsIn
      ? await this.startFromLabels(this.caseInfo, true).catch((e) => errorMessage(e))
      : restartFromJournalLabels(this.journalHeld, this.labels, nx * ny, this.journal, this.segments);
    this.census?.changed();
    this.segmentActions.show();
    await this.viewer.showCase(this.image, this.labels, this.proposals.uncertainty);
    this.calipers.show(undefined, undefined);
    this.set({ restored: undefined, ...(notice ? { notice } : {}) });
  }

  /** Shows (or, undefined, clears) a warning about the open case over the viewer. */
  warnCase(text: string | undefined): void {
    this.set({ caseWarning: text });
  }

  /** Keeps the restored work and hides the notice. */
  dismissRestored(): void {
    this.set({ restored: undefined });
  }

  /** The case journal, appended in order; a write failure pauses editing (journal-queue.ts). */
  private readonly journalQueue: JournalQueue;
  private journal = (records: JournalRecord[]) => this.journalQueue.push(records);

  /** "Retry now" (it also retries by itself every few seconds). */
  retryJournal(): Promise<void> {
    return this.journalQueue.retry();
  }

  /** The journal cannot be written: no edits until it can, then the tool back (editing-pause.ts). */
  private readonly editing = new EditingPause(this, (patch) => this.set(patch));

  /** True (and says so) while edits are paused because the journal cannot be written. */
  private editingPaused(): boolean {
    return this.editing.check();
  }

  /** Journal records not yet acknowledged (on disk) by the host. */
  get journalInFlight(): number {
    return this.journalQueue.pending;
  }

  /**
   * Proposal slices from any source (the engine's stream, a pre-labelled case's files): into the
   * labelmap as pending, the uncertainty overlay and the journal. `streamed`: a running
   * proposal's slices, drawn and shown in the panels at a bounded rate (viewer.proposalChanged,
   * changedByRun); otherwise drawn at once (a Refine click's slices, a proposal read from disk).
   */
  addProposalSlices(results: SliceResult[], streamed = false): void {
    if (!this.proposals) return;
    for (const r of results) {
      this.proposals.add(r);
      followStdMax(this.viewer, r.std, this.sliceSize());
    }
    const ks = results.map((r) => r.k);
    this.journal(results.map(proposalRecord));
    if (streamed) {
      this.census?.changed(ks);
      this.viewer.proposalChanged(ks);
      this.changedByRun();
    } else {
      this.labelsChanged(ks);
      this.viewer.uncertaintyChanged(ks);
      this.changed();
    }
  }

  async showSequence(seq: SequenceName): Promise<void> {
    if (!this.caseInfo) return;
    this.set({ loading: true });
    try {
      this.image = await this.api.getVolume(this.caseInfo.id, seq);
      await this.viewer.showImage(this.image);
      this.set({ loading: false });
    } catch (e) {
      this.fail(e);
    }
  }

  async assignSequence(path: string, seq: SequenceName): Promise<void> {
    if (!this.caseInfo) return;
    try {
      this.caseInfo = await this.api.assignSequence(this.caseInfo.id, path, seq);
      const shown = this.caseInfo.sequences.find((s) => s.sequence === this.image?.sequence);
      if (shown && shown.path !== this.image?.source.path) await this.showSequence(shown.sequence);
      this.changed();
    } catch (e) {
      this.fail(e);
    }
  }

  setTool(mode: ToolMode): void {
    if (EDIT_TOOLS.includes(mode) && this.editingPaused()) return;
    this.viewer.setTool(mode);
    this.set({ tool: mode });
    this.segmentActions.show(); // the eraser locks every segment but the active one (segment-actions.ts)
  }

  setBrushSize(mm: number): void {
    this.viewer.setBrushSize(mm);
    this.set({ brushSize: mm });
  }

  setLabelmapVisible(v: boolean): void {
    this.viewer.setLabelmapVisible(v);
    this.set({ labelmapVisible: v });
  }

  setUncertainty(s: Partial<UncertaintyStyle>): void {
    this.viewer.setUncertaintyStyle(s);
    this.changed();
  }

  /** Draws (or hides) the active segment's RANO calipers on the slice it was measured on. */
  setCalipers(on: boolean): void {
    this.set({ calipers: on });
  }

  setMembersVisible(v: boolean): void {
    this.set({ membersVisible: v });
  }

  /** A stroke met locked segments (strokes.ts): they were put back; repaint and say so. */
  strokeReverted(slices: number[]): void {
    this.labelsChanged(slices);
    this.set({ notice: 'Locked segments were left as they were' });
  }

  /** A stroke became an edit (strokes.ts): repaint its slices. */
  strokeRecorded(slices: number[]): void {
    this.labelsChanged(slices);
    this.changed();
  }

  undo(): void {
    if (this.editingPaused()) return;
    const cmd = this.history?.undo();
    if (cmd) this.labelsChanged(cmd.slices);
    if (cmd?.kind === 'segment-delete') this.segmentActions.deleteUndone(cmd.before[0], 'undo');
    if (cmd?.kind === 'refine') this.refine.undone(cmd, 'undo');
    this.changed();
  }

  redo(): void {
    if (this.editingPaused()) return;
    const cmd = this.history?.redo();
    if (cmd) this.labelsChanged(cmd.slices);
    if (cmd?.kind === 'segment-delete') this.segmentActions.deleteUndone(cmd.before[0], 'redo');
    if (cmd?.kind === 'refine') this.refine.undone(cmd, 'redo');
    this.changed();
  }

  currentSlice(): number {
    return this.viewer.sliceInfo(this.viewer.sliceViewport()).index;
  }

  /** Accept (pending -> the active segment) or reject (pending -> background) on one slice or all. */
  review(kind: 'accept' | 'reject', scope: 'slice' | 'all'): void {
    reviewSlices(this, this.core, this.segmentActions, kind, scope);
  }

  /** Accepts or rejects the 3D connected proposal component at a voxel (review.ts); its voxel count. */
  reviewComponent(kind: 'accept' | 'reject', ijk: [number, number, number]): number {
    return reviewComponentAt(this, this.core, this.segmentActions, kind, ijk);
  }

  /**
   * Fills the empty slices between slices drawn with each label value (pending proposals aside),
   * along the axis of `view`, never over a labelled voxel: one undo step (interpolate.ts).
   */
  interpolate(view: ViewportName = 'axial'): Promise<void> {
    return interpolateCase(this, this.core, view);
  }

  /** Accepts or rejects a lesion of the Proposal panel's list, whole (one undo step). */
  reviewLesion(kind: 'accept' | 'reject', c: Component): number {
    return reviewComponentFrom(this, this.core, this.segmentActions, kind, c.seed);
  }

  /** Shows the file's slice k in the view that steps through the file's slices (Viewer.sliceViewport). */
  goToFileSlice(k: number): void {
    this.viewer.goToSlice(this.viewer.sliceViewport(), k);
  }

  /** Shows a proposed lesion of the Proposal panel's list: its middle slice. */
  goToLesion(c: Component): void {
    this.goToFileSlice(Math.round(c.centroid[2]));
  }

  nextUncertain(): void {
    const k = this.proposals?.nextUncertain(this.currentSlice());
    if (k !== undefined) this.goToFileSlice(k);
  }

  /** Starts a run (with `prompts`: a refinement, refine.ts); false when it did not start. */
  propose(slices: SliceSelection, opts: ProposeOptions, prompts?: Prompts): Promise<boolean> {
    return this.proposalRun.start(slices, opts, prompts);
  }

  /** Esc: stops the run (once the host has answered with its id, if it has not yet). */
  cancel(): Promise<void> {
    return this.proposalRun.cancel();
  }

  /** Voxels of one axial slice of the open image (the heat map's colour range follows each slice). */
  private sliceSize(): number | undefined {
    return this.image ? this.image.dims[0] * this.image.dims[1] : undefined;
  }

  /** Exports the case through the host (export.ts); ui.exportResult or ui.error says how it went. */
  export(formats: ExportFormat[], includePending: boolean, targetDir?: string): Promise<void> {
    return exportCase(this, this.core, formats, includePending, targetDir);
  }

  /** A new segment, from the presets or user-named, made active. */
  addSegment(name: string, colour?: Rgb): boolean {
    return this.segmentActions.add(name, colour);
  }

  /** Rename, recolour, show/hide, lock/unlock or make active (add and delete have their own). */
  changeSegment(op: SegmentOp & { action: Exclude<SegmentAction, 'add' | 'delete'> }): boolean {
    return this.segmentActions.apply(op);
  }

  /** Deletes a segment and clears its voxels (one undoable edit; undoing it brings the segment back). */
  deleteSegment(value: number): boolean {
    return this.segmentActions.delete(value);
  }

  /** Voxel counts per label value (test hook and status line). */
  labelCounts(): Record<number, number> {
    const out: Record<number, number> = { 0: 0, [LESION]: 0, [PENDING]: 0 };
    for (const v of this.labels ?? []) out[v] = (out[v] ?? 0) + 1;
    return out;
  }
}
