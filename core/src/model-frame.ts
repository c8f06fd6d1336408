import { withContext } from './context-frame.ts';
import { QuorumError } from './errors.ts';
import type { ModelManifest, PreprocessSpec } from './manifest.ts';
import { zscoreBrainV1 } from './preprocess.ts';
import { headRobustV2 } from './preprocess-v2.ts';
import type { SequenceName, Vec3, Volume } from './volume.ts';

/**
 * The one interface between a case's native voxel grid and the model's slices, whatever the
 * preprocessing. The engine asks `modelFrame` for one and never needs to know which it got.
 */

/** What a preprocessor reads of a channel: geometry and voxel values (i fastest). */
export type FrameVolume = Pick<Volume, 'dims' | 'spacing' | 'direction'> & { data: ArrayLike<number> };

export interface ModelFrame {
  /** Model grid [H, W]. */
  readonly inputSize: [number, number];
  /** Number of model input channels (the manifest's `channels`). */
  readonly channels: number;
  readonly dims: Vec3;
  /** Voxel axis the model slices along; `slices`, `input` and `toNative` index along it. */
  readonly sliceAxis: 0 | 1 | 2;
  /** Model slices worth proposing (indices along `sliceAxis`), ascending. */
  readonly slices: number[];
  /**
   * Native axial planes (k, voxel axis 2) with enough content to report as proposed, ascending.
   * Equal to `slices` when `sliceAxis` is 2; otherwise what the engine reports after assembling
   * whole volumes from every model slice.
   */
  readonly nativeSlices: number[];
  /**
   * Per channel, the model-input value above which a pixel is head (the preprocessing's
   * foreground threshold): what the engine's crop to the head reads. Absent: no crop.
   */
  readonly foregroundFloor?: readonly number[];
  /** Normalised model input of slice k: float32 [C, H, W]. */
  input(k: number, out?: Float32Array): Float32Array;
  /**
   * A model-grid map [H * W] of slice k on the native plane of slice k: the two other voxel
   * axes, the lower one fastest (i fastest for an axial frame), as a volume stores it.
   */
  toNative(map: Float32Array, k: number, out?: Float32Array): Float32Array;
  /**
   * Where a native voxel (continuous i, j, k) lies on the model grid: its model slice and the
   * fractional row and column of the pixel that reads it (prompts land where the image pixel is).
   * Absent in frames that cannot place prompts (v1).
   */
  modelPoint?(ijk: Vec3): { slice: number; row: number; col: number };
}

export interface Preprocessor<S extends PreprocessSpec = PreprocessSpec> {
  /** The manifest's `preprocess.kind` this preprocessor implements (undefined: the v1 block). */
  readonly kind: S['kind'];
  frame(
    volumes: Partial<Record<SequenceName, FrameVolume>>,
    manifest: ModelManifest,
    spec: S,
    caseName: string,
  ): ModelFrame;
}

/** Every preprocessing the app knows. A new one is a file exporting a Preprocessor plus a line here. */
const PREPROCESSORS: readonly Preprocessor[] = [zscoreBrainV1, headRobustV2] as Preprocessor[];

/** The frame the manifest's preprocessing defines for this case's channels. */
export function modelFrame(
  volumes: Partial<Record<SequenceName, FrameVolume>>,
  manifest: ModelManifest,
  caseName = 'case',
): ModelFrame {
  const spec = manifest.preprocess;
  const p = PREPROCESSORS.find((x) => x.kind === spec.kind);
  if (!p) {
    const known = PREPROCESSORS.map((x) => x.kind ?? '(none: v1)').join(', ');
    throw new QuorumError(
      'model',
      `the model ${manifest.name} needs preprocessing "${spec.kind}", which this version of Quorum does not know (known: ${known})`,
    );
  }
  const context = manifest.context ?? 0;
  if (!Number.isInteger(context) || context < 0)
    throw new QuorumError(
      'model',
      `the model ${manifest.name} has context ${String(context)} (a whole number >= 0)`,
    );
  return withContext(p.frame(volumes, manifest, spec, caseName), context, manifest.contextMinChange);
}
