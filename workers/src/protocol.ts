import type { SliceResult } from '../../core/src/api.ts';
import type { EdgeRule } from '../../core/src/contrast-grow.ts';
import type { IslandRule } from '../../core/src/islands.ts';
import type { CropMode, SamplerName } from '../../core/src/lists.ts';
import type { AgreementSums } from '../../core/src/metrics.ts';
import type { Prompts } from '../../core/src/prompts.ts';
import type { DisconnectedEvent } from '../../core/src/rpc/channel.ts';
import type { Mat3, SequenceName, Vec3 } from '../../core/src/volume.ts';

/**
 * What a host (CLI, browser-mode host, Electron main) and the engine process exchange, over the
 * RPC layer (core/src/rpc) on Node IPC with structured-clone serialisation, so typed arrays
 * travel as binary. The same shapes are used unchanged in every mode.
 */
export type { Device, SamplerName } from '../../core/src/lists.ts';

export interface ChannelVolume {
  dims: Vec3;
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
  data: Float32Array;
}

/** Where a channel's float32 voxels lie in a case file: geometry plus a byte offset and a length. */
export interface ChannelGeometry {
  dims: Vec3;
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
  /** Byte offset of the channel's float32 voxels (a multiple of 4). */
  offset: number;
  /** Voxel count. */
  length: number;
}

/**
 * A case's channel volumes written once to a private file by the host (workers/src/host/case-files.ts):
 * a request names it instead of carrying ~70 MB, so control messages (cancel) never queue behind
 * bulk data on the IPC pipe. The engine keeps a small LRU of cases read, keyed by `key`.
 */
export interface CaseFileRef {
  /** Unique per case content (a new key when a case's channels change). */
  key: string;
  path: string;
  channels: Partial<Record<SequenceName, ChannelGeometry>>;
}

export interface ProposeRequest {
  /**
   * Volumes by sequence; the engine picks the model's channels and says which are missing.
   * Either inline (CLI, tests) or `caseFile` (the host): exactly one is given.
   */
  volumes?: Partial<Record<SequenceName, ChannelVolume>>;
  caseFile?: CaseFileRef;
  caseName: string;
  /**
   * Inclusive range of native slices k (voxel axis 2, axial in most files; results come per k
   * whatever axis the model slices along); default: every slice the model's preprocessing proposes.
   */
  slices?: [number, number];
  members?: number;
  steps?: number;
  sampler?: SamplerName;
  eta?: number;
  seed?: number;
  /**
   * Where the network runs on a slice: 'head' its head box, 'off' the whole frame (engine/crop.ts).
   * Absent: the manifest's `recommended.crop`, else 'head'.
   */
  crop?: CropMode;
  /** Also return each member's binary mask per slice. */
  keepMembers?: boolean;
  /** Clicks that guide the proposal (a prompt model only; core/src/prompts.ts). */
  prompts?: Prompts;
  /** With prompts: propose only the slices they touch (the viewer's Refine), not the whole range. */
  onlyTouched?: boolean;
}

/** The API's slice result (one type), plus what the host and CLI sum over a case. */
export interface EngineSliceResult extends SliceResult {
  entropy: Float32Array;
  lesionAreaMm2: number;
  /** Member-agreement pixel counts on the model grid, for the case confidence (core/src/metrics.ts). */
  agreement: AgreementSums;
}

