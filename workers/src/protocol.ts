import type { QuorumErrorCode } from '../../core/src/errors.ts';
import type { SamplerName } from '../../core/src/lists.ts';
import type { AgreementSums } from '../../core/src/metrics.ts';
import type { Mat3, SequenceName, Vec3 } from '../../core/src/volume.ts';

/**
 * Messages between a host (CLI, browser-mode host, Electron main) and the engine process.
 * Carried over Node IPC with structured-clone serialisation, so typed arrays travel as binary.
 * The same shapes are used unchanged in every mode.
 */
export type { Device, SamplerName } from '../../core/src/lists.ts';

export interface ChannelVolume {
  dims: Vec3;
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
  data: Float32Array;
}

export interface ProposeRequest {
  /** Volumes by sequence; the engine picks the model's channels and says which are missing. */
  volumes: Partial<Record<SequenceName, ChannelVolume>>;
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
  /** Also return each member's binary mask per slice. */
  keepMembers?: boolean;
}

export interface SliceResult {
  k: number;
  /** In the volume's in-plane grid (nx * ny, i fastest). */
  mean: Float32Array;
  mask: Uint8Array;
  std: Float32Array;
  entropy: Float32Array;
  members?: Uint8Array[];
  /** Expected disagreement area in mm² (see core/src/metrics.ts uncertaintyScore). */
  uncertainty: number;
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
  device: string;
  deviceNote?: string;
  model: { name: string; version: string };
  seconds: { total: number; perSlice: number; model: number };
  /** Member-agreement Dice over the proposed slices, 0..1 (core/src/metrics.ts caseConfidence). */
  confidence: number;
  /** The model's low-confidence threshold (manifest caseConfidence.lowBelow, else 0.8). */
  confidenceLowBelow: number;
}

export type HostToEngine =
  | { type: 'propose'; id: number; request: ProposeRequest }
  | { type: 'cancel'; id: number }
  | { type: 'info'; id: number };

export type EngineEvent =
  | { type: 'ready'; device: string; note?: string; model: { name: string; version: string } }
  | {
      type: 'progress';
      id: number;
      done: number;
      total: number;
      slice: number;
      step: number;
      steps: number;
      etaSeconds: number;
    }
  | { type: 'slice'; id: number; result: SliceResult }
  | { type: 'done'; id: number; summary: ProposeSummary }
  | { type: 'cancelled'; id: number }
  | { type: 'error'; id: number; code: QuorumErrorCode; message: string };
