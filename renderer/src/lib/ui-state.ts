import type { CaseInfo, ExportResult, ModelInfo, VolumeData } from '../../../core/src/api.ts';
import type { Component } from '../../../core/src/components.ts';
import type { Bidimensional } from '../../../core/src/diameters.ts';
import { voxelVolumeMl } from '../../../core/src/geometry.ts';
import type { SegmentInfo } from '../../../core/src/segments.ts';
import type { SequenceName } from '../../../core/src/volume.ts';
import type { ToolMode, ViewportName } from './engine.ts';
import type { LabelCensus } from './label-census.ts';
import { PENDING } from './label-values.ts';
import type { ReplaySummary } from './replay.ts';
import type { Session } from './session.ts';
import type { SliceInfo, UncertaintyStyle } from './viewer.ts';

/** UI state of the Session (session.ts): its types, kept apart so components import only types, and how it is built. */

export interface RunState {
  runId?: string;
  running: boolean;
  slicesDone: number;
  slicesTotal: number;
  step: number;
  of: number;
  etaSeconds?: number;
  message?: string;
}

export interface ProposeOptions {
  members: number;
  steps: number;
  seed?: number;
}

/** Everything the UI shows, as one plain object (App.svelte keeps it in $state). */
export interface UiState {
  caseInfo?: CaseInfo;
  model?: ModelInfo;
  sequence?: SequenceName;
  loading: boolean;
  error?: string;
  slices: Record<ViewportName, SliceInfo>;
  /** The file's slice k shown (in the view that steps through voxel axis 2: Viewer.sliceViewport). */
  currentSlice: number;
  window?: { lower: number; upper: number };
  range?: VolumeData['range'];
  tool: ToolMode;
  brushSize: number;
  canUndo: boolean;
  canRedo: boolean;
  labelmapVisible: boolean;
  uncertainty: UncertaintyStyle;
  membersVisible: boolean;
  run: RunState;
  proposed: number[];
  pending: number[];
  editedSlices: number[];
  currentScore?: number;
  exportResult?: ExportResult;
  exporting: boolean;
  /** Set when opening the case replayed its journal (work restored after a close or a crash). */
  restored?: ReplaySummary;
  /** A short status line (e.g. what a click with the lesion tool did). */
  notice?: string;
  /** A warning about the open case shown over the viewer (dataset mode: a low-confidence proposal). */
  caseWarning?: string;
  /** Opening the case set aside an unreadable end of its journal (the host's message). */
  journalNotice?: string;
  /**
   * Set while the journal cannot be written (disk full, no permission): why, for the user. Edits
   * are paused (edit tools, undo/redo, review, propose) until a retry writes every pending record.
   */
  notSaved?: string;
  /** The case's segments (core/src/segments.ts) and the one tools and accepted proposals write. */
  segments: SegmentInfo[];
  activeSegment: number;
  /** One voxel's volume in mL (core/src/geometry.ts voxelVolumeMl, as the export report has it). */
  voxelMl: number;
  /** mL of each label value present in the labelmap (segments, and PENDING: the unaccepted proposal). */
  volumeMl: Record<number, number>;
  /** The active segment's RANO bidimensional measurement (core/src/diameters.ts), when it has voxels. */
  activeMeasure?: Bidimensional;
  /**
   * Draw that measurement's calipers on the slice it was measured on (calipers.ts). Off until asked
   * for (the box, or `Go` to the measured slice): drawn while painting, they would cover the stroke.
   */
  calipers: boolean;
  /** The proposal's lesions (3D components of pending voxels), largest first. */
  pendingLesions: Component[];
  /** Refine tool (refine.ts): its clicks so far, and whether labelled voxels are kept from it. */
  refineClicks?: number;
  protectEdited?: boolean;
}

/** A volume for the panels: 2 decimals under 10 mL, 1 above; a dash when unknown. */
export const formatMl = (ml?: number): string => (ml === undefined ? '–' : ml.toFixed(ml < 10 ? 2 : 1));

/** Tools that change the labelmap: off while the journal cannot be written (UiState.notSaved). */
export const EDIT_TOOLS: readonly ToolMode[] = ['brush', 'eraser', 'threshold', 'fill', 'lesion', 'refine'];

export function pickSequence(info: CaseInfo, model: ModelInfo | undefined): SequenceName {
  const have = info.sequences.map((s) => s.sequence);
  for (const s of model?.channels ?? ['flair']) if (have.includes(s)) return s;
  return have[0] ?? 'flair';
}

/** The UI state before any case is open. */
export function initialUi(uncertainty: UncertaintyStyle): UiState {
  const s = { index: 0, count: 0 };
  return {
    loading: false,
    slices: { axial: s, sagittal: s, coronal: s },
    currentSlice: 0,
    tool: 'windowlevel',
    brushSize: 6,
    canUndo: false,
    canRedo: false,
    labelmapVisible: true,
    uncertainty,
    membersVisible: true,
    run: { running: false, slicesDone: 0, slicesTotal: 0, step: 0, of: 0 },
    proposed: [],
    pending: [],
    editedSlices: [],
    exporting: false,
    segments: [],
    activeSegment: 1,
    voxelMl: 0,
    volumeMl: {},
    calipers: false,
    pendingLesions: [],
  };
}

/** The UI state as the session and its viewer now are (`census`: the labelmap's voxels per value). */
export function currentUi(session: Session, census: LabelCensus | undefined): UiState {
  const { viewer: v, caseInfo, image, history, proposals } = session;
  const k = caseInfo ? session.currentSlice() : 0;
  const pending = census?.pendingSlices() ?? [];
  const streaming = session.ui.run.running;
  const voxelMl = caseInfo ? voxelVolumeMl(caseInfo.geometry) : 0;
  const volumeMl: Record<number, number> = {};
  if (caseInfo && census)
    census.counts().forEach((n, value) => {
      if (value > 0 && n > 0) volumeMl[value] = n * voxelMl;
    });
  return {
    ...session.ui,
    caseInfo,
    model: session.model,
    sequence: image?.sequence === 'label' ? undefined : image?.sequence,
    slices: caseInfo
      ? { axial: v.sliceInfo('axial'), sagittal: v.sliceInfo('sagittal'), coronal: v.sliceInfo('coronal') }
      : session.ui.slices,
    window: caseInfo ? v.getWindow() : undefined,
    range: image?.range,
    canUndo: history?.canUndo ?? false,
    canRedo: history?.canRedo ?? false,
    uncertainty: v.uncertaintyStyle,
    proposed: proposals?.proposedSlices() ?? [],
    pending,
    voxelMl,
    volumeMl,
    // not remade while a run streams in (each streamed slice changes the labels; twice a second
    // the whole-label work would take CPU from the engine): the measure stays, the list waits
    activeMeasure: streaming
      ? session.ui.activeMeasure
      : caseInfo
        ? census?.bidimensional(session.segments.active, caseInfo.geometry)
        : undefined,
    pendingLesions:
      !streaming && caseInfo && pending.length
        ? (census?.components(PENDING, caseInfo.geometry.dims) ?? [])
        : [],
    editedSlices: [...(history?.editedSlices ?? [])].sort((a, b) => a - b),
    currentSlice: k,
    currentScore: proposals?.slices.get(k)?.score,
    segments: session.segments.list,
    activeSegment: session.segments.active,
    refineClicks: session.refine.clicks.length,
    protectEdited: session.refine.protectEdited,
  };
}