export interface ProposeSummary {
  slices: number[];
  skipped: number[];
  members: number;
  steps: number;
  sampler: SamplerName;
  eta: number;
  seed: number;
  /** Where the network ran ('off' also when the model cannot take crops: fixed H/W). */
  crop: CropMode;
  /**
   * Pixels the network ran on / every member's whole frame at every step (the saving of the crop and
   * of a shared first step; 1 without either).
   */
  frameFraction: number;
  /**
   * Slices apart that the context neighbours were read (manifest contextMinChange,
   * core/src/context-frame.ts contextStride); absent for a model without context.
   */
  contextStride?: number;
  /**
   * Model slices the network ran on (with their clicks); a slice already sampled with the same
   * settings and clicks, in this run or an earlier one on the same host case, is taken from
   * workers/src/engine/sample-cache.ts instead.
   */
  sampled?: number;
  device: string;
  deviceNote?: string;
  model: { name: string; version: string };
  seconds: { total: number; perSlice: number; model: number };
  /** Member-agreement Dice over the proposed slices, 0..1 (core/src/metrics.ts caseConfidence). */
  confidence: number;
  /** The model's low-confidence threshold (manifest caseConfidence.lowBelow, else 0.8). */
  confidenceLowBelow: number;
  /**
   * The sigma (voxels) of the uncertainty map the model asks for (manifest
   * recommended.uncertaintySigmaVoxels, else 0): slice results carry the members' std; whoever
   * assembles the volume makes the map (core/src/uncertainty-map.ts).
   */
  uncertaintySigmaVoxels: number;
  /**
   * The model's rule for small uncertain islands (manifest recommended.dropIslands), applied by
   * whoever assembles the whole volume (core/src/islands.ts); absent: the model has none.
   */
  dropIslands?: IslandRule;
  /**
   * The model's rule for the proposal's edge (manifest recommended.growEdge), applied after the
   * island rule by whoever assembles the whole volume (core/src/contrast-grow.ts); absent: none.
   */
  growEdge?: EdgeRule;
  /**
   * With prompts: the slices whose proposal the clicks conditioned (own slice and propagated),
   * along the model's slice axis (native k for a file stored in axial slices).
   */
  touched?: number[];
}

export type { SliceResult };

/** What the engine process serves (core/src/rpc over Node IPC, structured clone). */
export const ENGINE_METHODS = {
  /** call() → EngineInfo, once the model is loaded. */
  info: 'info',
  /** stream(request) → null; EngineEvents follow, ending with done, cancelled, error or disconnected. */
  propose: 'propose',
  /** call(caseFile, caseName) → CasePlan: reads the case into the engine's cache, says what it would propose. */
  prepare: 'prepare',
  /** call() → EngineStats: memory and cache, for diagnostics and the bench. */
  stats: 'stats',
  /** call(RegisterRequest) → RegisterResult: rigid registration (elastix) of one sequence onto another. */
  register: 'register',
} as const;

/**
 * Rigid registration in the engine (core/src/node/register.ts), so that elastix (seconds of
 * WebAssembly per sequence) never runs on the host's event loop. The two volumes travel by file as
 * a case's channels do: `file.channels` holds `fixed` and `moving` under those sequence names.
 */
export interface RegisterRequest {
  file: CaseFileRef;
  /** Keys of `file.channels`. */
  fixed: SequenceName;
  moving: SequenceName;
  /** For messages: the case and the sequence, e.g. "pat222 t1c". */
  name: string;
}

export interface RegisterResult {
  /** The moving volume on the fixed grid (trilinear), fixed.dims product voxels. */
  data: Float32Array;
  rotationDeg: number;
  translationMm: number;
  parameters: number[];
  seconds: number;
  /** The engine's process id: where elastix ran. */
  pid: number;
}

/** What the engine would propose on a case: the host cuts runs into batches from it. */
export interface CasePlan {
  /** The model's slice axis: 2 = native slices one by one; otherwise whole volumes only. */
  sliceAxis: 0 | 1 | 2;
  /** Native slices k the model proposes, ascending. */
  nativeSlices: number[];
}

export interface EngineStats {
  rssBytes: number;
  heapUsedBytes: number;
  externalBytes: number;
  cachedCases: number;
}

export interface EngineInfo {
  device: string;
  note?: string;
  model: { name: string; version: string };
}

/** The events of one propose stream (the RPC envelope carries the run's id). */
export type EngineEvent =
  | {
      type: 'progress';
      done: number;
      total: number;
      slice: number;
      step: number;
      steps: number;
      etaSeconds: number;
    }
  | { type: 'slice'; result: EngineSliceResult }
  | { type: 'done'; summary: ProposeSummary }
  | { type: 'cancelled' }
  | { type: 'error'; code: string; message: string }
  | DisconnectedEvent;

export function isFinalEngineEvent(e: EngineEvent): boolean {
  return e.type === 'done' || e.type === 'cancelled' || e.type === 'error' || e.type === 'disconnected';
}
