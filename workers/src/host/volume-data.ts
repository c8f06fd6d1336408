import type { DType, VolumeData } from '../../../core/src/api.ts';
import type { SequenceName, Volume } from '../../../core/src/volume.ts';
import { geometryOf } from './cases.ts';

/**
 * A Volume as the renderer receives it: a transportable typed array (float64 and 32-bit ints
 * narrowed where lossless enough for display) plus a robust display range for window/level.
 */
export function toVolumeData(caseId: string, sequence: SequenceName | 'label', v: Volume): VolumeData {
  let data: VolumeData['data'];
  let dtype: DType;
  const d = v.data;
  if (
    d instanceof Uint8Array ||
    d instanceof Int16Array ||
    d instanceof Uint16Array ||
    d instanceof Float32Array
  ) {
    data = d;
    dtype =
      d instanceof Uint8Array
        ? 'uint8'
        : d instanceof Int16Array
          ? 'int16'
          : d instanceof Uint16Array
            ? 'uint16'
            : 'float32';
  } else if (d instanceof Int8Array) {
    data = Int16Array.from(d);
    dtype = 'int16';
  } else if (d instanceof Int32Array) {
    data = d;
    dtype = 'int32';
  } else {
    // float64 and uint32: float32 keeps 24 bits of precision, far beyond what display needs.
    data = Float32Array.from(d);
    dtype = 'float32';
  }
  return {
    caseId,
    sequence,
    dtype,
    data,
    ...geometryOf(v),
    range: cachedRange(v, data),
    source: {
      path: v.source.path,
      format: v.source.format,
      datatype: v.source.datatype,
      description: v.source.description,
      warnings: v.source.warnings,
    },
  };
}

const ranges = new WeakMap<Volume, VolumeData['range']>();
function cachedRange(v: Volume, data: ArrayLike<number>): VolumeData['range'] {
  const known = ranges.get(v);
  if (known) return known;
  const r = displayRange(data);
  ranges.set(v, r);
  return r;
}

/**
 * Min/max plus 0.5th/99.5th percentiles of the non-background voxels (background = the most
 * frequent value, as in skull-stripped scans), from a strided sample: cheap on 9 M voxels.
 */
export function displayRange(data: ArrayLike<number>): VolumeData['range'] {
  const n = data.length;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const x = data[i];
    if (x < min) min = x;
    if (x > max) max = x;
  }
  if (!(n > 0) || !Number.isFinite(min)) return { min: 0, max: 0, p005: 0, p995: 0 };
  const stride = Math.max(1, Math.floor(n / 200_000));
  const sample: number[] = [];
  for (let i = 0; i < n; i += stride) if (Number.isFinite(data[i])) sample.push(data[i]);
  sample.sort((a, b) => a - b);
  // mode of the sample
  let mode = sample[0];
  let best = 0;
  for (let i = 0, run = 0; i < sample.length; i++) {
    run = i > 0 && sample[i] === sample[i - 1] ? run + 1 : 1;
    if (run > best) {
      best = run;
      mode = sample[i];
    }
  }
  const fg = best > sample.length * 0.05 ? sample.filter((x) => x !== mode) : sample;
  const pick = (q: number) => (fg.length ? fg[Math.min(fg.length - 1, Math.floor(q * fg.length))] : min);
  return { min, max, p005: pick(0.005), p995: pick(0.995) };
}
