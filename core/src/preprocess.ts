import { QuorumError } from './errors.ts';
import type { ModelManifest, PreprocessV1 } from './manifest.ts';
import type { ModelFrame, Preprocessor } from './model-frame.ts';
import type { SequenceName, Vec3 } from './volume.ts';

/**
 * Training-time preprocessing, reproduced on user data exactly as manifest.json states it
 * (models/train/data.py is the Python twin; the `step` fixture checks they agree).
 */

/** Most frequent value of a volume: the constant background of a skull-stripped scan. */
export function modeValue(data: ArrayLike<number>): number {
  const counts = new Map<number, number>();
  let best = 0;
  let bestCount = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    const c = (counts.get(v) ?? 0) + 1;
    counts.set(v, c);
    if (c > bestCount || (c === bestCount && v < best)) {
      best = v;
      bestCount = c;
    }
  }
  return best;
}

/** 'not-mode': brain = any channel differs from that channel's most frequent value. */
export function brainMask(channels: ArrayLike<number>[]): Uint8Array {
  const n = channels[0].length;
  const mask = new Uint8Array(n);
  for (const ch of channels) {
    const m = modeValue(ch);
    for (let i = 0; i < n; i++) if (ch[i] !== m) mask[i] = 1;
  }
  return mask;
}

/** Per-channel z-score over brain voxels (float64 sums, as numpy), background 0, clipped. */
export function normaliseChannel(
  data: ArrayLike<number>,
  mask: Uint8Array,
  clip: [number, number],
): Float32Array {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < data.length; i++) {
    if (mask[i]) {
      sum += data[i];
      count++;
    }
  }
  const mean = count ? sum / count : 0;
  let ss = 0;
  for (let i = 0; i < data.length; i++) if (mask[i]) ss += (data[i] - mean) ** 2;
  const std = count ? Math.sqrt(ss / count) : 1;
  const scale = std > 0 ? std : 1;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    if (!mask[i]) continue;
    const z = (data[i] - mean) / scale;
    out[i] = z < clip[0] ? clip[0] : z > clip[1] ? clip[1] : z;
  }
  return out;
}

/**
 * torch.nn.functional.interpolate(mode='bilinear', align_corners=False, antialias=False) of one
 * [h, w] plane (row-major) to [oh, ow]. Source index = (dst + 0.5) * in/out - 0.5, clamped at 0.
 */
export function resizeBilinear(
  src: ArrayLike<number>,
  h: number,
  w: number,
  oh: number,
  ow: number,
  out: Float32Array = new Float32Array(oh * ow),
): Float32Array {
  const sy = Math.fround(h / oh);
  const sx = Math.fround(w / ow);
  const x0 = new Int32Array(ow);
  const x1 = new Int32Array(ow);
  const lx = new Float32Array(ow);
  for (let x = 0; x < ow; x++) {
    const s = Math.max(0, Math.fround(Math.fround(sx * (x + 0.5)) - 0.5));
    x0[x] = Math.floor(s);
    x1[x] = x0[x] < w - 1 ? x0[x] + 1 : x0[x];
    lx[x] = s - x0[x];
  }
  for (let y = 0; y < oh; y++) {
    const s = Math.max(0, Math.fround(Math.fround(sy * (y + 0.5)) - 0.5));
    const y0 = Math.floor(s);
    const y1 = y0 < h - 1 ? y0 + 1 : y0;
    const ly = s - y0;
    const r0 = y0 * w;
    const r1 = y1 * w;
    for (let x = 0; x < ow; x++) {
      const top = (1 - lx[x]) * src[r0 + x0[x]] + lx[x] * src[r0 + x1[x]];
      const bot = (1 - lx[x]) * src[r1 + x0[x]] + lx[x] * src[r1 + x1[x]];
      out[y * ow + x] = (1 - ly) * top + ly * bot;
    }
  }
  return out;
}

