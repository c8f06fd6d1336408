import type { EdgeRule } from './contrast-grow.ts';
import type { IslandRule } from './islands.ts';
import type { CropMode, SamplerName } from './lists.ts';
import type { SequenceName } from './volume.ts';

/**
 * models/<name>/manifest.json — everything the app needs to reproduce training-time
 * preprocessing and sampling on raw user data. Written by models/train/export.py,
 * read by the worker. Keep the two in step: this file is the contract.
 *
 * ONNX I/O (batch dimension B dynamic):
 *   inputs  `image`  float32 [B, C, H, W]  normalised sequences, in `channels` order
 *           `x_t`    float32 [B, 1, H, W]  noisy mask at step t (mask scaled to [-1, 1])
 *           `t`      float32 [B]           integer timestep 0..T-1 as float
 *   output  `pred`   float32 [B, 1, H, W]  the model's prediction, of kind `prediction`
 */
export interface ModelManifest {
  name: string;
  version: string;
  description: string;
  /** ONNX file name, relative to the manifest (with `networks`: the first of them). */
  file: string;
  /**
   * A deep ensemble (Lakshminarayanan et al. 2017): ONNX files of the same I/O, trained apart,
   * relative to the manifest; the members are split between them in contiguous blocks
   * (networkOfMember), so 10 members of two networks cost what 10 of one do. Absent: `file` alone.
   */
  networks?: string[];
  channels: SequenceName[];
  /** How raw scans become model input; `kind` selects the preprocessor (core/src/model-frame.ts). */
  preprocess: PreprocessSpec;
  schedule: {
    kind: 'linear' | 'cosine';
    timesteps: number;
    betaStart?: number;
    betaEnd?: number;
  };
  prediction: 'epsilon' | 'x0' | 'v';
  /** Mask in [0,1] is mapped to x0 = 2*mask - 1 for diffusion; output mean back via (x0+1)/2. */
  maskScale: 'pm1';
  /**
   * `flipMembers`: the odd-numbered members see the slice (and its click maps) mirrored left-right
   * and their sample is mirrored back, so the ensemble also averages the network's left-right
   * asymmetries at no extra cost (members still differ by their noise). Absent: no member is flipped.
   * `cropMarginPx`: background model pixels the engine's crop to the head keeps around the head
   * (workers/src/engine/crop.ts; a model trained on such crops takes a tighter one). Absent: 16.
   * `crop`: where the network runs when a request does not say: 'head' (its head box, faster) or
   * 'off' (the whole frame, as a model trained on whole frames saw them; v3 is measurably better
   * so, README "v3"). Absent: 'head'.
   * `shareFirstStep`: where the first timestep's x_t is noise to within 1% (√ᾱ < 0.01), a slice's
   * members share that step's x0 (one network run per kind of member: unflipped, flipped); each
   * keeps its own noise in the update (workers/src/engine/sample-batch.ts). Absent: every member runs.
   * `uncertaintySigmaVoxels`: the uncertainty map is the members' std smoothed by a 3-D Gaussian of
   * this sigma (core/src/uncertainty-map.ts; the slice scores are the map's; the mask and the case
   * confidence are unchanged).
   * Absent or 0: the std itself.
   * `dropIslands`: once a whole volume is proposed, its 26-connected components under `belowMl`
   * whose mean uncertainty map is at least `uncertaintyAtLeast` are dropped from the mask
   * (core/src/islands.ts; a request can keep them). Absent: every component stays.
   * `growEdge`: then, the proposal's edge grown into the adjacent voxels its own FLAIR shows as
   * bright as the lesion (core/src/contrast-grow.ts; a request can keep the edge as proposed).
   * Absent: the mask is the members' mean > 0.5 (less islands).
   */
  recommended: {
    sampler: SamplerName;
    steps: number;
    members: number;
    eta: number;
    flipMembers?: boolean;
    cropMarginPx?: number;
    crop?: CropMode;
    shareFirstStep?: boolean;
    uncertaintySigmaVoxels?: number;
    dropIslands?: IslandRule;
    growEdge?: EdgeRule;
  };
  /**
   * Case confidence (core/src/metrics.ts caseConfidence): a proposal whose member-agreement Dice
   * is below `lowBelow` is flagged low-confidence (default 0.8 when absent), chosen on validation data.
   */
  caseConfidence?: { kind: 'member-agreement-dice'; lowBelow: number };
  /**
   * A prompt model (issue 12): `image` has these channels after the sequences, click maps drawn
   * as Gaussian blobs of `sigmaPx` model pixels, peak 1 (core/src/prompts.ts clickMaps); all zero
   * is the unprompted proposal. Absent: the model takes no prompts and requests with them are refused.
   */
  prompts?: { channels: ['positive-clicks', 'negative-clicks']; sigmaPx: number };
  /**
   * Through-plane context (models/train/context.py, core/src/context-frame.ts): `image` has, after
   * the sequences, the first sequence of this many slices below and above (in that order), in the
   * order of the frame's proposed slices, the edge slice repeated. Absent or 0: one slice alone.
   */
  context?: number;
  /**
   * With `context`: the neighbours are read `s` slices away, s the smallest stride (up to 8) at which
   * the first sequence's inputs of slices s apart differ by at least this much (median over slice
   * pairs of their mean absolute difference in the foreground; core/src/context-frame.ts
   * contextStride), so that a stack resampled onto thinner slices shows the network neighbours as
   * different as its training's. Absent: the adjacent slices, whatever their spacing.
   */
  contextMinChange?: number;
  training: { data: string; subjects: string[]; heldOut: string[]; licence: string; notes?: string };
  /** What a reader is told about the model (About the model); models/train/model_card.py writes it. */
  card?: ModelCard;
  metrics?: Record<string, unknown>;
  provenance?: Record<string, unknown>;
}

