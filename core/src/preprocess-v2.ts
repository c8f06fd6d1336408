import type { PreprocessHeadRobustV2 } from './manifest.ts';
import type { FrameVolume, ModelFrame, Preprocessor } from './model-frame.ts';
import { pickChannels } from './preprocess.ts';
import {
  binOf,
  type ChannelStats,
  channelStats,
  fillOfSample,
  sampleAfterFill,
  sortedSample,
} from './preprocess-v2-intensity.ts';
import type { Vec3 } from './volume.ts';

/**
 * Preprocessing v2, 'head-robust-v2': the TypeScript twin of models/train/preprocess.py (read
 * its docstring for the method). Every step keeps the Python's float64 arithmetic and order
 * where it decides something (sorting, percentiles, Otsu, foreground, centre: bit-identical),
 * so that test/fixtures/preprocess-v2 agrees to the last bit on statistics and to ~1e-6 on the
 * resampled inputs (numpy's matrix products sum in their own order). Python arrays are (i, j, k)
 * flattened in Fortran order, which is this Volume's order; Python `d[r, c]` is
 * `direction[3 * c + r]`.
 */

export { backgroundFill, type ChannelStats, channelStats, otsuBin } from './preprocess-v2-intensity.ts';

export interface ModelAxes {
  sliceAxis: 0 | 1 | 2;
  colAxis: 0 | 1 | 2;
  colSign: 1 | -1;
  rowAxis: 0 | 1 | 2;
  rowSign: 1 | -1;
}

/** Slice axis closest to S; columns along the remaining axis closest to L, rows closest to P. */
export function modelAxes(direction: ArrayLike<number>): ModelAxes {
  const d = (r: number, c: number) => direction[3 * c + r];
  let sliceAxis = 0;
  // np.argmax: the first maximum wins
  for (let c = 1; c < 3; c++) if (Math.abs(d(2, c)) > Math.abs(d(2, sliceAxis))) sliceAxis = c;
  const rest = [0, 1, 2].filter((c) => c !== sliceAxis);
  const colAxis = Math.abs(d(0, rest[0])) >= Math.abs(d(0, rest[1])) ? rest[0] : rest[1];
  const rowAxis = colAxis === rest[0] ? rest[1] : rest[0];
  return {
    sliceAxis: sliceAxis as 0 | 1 | 2,
    colAxis: colAxis as 0 | 1 | 2,
    colSign: d(0, colAxis) >= 0 ? 1 : -1,
    rowAxis: rowAxis as 0 | 1 | 2,
    rowSign: d(1, rowAxis) >= 0 ? 1 : -1,
  };
}

/** Sparse 1-D resampling weights: output o reads sources start[o] .. start[o] + w[o].length - 1. */
interface Taps {
  start: Int32Array;
  w: Float64Array[];
  /** In-bounds weight of each output (the Python's row sums). */
  sum: Float64Array;
}

/** Bilinear taps at positions pos(o, s), s < nSub, each weighted 1/nSub; out of range dropped. */
function taps(nOut: number, nSrc: number, nSub: number, pos: (o: number, s: number) => number): Taps {
  const start = new Int32Array(nOut);
  const w: Float64Array[] = [];
  const sum = new Float64Array(nOut);
  for (let o = 0; o < nOut; o++) {
    // positions grow with s, so the taps of o span floor(first) .. floor(last) + 1
    const a = Math.max(0, Math.floor(pos(o, 0)));
    const b = Math.min(nSrc - 1, Math.floor(pos(o, nSub - 1)) + 1);
    const row = new Float64Array(Math.max(0, b - a + 1));
    for (let s = 0; s < nSub; s++) {
      const p = pos(o, s);
      const i0 = Math.floor(p);
      const f = p - i0;
      // same accumulation order per weight as the Python's dense `w[o, i] +=`
      if (i0 >= 0 && i0 < nSrc) row[i0 - a] += (1 - f) / nSub;
      if (i0 + 1 >= 0 && i0 + 1 < nSrc) row[i0 + 1 - a] += f / nSub;
    }
    start[o] = a;
    w.push(row);
    for (let i = 0; i < row.length; i++) sum[o] += row[i];
  }
  return { start, w, sum };
}

/** Python axis_weights: model index o -> source centre + sign (o - (nOut-1)/2) step, box-supersampled. */
export function axisWeights(nOut: number, nSrc: number, centre: number, sign: number, step: number): Taps {
  const nSub = Math.max(1, Math.ceil(step - 1e-6));
  return taps(nOut, nSrc, nSub, (o, s) => {
    const base = centre + sign * (o - (nOut - 1) / 2) * step;
    return base + ((s + 0.5) / nSub - 0.5) * step;
  });
}

/** Python _back_axis: native index x -> model coordinate (nModel-1)/2 + sign (x - centre) scale. */
export function backWeights(
  nNative: number,
  nModel: number,
  centre: number,
  sign: number,
  scale: number,
): Taps {
  return taps(nNative, nModel, 1, (x) => (nModel - 1) / 2 + sign * (x - centre) * scale);
}

