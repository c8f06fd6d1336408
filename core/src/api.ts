import type {
  DatasetEvent,
  PrelabelParams,
  PrelabelQueue,
  Worklist,
  WorklistCase,
  WorklistStatus,
} from './api-dataset.ts';
import type { ExportRequest, ExportResult } from './api-export.ts';
import { PACS_METHODS, PACS_STREAM_METHODS, type PacsApi, type PacsEvent } from './api-pacs.ts';
import type { ProposalEvent, ProposeParams, SliceResult } from './api-proposal.ts';
import type { Device, ExportFormat, Registration, SequenceKind } from './lists.ts';
import type { ModelCard } from './manifest.ts';
import type { WireError } from './rpc/errors.ts';
import type { SamplingSettings } from './sampling.ts';
import type { SegmentInfo } from './segments.ts';
import type { Mat3, SequenceName, Vec3, VolumeSource } from './volume.ts';

export type * from './api-dataset.ts';
export type * from './api-export.ts';
export type * from './api-pacs.ts';
export type * from './api-proposal.ts';
export type { ExportFormat } from './lists.ts';

/**
 * QuorumApi — the ONE interface the renderer talks to. The Node host (workers/src/host/service.ts)
 * implements it (workers/src/host/handlers.ts registers it with the RPC layer, core/src/rpc);
 * Electron carries it over MessagePorts (electron/preload.ts, binary as structured-clone typed
 * arrays) and browser mode over a WebSocket (core/src/api-socket.ts, binary frames of
 * core/src/rpc/frame.ts, so voxels never go through JSON). Every method may reject with an
 * ApiError (core/src/rpc/errors.ts) carrying a QuorumError code; the renderer shows `message`.
 *
 * Everything here is types plus small pure helpers: no DOM, no Node.
 */

/** Voxel grid without the voxels: what cornerstone3D's createLocalVolume needs besides scalars. */
export interface VolumeGeometry {
  dims: Vec3;
  spacing: Vec3;
  origin: Vec3;
  /** LPS unit vectors, i axis first (see core/src/volume.ts). */
  direction: Mat3;
}

export type DType = 'uint8' | 'int16' | 'uint16' | 'int32' | 'float32';

/** One sequence (or the label) of an open case, as binary. data.length = dims product. */
export interface VolumeData extends VolumeGeometry {
  caseId: string;
  sequence: SequenceName | 'label';
  dtype: DType;
  data: Uint8Array | Int16Array | Uint16Array | Int32Array | Float32Array;
  /** Robust display range (0.5th/99.5th percentile of non-background voxels), for W/L presets. */
  range: { min: number; max: number; p005: number; p995: number };
  source: Pick<VolumeSource, 'path' | 'format' | 'datatype' | 'description' | 'warnings'>;
}

export interface CaseSequenceInfo {
  sequence: SequenceName;
  path: string;
  format: VolumeSource['format'];
  description?: string;
  /** Why this file or series was taken as this sequence (core/src/sequence.ts). */
  reason?: string;
  /**
   * How it reached the case's grid: as read, resampled through world coordinates (with overlap and
   * angle), or "registered (rigid, …)" with the rotation and shift found and where elastix ran.
   */
  grid?: string;
}

export interface CaseInfo {
  id: string;
  /** Human name: folder name, or patient name/ID for DICOM. */
  name: string;
  root: string;
  format: 'nifti' | 'dicom';
  geometry: VolumeGeometry;
  sequences: CaseSequenceInfo[];
  /** Sequences the model needs that this case lacks (proposals are disabled until assigned). */
  missingForModel: SequenceName[];
  hasLabel: boolean;
  labelPath?: string;
  /**
   * Set when the case was opened with a label file (OpenCaseOptions.labels): its labels are the
   * starting labelmap (getVolume(id, 'label'), values as in `segments`) unless the case's journal
   * already holds work, which then wins.
   */
  labelsIn?: LabelsInInfo;
  /** True when DICOM SEG export is possible (source is a DICOM series with SOP instance UIDs). */
  canExportDicomSeg: boolean;
  warnings: string[];
}