/**
 * The model card (Mitchell et al. 2019, "Model Cards for Model Reporting"): what the model is for, what
 * its validation predicts on a reader's own scans, and where it is known to fail, in sentences a
 * radiologist reads. Every number in it comes from the model folder's measurements
 * (models/train/model_card.py, checked against them by npm test).
 */
export interface ModelCard {
  intendedUse: string;
  trainedOn: string;
  expected: string[];
  limitations: string[];
}

/** The manifest's card when it has that shape; undefined otherwise (a model without one shows none). */
export function modelCard(x: unknown): ModelCard | undefined {
  if (typeof x !== 'object' || x === null) return undefined;
  const c = x as Record<string, unknown>;
  const text = (v: unknown) => typeof v === 'string' && v.trim() !== '';
  const lines = (v: unknown) => Array.isArray(v) && v.every(text);
  if (!text(c.intendedUse) || !text(c.trainedOn) || !lines(c.expected) || !lines(c.limitations))
    return undefined;
  return {
    intendedUse: c.intendedUse as string,
    trainedOn: c.trainedOn as string,
    expected: [...(c.expected as string[])],
    limitations: [...(c.limitations as string[])],
  };
}

/** The ONNX files a model runs, in manifest order: its `networks`, or its `file` alone. */
export function networkFiles(m: Pick<ModelManifest, 'file' | 'networks'>): string[] {
  return m.networks?.length ? m.networks : [m.file];
}

/**
 * The network (index into networkFiles) that runs member m of `members`: contiguous blocks, as
 * even as the count allows (10 members of 2 networks: 0-4 and 5-9; 3 of 2: 0-1 and 2). Blocks
 * rather than alternation, which with `flipMembers` would flip every member of one network.
 */
export function networkOfMember(m: number, members: number, networks: number): number {
  return Math.floor((m * networks) / members);
}

/** The v1 block (models/quorum-wt-2ch): no `kind` field, skull-stripped BraTS-style input. */
export interface PreprocessV1 {
  kind?: undefined;
  /**
   * Brain voxels. 'not-mode': a voxel is brain when any channel differs from that channel's
   * most frequent value. Skull-stripped scans have a constant background (0 in raw BraTS, a
   * negative constant after BraTS-style z-scoring), and it is always the mode; on our data
   * this reproduces the expert brain masks exactly.
   */
  brainMask: 'not-mode';
  /** Per-channel z-score over brain voxels of the whole volume; background set to 0. */
  normalise: 'zscore-brain';
  /** Values clipped to this range after normalisation. */
  clip: [number, number];
  /** Model grid size [H, W]; each axial slice is resized to it. */
  inputSize: [number, number];
  /** 'bilinear' = torch F.interpolate(mode='bilinear', align_corners=False, antialias=False). */
  resize: 'bilinear';
  /** Slices are taken along this voxel axis of the volume (2 = k, axial for BraTS). */
  sliceAxis: 0 | 1 | 2;
}

/**
 * 'head-robust-v2' (models/train/preprocess.py, core/src/preprocess-v2.ts): any voxel order,
 * skull or not, any intensity scale. The numbers are the Python module's constants.
 */
export interface PreprocessHeadRobustV2 {
  kind: 'head-robust-v2';
  /** Model grid [H, W]: rows run along the voxel axis closest to P, columns closest to L. */
  inputSize: [number, number];
  /** Pixel size of the model grid in mm (both directions). */
  spacingMm: number;
  /** z = (v - p50) / (p99 - p1) of the foreground is clipped to this range. */
  clip: [number, number];
  /** Bins of the histogram of [min, 99.9th percentile] that Otsu's threshold is found on. */
  histogramBins: number;
  /** Statistics are taken on every max(1, floor(N / sampleTarget))-th voxel. */
  sampleTarget: number;
  /** Slices with at least this much foreground (mm^2) are proposed. */
  minSliceForegroundMm2: number;
}

export type PreprocessSpec = PreprocessV1 | PreprocessHeadRobustV2;

/**
 * The model the app, the CLI and pre-labelling use unless told otherwise (`--model DIR`):
 * models/<DEFAULT_MODEL>/. v2 is robust to how a scan was prepared; v1 (quorum-wt-2ch, trained on
 * three skull-stripped BraTS subjects) stays shipped as an option.
 */
export const DEFAULT_MODEL = 'quorum-wt-v2';