/**
 * The Python's ModelFrame: statistics, head centre, axes and resampling weights of one case.
 * Voxel values are read as float32, as the training loaded them.
 */
export class HeadRobustFrame implements ModelFrame {
  readonly inputSize: [number, number];
  readonly channels: number;
  readonly dims: Vec3;
  readonly spacing: Vec3;
  readonly axes: ModelAxes;
  readonly sliceAxis: 0 | 1 | 2;
  readonly stats: ChannelStats[];
  /** Mean foreground voxel index (i, j, k). */
  readonly centre: Vec3;
  readonly slices: number[];
  readonly nativeSlices: number[];
  readonly foregroundFloor: number[];
  private readonly data: ArrayLike<number>[];
  private readonly spec: PreprocessHeadRobustV2;
  private readonly wRow: Taps;
  private readonly wCol: Taps;
  private back?: { row: Taps; col: Taps };
  /** Voxel-index strides of each axis (i fastest). */
  private readonly strides: Vec3;

  constructor(vols: FrameVolume[], spec: PreprocessHeadRobustV2, names?: string[], file?: string) {
    this.spec = spec;
    this.inputSize = [spec.inputSize[0], spec.inputSize[1]];
    this.channels = vols.length;
    const d = vols[0].dims;
    this.dims = [d[0], d[1], d[2]];
    this.spacing = vols[0].spacing.map((s) => (s === 0 ? 1 : s)) as Vec3;
    this.strides = [1, d[0], d[0] * d[1]];
    this.axes = modelAxes(vols[0].direction);
    this.sliceAxis = this.axes.sliceAxis;
    // integer and float64 arrays are rounded to float32 once: the training read every scan as float32
    const samples: Float64Array[] = [];
    this.data = vols.map((v) => {
      const data =
        v.data instanceof Float32Array ||
        v.data instanceof Uint8Array ||
        v.data instanceof Int8Array ||
        v.data instanceof Uint16Array ||
        v.data instanceof Int16Array
          ? v.data
          : Float32Array.from(v.data);
      // one sorted sample serves the fill and the statistics (the latter's is derived, not sorted again)
      const sample = sortedSample(data, spec);
      const fill = fillOfSample(sample);
      if (!fill) {
        samples.push(sample);
        return data;
      }
      samples.push(sampleAfterFill(sample, fill));
      const out = new Float32Array(data.length); // a loop: Float32Array.from with a callback is ~10x slower
      for (let i = 0; i < data.length; i++) out[i] = data[i] === fill.value ? fill.to : data[i];
      return out;
    });
    this.stats = this.data.map((x, c) =>
      channelStats(x, spec, names?.[c] ?? `channel ${c}`, file, samples[c]),
    );

    // foreground (any channel above its Otsu bin): its mean index and its count per plane of each axis
    const bins = spec.histogramBins;
    const counts = [new Float64Array(d[0]), new Float64Array(d[1]), new Float64Array(d[2])];
    const sums = [0, 0, 0];
    let nFg = 0;
    for (let k = 0, idx = 0; k < d[2]; k++)
      for (let j = 0; j < d[1]; j++)
        for (let i = 0; i < d[0]; i++, idx++) {
          let fg = false;
          for (let c = 0; c < this.data.length && !fg; c++) {
            const st = this.stats[c];
            fg = binOf(this.data[c][idx], st.lo, st.hi, bins) > st.otsuBin;
          }
          if (!fg) continue;
          nFg++;
          sums[0] += i;
          sums[1] += j;
          sums[2] += k;
          counts[0][i]++;
          counts[1][j]++;
          counts[2][k]++;
        }
    this.centre = [sums[0] / nFg, sums[1] / nFg, sums[2] / nFg];
    const { sliceAxis, colAxis, colSign, rowAxis, rowSign } = this.axes;
    const minMm2 = spec.minSliceForegroundMm2;
    const pixMm2 = this.spacing[colAxis] * this.spacing[rowAxis];
    this.slices = [...counts[sliceAxis].keys()].filter((k) => counts[sliceAxis][k] * pixMm2 >= minMm2);
    const axialMm2 = this.spacing[0] * this.spacing[1];
    this.nativeSlices =
      sliceAxis === 2 ? this.slices : [...counts[2].keys()].filter((k) => counts[2][k] * axialMm2 >= minMm2);

    // the lowest raw value of a foreground bin (binOf > otsuBin), normalised and clipped as input() does
    this.foregroundFloor = this.stats.map((st) => {
      const raw = st.lo + ((st.otsuBin + 1) * (st.hi - st.lo)) / bins;
      const z = (raw - st.p50) / (st.p99 - st.p1);
      return Math.min(spec.clip[1], Math.max(spec.clip[0], z));
    });
    const [H, W] = this.inputSize;
    const step = (a: number) => spec.spacingMm / this.spacing[a];
    this.wCol = axisWeights(W, d[colAxis], this.centre[colAxis], colSign, step(colAxis));
    this.wRow = axisWeights(H, d[rowAxis], this.centre[rowAxis], rowSign, step(rowAxis));
  }