/** A label file read in as a case's starting labelmap (core/src/labels.ts). */
export interface LabelsInInfo {
  path: string;
  segments: SegmentInfo[];
  /** How it reached the case grid (as read, resampled, DICOM SEG frames placed by ...). */
  grid: string;
  /** Labelled voxels. */
  voxels: number;
}

/** What to open: a file, a folder (NIfTI case or DICOM study), several files, or an explicit mapping. */
export type OpenCaseInput = string | string[] | Partial<Record<SequenceKind, string>>;

/** How a case is opened (all optional: `openCase(input)` opens as before). */
export interface OpenCaseOptions {
  /**
   * How sequences on other grids reach the reference (FLAIR) grid: 'none' (default) through world
   * coordinates; 'rigid' registers every sequence onto it (mutual information, elastix, in the
   * engine process; seconds per sequence) for a patient who moved between series.
   */
  register?: Registration;
  /**
   * A label file to start from (NIfTI label map on the case grid or any other, resampled nearest
   * neighbour; or a DICOM SEG of the case's series): the starting labelmap, to review, correct and
   * export again. Refused with a message naming the file when it cannot be placed on the case.
   */
  labels?: string;
  /**
   * An id the caller picks (unique among its open calls): `cancel(openId)` stops this open while it
   * runs, e.g. a rigid registration (the engine's elastix stops); the call then rejects with
   * 'cancelled'. An open also stops when its connection (the tab) goes.
   */
  openId?: string;
}

/** Browser-mode drag-and-drop carries bytes, not paths; the host stores them in a temp folder. */
export interface UploadedFile {
  name: string;
  bytes: ArrayBuffer;
}

export interface ModelInfo {
  available: boolean;
  /** Why not, when unavailable (e.g. model.onnx missing). */
  message?: string;
  name?: string;
  version?: string;
  description?: string;
  channels: SequenceName[];
  inputSize?: [number, number];
  /** Sampling settings for what a request leaves out (core/src/sampling.ts resolveSampling). */
  recommended: SamplingSettings;
  devices: Device[];
  /** The model takes clicks (manifest `prompts`): the viewer's Refine tool works. */
  prompts?: boolean;
  /** What the reader is told about it (manifest `card`; About the model); absent when the manifest has none. */
  card?: ModelCard;
  /** A proposal whose case confidence is below this is flagged (manifest caseConfidence.lowBelow). */
  lowConfidenceBelow?: number;
  /** The licences of its training data (manifest training.licence). */
  licence?: string;
}

export interface AppInfo {
  version: string;
  mode: 'electron' | 'browser';
  /** Case opened at start-up (sample case or command-line path), if any. */
  initialCase?: string;
  sampleCase?: string;
  /** Native dialogs exist (Electron); in browser mode the renderer asks for a path instead. */
  nativeDialogs: boolean;
  /** The export formats the host can write (workers/src/exports/), for the export dialog. */
  exportFormats: ExportFormatInfo[];
}

/** One export format as the export dialog shows it. */
export interface ExportFormatInfo {
  format: ExportFormat;
  label: string;
  /** What it needs: a DICOM source series (CaseInfo.canExportDicomSeg) or a proposal to export. */
  needs?: 'dicom-source' | 'proposal';
  /** Ticked when the dialog opens. */
  byDefault?: boolean;
  /** Can also be written into proposal folders (CLI --export, pre-labelling: PrelabelParams.exports). */
  inProposals: boolean;
}

export interface RecentEntry {
  input: OpenCaseInput;
  name: string;
  openedAt: string;
}

/**
 * A journal entry as carried over the API. The host stores records as they come
 * (workers/src/host/journal-store.ts); the renderer defines the ops and replays them
 * (renderer/src/lib/edits.ts, renderer/src/lib/replay.ts).
 */
export interface JournalRecord {
  /** JSON-able op (the renderer's journal op). */
  op: Record<string, unknown>;
  /** Binary payload of the op (e.g. previous/next voxel values), if any. */
  bytes?: Uint8Array;
}

