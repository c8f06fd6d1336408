import type { Vec3 } from './volume.ts';

/**
 * Slice interpolation of a labelmap, as ITK-SNAP's and OHIF's "interpolate" do: the user draws a
 * lesion on a few slices along one axis and the empty slices between them are filled by
 * morphological contour interpolation (Albu et al. 2008; ITK's MorphologicalContourInterpolator,
 * run from @itk-wasm/morphological-contour-interpolation). This file is the part that does not
 * depend on where the WebAssembly pipeline runs (the viewer's web worker, or Node in the tests):
 * it cuts each label value's bounding box out of the labelmap as a 0/1 image, hands it to the
 * pipeline, and turns the answer into the voxels to write. It never overwrites a labelled voxel.
 */

/** The image the itk-wasm pipeline takes (itk-wasm's `Image`, structurally). */
export interface ItkLabelImage {
  imageType: { dimension: 3; componentType: 'uint8'; pixelType: 'Scalar'; components: 1 };
  name: string;
  origin: number[];
  spacing: number[];
  direction: Float64Array;
  size: number[];
  metadata: Map<string, string | number | number[] | string[] | number[][]>;
  data: Uint8Array;
}

/** Runs the pipeline on a 0/1 image along `axis` (0 = i, 1 = j, 2 = k); resolves its output voxels. */
export type InterpolationPipeline = (image: ItkLabelImage, axis: 0 | 1 | 2) => Promise<ArrayLike<number>>;

export interface InterpolationResult {
  /** Flat voxel indices to set (ascending), each 0 in the labelmap when computed. */
  indices: Uint32Array;
  /** The label value of each. */
  values: Uint8Array;
  /** Per label value: the labelled slices it was interpolated between and the slices it filled. */
  perValue: { value: number; drawn: number[]; filled: number[] }[];
}

/** In-plane margin (voxels) around a value's bounding box: room for the interpolated contours. */
const MARGIN = 2;

/**
 * Fills the empty slices (along `axis`) between slices holding each of `values`, never writing
 * over a non-zero voxel. Values labelled on fewer than two slices along the axis are skipped.
 */
export async function interpolateLabels(
  labels: Uint8Array,
  dims: Vec3,
  spacing: Vec3,
  axis: 0 | 1 | 2,
  values: number[],
  pipeline: InterpolationPipeline,
): Promise<InterpolationResult> {
  const [nx, ny, nz] = dims;
  if (labels.length !== nx * ny * nz)
    throw new RangeError(
      `labelmap has ${labels.length} voxels, its grid ${nx}x${ny}x${nz} says ${nx * ny * nz}`,
    );
  const out: { indices: number[]; values: number[] } = { indices: [], values: [] };
  const perValue: InterpolationResult['perValue'] = [];
  for (const value of values) {
    const box = boundingBox(labels, dims, value);
    if (!box) continue;
    const drawn = labelledSlices(labels, dims, axis, value, box);
    if (drawn.length < 2) continue;
    // The box, widened in-plane (not along the axis: nothing is filled outside the drawn range).
    const lo = box.lo.map((v, a) => (a === axis ? v : Math.max(0, v - MARGIN)));
    const hi = box.hi.map((v, a) => (a === axis ? v : Math.min(dims[a] - 1, v + MARGIN)));
    const size = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
    const crop = new Uint8Array(size[0] * size[1] * size[2]);
    forBox(lo, hi, dims, (src, dst) => {
      crop[dst] = labels[src] === value ? 1 : 0;
    });
    const result = await pipeline(
      {
        imageType: { dimension: 3, componentType: 'uint8', pixelType: 'Scalar', components: 1 },
        name: `label ${value}`,
        origin: [0, 0, 0],
        spacing: [...spacing],
        direction: new Float64Array([1, 0, 0, 0, 1, 0, 0, 0, 1]),
        size,
        metadata: new Map(),
        data: crop,
      },
      axis,
    );
    if (result.length !== crop.length)
      throw new Error(`interpolation returned ${result.length} voxels for an image of ${crop.length}`);
    const isDrawn = new Set(drawn);
    const filled = new Set<number>();
    const stride = [1, nx, nx * ny][axis];
    const axisCount = dims[axis];
    forBox(lo, hi, dims, (src, dst) => {
      if (!result[dst] || labels[src] !== 0) return;
      const s = Math.floor(src / stride) % axisCount;
      if (isDrawn.has(s)) return; // only the empty slices are filled
      out.indices.push(src);
      out.values.push(value);
      filled.add(s);
    });
    perValue.push({ value, drawn, filled: [...filled].sort((a, b) => a - b) });
  }
  // One voxel may be proposed by two values (their boxes overlap): the first value keeps it.
  const seen = new Set<number>();
  const order = out.indices.map((_, n) => n).sort((a, b) => out.indices[a] - out.indices[b]);
  const indices: number[] = [];
  const vals: number[] = [];
  for (const n of order) {
    if (seen.has(out.indices[n])) continue;
    seen.add(out.indices[n]);
    indices.push(out.indices[n]);
    vals.push(out.values[n]);
  }
  return { indices: Uint32Array.from(indices), values: Uint8Array.from(vals), perValue };
}

/** Distinct non-zero values of the labelmap, ascending, less those in `except` (e.g. pending). */
export function labelValues(labels: Uint8Array, except: number[] = []): number[] {
  const seen = new Uint8Array(256);
  for (let i = 0; i < labels.length; i++) seen[labels[i]] = 1;
  const out: number[] = [];
  for (let v = 1; v < 256; v++) if (seen[v] && !except.includes(v)) out.push(v);
  return out;
}

interface Box {
  lo: number[];
  hi: number[];
}

function boundingBox(labels: Uint8Array, [nx, ny, nz]: Vec3, value: number): Box | undefined {
  const lo = [nx, ny, nz];
  const hi = [-1, -1, -1];
  let n = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++, n++) {
        if (labels[n] !== value) continue;
        if (i < lo[0]) lo[0] = i;
        if (i > hi[0]) hi[0] = i;
        if (j < lo[1]) lo[1] = j;
        if (j > hi[1]) hi[1] = j;
        if (k < lo[2]) lo[2] = k;
        if (k > hi[2]) hi[2] = k;
      }
  return hi[0] < 0 ? undefined : { lo, hi };
}

/** Slice indices along `axis` that hold `value`, ascending. */
function labelledSlices(labels: Uint8Array, dims: Vec3, axis: number, value: number, box: Box): number[] {
  const hit = new Set<number>();
  const stride = [1, dims[0], dims[0] * dims[1]][axis];
  forBox(box.lo, box.hi, dims, (src) => {
    if (labels[src] === value) hit.add(Math.floor(src / stride) % dims[axis]);
  });
  return [...hit].sort((a, b) => a - b);
}

/** Visits every voxel of the box [lo, hi] (inclusive): its flat index in the volume and in the box. */
function forBox(lo: number[], hi: number[], [nx, ny]: Vec3, fn: (src: number, dst: number) => void) {
  let dst = 0;
  for (let k = lo[2]; k <= hi[2]; k++)
    for (let j = lo[1]; j <= hi[1]; j++) {
      const row = nx * (j + ny * k);
      for (let i = lo[0]; i <= hi[0]; i++) fn(row + i, dst++);
    }
}