  /** Normalised model input of slice k: float32 [C, H, W], rows along the row axis. */
  input(k: number, out?: Float32Array): Float32Array {
    const [H, W] = this.inputSize;
    const { sliceAxis, colAxis, rowAxis } = this.axes;
    const nCols = this.dims[colAxis];
    const sR = this.strides[rowAxis];
    const sC = this.strides[colAxis];
    const base = k * this.strides[sliceAxis];
    const [lo, hi] = this.spec.clip;
    const result = out ?? new Float32Array(this.channels * H * W);
    const tmp = new Float64Array(H * nCols);
    for (const [c, data] of this.data.entries()) {
      const st = this.stats[c];
      // rows first (w_row @ plane), then columns (@ w_col.T), as the Python's matrix products
      tmp.fill(0);
      for (let o = 0; o < H; o++) {
        const w = this.wRow.w[o];
        const t = o * nCols;
        for (let r = 0; r < w.length; r++) {
          const wr = w[r];
          const src = base + (this.wRow.start[o] + r) * sR;
          for (let x = 0; x < nCols; x++) tmp[t + x] += wr * data[src + x * sC];
        }
      }
      const scale = st.p99 - st.p1;
      for (let o = 0; o < H; o++) {
        const t = o * nCols;
        for (let q = 0; q < W; q++) {
          const w = this.wCol.w[q];
          const s0 = this.wCol.start[q];
          let v = 0;
          for (let x = 0; x < w.length; x++) v += tmp[t + s0 + x] * w[x];
          // outside the image the plane is padded with lo (air), in proportion to the missing weight
          v += (1 - this.wRow.sum[o] * this.wCol.sum[q]) * st.lo;
          const z = (v - st.p50) / scale;
          result[c * H * W + o * W + q] = Math.min(hi, Math.max(lo, z));
        }
      }
    }
    return result;
  }

  /** The inverse of axisWeights' o -> centre + sign (o - (n-1)/2) step, on each in-plane axis. */
  modelPoint(ijk: Vec3): { slice: number; row: number; col: number } {
    const [H, W] = this.inputSize;
    const { sliceAxis, colAxis, colSign, rowAxis, rowSign } = this.axes;
    const at = (n: number, a: number, sign: number) =>
      (n - 1) / 2 + (sign * (ijk[a] - this.centre[a]) * this.spacing[a]) / this.spec.spacingMm;
    return { slice: Math.round(ijk[sliceAxis]), row: at(H, rowAxis, rowSign), col: at(W, colAxis, colSign) };
  }

  /** Model map [H * W] -> native plane of slice k (bilinear, 0 outside the model's field of view). */
  toNative(map: Float32Array, _k: number, out?: Float32Array): Float32Array {
    // every slice shares one in-plane grid, so k does not matter here
    const [H, W] = this.inputSize;
    const { colAxis, colSign, rowAxis, rowSign } = this.axes;
    if (!this.back) {
      const scale = (a: number) => this.spacing[a] / this.spec.spacingMm;
      this.back = {
        row: backWeights(this.dims[rowAxis], H, this.centre[rowAxis], rowSign, scale(rowAxis)),
        col: backWeights(this.dims[colAxis], W, this.centre[colAxis], colSign, scale(colAxis)),
      };
    }
    const { row, col } = this.back;
    const nRows = this.dims[rowAxis];
    const nCols = this.dims[colAxis];
    // the plane as a volume stores it: the lower remaining axis fastest
    const lowFirst = colAxis < rowAxis;
    const sCol = lowFirst ? 1 : nRows;
    const sRow = lowFirst ? nCols : 1;
    const result = out ?? new Float32Array(nRows * nCols);
    if (result.length !== nRows * nCols || map.length !== H * W)
      throw new Error(
        `toNative: ${map.length} -> ${result.length} values for ${H}x${W} -> ${nRows}x${nCols}`,
      );
    const tmp = new Float64Array(W);
    for (let x = 0; x < nRows; x++) {
      // br @ map, then @ bc.T
      tmp.fill(0);
      const wr = row.w[x];
      for (let a = 0; a < wr.length; a++) {
        const m = (row.start[x] + a) * W;
        for (let b = 0; b < W; b++) tmp[b] += wr[a] * map[m + b];
      }
      for (let y = 0; y < nCols; y++) {
        const wc = col.w[y];
        let v = 0;
        for (let b = 0; b < wc.length; b++) v += tmp[col.start[y] + b] * wc[b];
        result[x * sRow + y * sCol] = v;
      }
    }
    return result;
  }
}

export const headRobustV2: Preprocessor<PreprocessHeadRobustV2> = {
  kind: 'head-robust-v2',
  frame(volumes, manifest, spec, caseName) {
    return new HeadRobustFrame(pickChannels(volumes, manifest, caseName), spec, manifest.channels, caseName);
  },
};