/** Said when reading a journal set aside an unreadable tail (journal-store.ts). */
export interface JournalNotice {
  /** Bytes after the last readable record. */
  bytes: number;
  /** Where they were copied (`<journal>.corrupt-<time>`); absent when that failed (they stay in the journal). */
  sideFile?: string;
  /** For the user: "The last N bytes of this case's journal were unreadable and were set aside in …". */
  message: string;
}

/** A case's journal as read back: every readable record, in order, and what was set aside. */
export interface JournalRead {
  records: JournalRecord[];
  notice?: JournalNotice;
}

/** Any event streamed to a callback of a streaming method (propose, prelabel). */
export type ApiEvent = ProposalEvent | DatasetEvent | PacsEvent;

/** True for the last event of a stream (the transport drops its listener after it). */
export function isFinalEvent(e: ApiEvent): boolean {
  return (
    e.type === 'done' ||
    e.type === 'cancelled' ||
    e.type === 'error' ||
    e.type === 'disconnected' ||
    (e.type === 'queue' && e.state !== 'running')
  );
}

/** Native-menu commands Electron forwards to the renderer (browser mode: the renderer's own keys). */
export type MenuCommand =
  | 'open-file'
  | 'open-folder'
  | 'export'
  | 'undo'
  | 'redo'
  | 'toggle-proposal'
  | 'toggle-uncertainty'
  | 'toggle-members'
  | 'layout-1x1'
  | 'layout-1x3'
  | 'next-uncertain'
  | 'about-model'
  | 'propose-slice'
  | 'propose-all'
  | 'cancel-proposal';

export interface QuorumApi extends PacsApi {
  /** Electron only: native menu commands (after the main process handled dialogs, e.g. open). */
  onMenu?(listener: (cmd: MenuCommand, paths?: string[]) => void): () => void;
  /** Electron only: the file-system path of a dropped File (drag-and-drop opens by path). */
  pathForFile?(file: unknown): string;

  getAppInfo(): Promise<AppInfo>;
  getModelInfo(): Promise<ModelInfo>;
  openSample(options?: OpenCaseOptions): Promise<CaseInfo>;
  openCase(input: OpenCaseInput, options?: OpenCaseOptions): Promise<CaseInfo>;
  openUploaded(files: UploadedFile[], options?: OpenCaseOptions): Promise<CaseInfo>;
  /** Reassign a sequence; returns the updated case (same id). */
  assignSequence(caseId: string, path: string, sequence: SequenceName): Promise<CaseInfo>;
  closeCase(caseId: string): Promise<void>;
  listRecent(): Promise<RecentEntry[]>;
  getVolume(caseId: string, sequence: SequenceName | 'label'): Promise<VolumeData>;
  /** Native open dialog (Electron); resolves null when cancelled or unavailable (browser mode). */
  pickPaths(kind: 'files' | 'folder'): Promise<string[] | null>;
  /** Starts a run; events stream to onEvent until done/cancelled/error. Resolves with the runId. */
  propose(params: ProposeParams, onEvent: (e: ProposalEvent) => void): Promise<{ runId: string }>;
  /** Stops a proposal run, or an open in progress by the openId it was given (OpenCaseOptions.openId). */
  cancel(runId: string): Promise<void>;
  export(req: ExportRequest): Promise<ExportResult>;
  /**
   * Appends edit records to the case's crash-safe journal. The host writes and fsyncs them before
   * resolving; call it after every stroke (or batch for at most ~1 s) so that a crash loses at
   * most the last second of work. Rejects with a 'not-saved' QuorumError when the write fails
   * (disk full, no permission, I/O error): nothing of that call is on disk, and sending the same
   * records again once the journal is writable appends them in order, with no gap.
   */
  appendJournal(caseId: string, records: JournalRecord[]): Promise<void>;
  /**
   * Every readable record of the case's journal. An unreadable tail (torn, zero-filled, garbled)
   * is moved to a side file and cut off, so later appends stay readable; `notice` says so.
   */
  readJournal(caseId: string): Promise<JournalRead>;