export interface PreparedCase {
  /** Normalised channels in manifest order, each the full volume (i fastest). */
  channels: Float32Array[];
  brain: Uint8Array;
  dims: [number, number, number];
  /** Axial slices (k) containing brain, ascending. */
  brainSlices: number[];
}

/**
 * The manifest's channels, in its order, from the case's sequences; a clear error names what is
 * missing or does not match. Shared by every preprocessor.
 */
export function pickChannels<V extends { dims: Vec3 }>(
  volumes: Partial<Record<SequenceName, V>>,
  manifest: ModelManifest,
  caseName = 'case',
): V[] {
  const missing = manifest.channels.filter((c) => !volumes[c]);
  if (missing.length) {
    throw new QuorumError(
      'missing-sequence',
      `the model ${manifest.name} needs ${manifest.channels.join(' + ')}; missing: ${missing.join(', ')} (found: ${Object.keys(volumes).join(', ') || 'none'})`,
      caseName,
    );
  }
  const vols = manifest.channels.map((c) => volumes[c]!);
  const dims = vols[0].dims;
  for (const [i, v] of vols.entries()) {
    if (v.dims.some((d, j) => d !== dims[j])) {
      throw new QuorumError(
        'inconsistent-series',
        `${manifest.channels[i]} is ${v.dims.join('x')} but ${manifest.channels[0]} is ${dims.join('x')}`,
        caseName,
      );
    }
  }
  return vols;
}

/** Picks the manifest's channels by sequence (clear error naming what is missing) and normalises. */
export function prepareCase(
  volumes: Partial<Record<SequenceName, { dims: Vec3; data: ArrayLike<number> }>>,
  manifest: ModelManifest,
  caseName = 'case',
): PreparedCase {
  const vols = pickChannels(volumes, manifest, caseName);
  const dims = vols[0].dims;
  const brain = brainMask(vols.map((v) => v.data));
  const channels = vols.map((v) => normaliseChannel(v.data, brain, manifest.preprocess.clip));
  const plane = dims[0] * dims[1];
  const brainSlices: number[] = [];
  for (let k = 0; k < dims[2]; k++) {
    const off = k * plane;
    for (let i = 0; i < plane; i++) {
      if (brain[off + i]) {
        brainSlices.push(k);
        break;
      }
    }
  }
  return { channels, brain, dims: [dims[0], dims[1], dims[2]], brainSlices };
}

/** Model input for axial slice k: [C, H, W] at the model's size; rows = j, columns = i. */
export function sliceInput(
  c: PreparedCase,
  k: number,
  size: [number, number],
  out?: Float32Array,
): Float32Array {
  const [nx, ny] = c.dims;
  const plane = nx * ny;
  const [H, W] = size;
  const result = out ?? new Float32Array(c.channels.length * H * W);
  for (const [ci, ch] of c.channels.entries()) {
    const slice = ch.subarray(k * plane, (k + 1) * plane);
    resizeBilinear(slice, ny, nx, H, W, result.subarray(ci * H * W, (ci + 1) * H * W));
  }
  return result;
}

/**
 * The v1 block (no `kind`): axial slices (voxel axis 2) resized as a whole to the model grid and
 * model maps resized back, exactly as quorum-wt-2ch was trained.
 */
export const zscoreBrainV1: Preprocessor<PreprocessV1> = {
  kind: undefined,
  frame(volumes, manifest, spec, caseName): ModelFrame {
    const prepared = prepareCase(volumes, manifest, caseName);
    const [nx, ny] = prepared.dims;
    const [H, W] = spec.inputSize;
    return {
      inputSize: spec.inputSize,
      channels: prepared.channels.length,
      dims: prepared.dims,
      sliceAxis: 2,
      slices: prepared.brainSlices,
      nativeSlices: prepared.brainSlices,
      input: (k, out) => sliceInput(prepared, k, spec.inputSize, out),
      toNative: (map, _k, out) => resizeBilinear(map, H, W, ny, nx, out),
    };
  },
};