  /** Opens (or reopens) a dataset folder as a worklist; resumes a pre-labelling queue left running. */
  openDataset(folder: string): Promise<Worklist>;
  getWorklist(datasetId: string): Promise<Worklist>;
  setCaseStatus(datasetId: string, caseName: string, status: WorklistStatus): Promise<WorklistCase>;
  /** The next case not done, in worklist order (lowest confidence first), after `after` if given; null when all are done. */
  nextCase(datasetId: string, after?: string): Promise<WorklistCase | null>;
  /**
   * Starts or resumes background pre-labelling (one case at a time) and streams its events until
   * it pauses or runs out of cases. Already running: just subscribes (params are ignored).
   */
  prelabel(
    datasetId: string,
    params: PrelabelParams,
    onEvent: (e: DatasetEvent) => void,
  ): Promise<PrelabelQueue>;
  /** Pauses the queue; the case in flight is cancelled and redone on resume. */
  pausePrelabel(datasetId: string): Promise<PrelabelQueue>;
  /**
   * A pre-labelled proposal read back for review: `proposalDir` is a proposal folder (a worklist
   * case's `proposalDir`, or a `quorum propose` / `propose-dataset --out` case folder) holding
   * mask.nii.gz (uint8), uncertainty.nii.gz (float32 std) and report.json. Returns one result per
   * slice with a mask voxel or a non-zero std, sorted by k, on the open case's grid, ready for the
   * same path as streamed slices (the renderer's Session.addProposalSlices). `mean` is the mask as
   * 0/1 (the files keep no mean), `memberCount` the report's members, `score` the report's slice
   * uncertainty (the engine's score: sum of std x pixel area, mm²), computed the same way from the
   * std for a slice the report does not list. The host also keeps the std for exports, as after
   * `propose`. Rejects with a QuorumError naming the file when one is missing ('not-found') or
   * unreadable ('corrupt', or the NIfTI reader's code), or when its dims differ from the case's
   * volume ('bad-argument').
   */
  loadProposal(caseId: string, proposalDir: string): Promise<SliceResult[]>;
}

/** Request/response methods (the Electron-only helpers onMenu/pathForFile are local to the preload). */
export type ApiMethod = Exclude<keyof QuorumApi, 'onMenu' | 'pathForFile'>;
/** Every method that crosses a process boundary; the STREAM_METHODS among them are RPC streams. */
export const API_METHODS: readonly ApiMethod[] = [
  'getAppInfo',
  'getModelInfo',
  'openSample',
  'openCase',
  'openUploaded',
  'assignSequence',
  'closeCase',
  'listRecent',
  'getVolume',
  'pickPaths',
  'propose',
  'cancel',
  'export',
  'appendJournal',
  'readJournal',
  'openDataset',
  'getWorklist',
  'setCaseStatus',
  'nextCase',
  'prelabel',
  'pausePrelabel',
  'loadProposal',
  ...PACS_METHODS,
];

/** Methods whose last argument is an event callback: RPC streams (core/src/rpc/channel.ts). */
export const STREAM_METHODS = [
  'propose',
  'prelabel',
  ...PACS_STREAM_METHODS,
] as const satisfies readonly ApiMethod[];
export type StreamMethod = (typeof STREAM_METHODS)[number];

/** Error as it crosses a process boundary (core/src/rpc/errors.ts). */
export type ApiErrorShape = WireError;

/** Axis-aligned in-plane index helper: voxel (i, j) of slice k in a volume's flat array. */
export function voxelIndex(dims: Vec3, i: number, j: number, k: number): number {
  return i + dims[0] * (j + dims[1] * k);
}

/** Where the API lives: Electron's preload exposes it as window[QUORUM_GLOBAL]; browser mode at WS_PATH. */
export const QUORUM_GLOBAL = 'quorum';
export const WS_PATH = '/api';
