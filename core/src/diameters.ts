import { type Plane, planeAcross } from './geometry.ts';
import type { Volume } from './volume.ts';

/** The grid a mask lies on (a Volume's or the API's VolumeGeometry). */
type Grid = Pick<Volume, 'dims' | 'spacing' | 'direction'>;

/**
 * The bidimensional measurement of a lesion, as RANO and RANO-LGG read it off a scan: on the slice
 * where it is largest, the longest diameter and the longest diameter perpendicular to it, and
 * their product. Measured edge to edge (pixel corners, not centres), in millimetres, on the file's
 * own slices k (axial for a file stored in axial slices: `plane` says which).
 */
export interface Bidimensional {
  /** The slice k measured: the one with the largest product. */
  k: number;
  plane: Plane;
  longestMm: number;
  perpendicularMm: number;
  productMm2: number;
  /**
   * Where the two diameters lie, to draw them as a reader's calipers: their ends in voxel
   * indices (i, j, k) of the file, voxel centres at whole numbers, so a pixel's edge is at ±0.5.
   */
  longestEnds: [Ijk, Ijk];
  perpendicularEnds: [Ijk, Ijk];
}

/** A continuous voxel index (i, j, k). */
export type Ijk = [number, number, number];

/**
 * `mask` voxels equal to `value` (any non-zero value when not given) form the lesion. The longest
 * diameter is the largest distance between two corners of its pixels on a slice (the convex hull's
 * diameter); the perpendicular one is the longest run of the lesion along the perpendicular
 * direction, over lines one pixel apart, gaps inside the lesion included. The slice measured is
 * the one with the largest product; undefined for an empty lesion.
 */
export function bidimensional(
  mask: ArrayLike<number>,
  geometry: Grid,
  value?: number,
  /** Only these slices k hold the lesion (a caller that counts voxels per slice knows): the rest are not read. */
  slices?: Iterable<number>,
): Bidimensional | undefined {
  const [nx, ny, nz] = geometry.dims;
  const [sx, sy] = geometry.spacing;
  const plane = nx * ny;
  const inLesion = (v: number) => (value === undefined ? v !== 0 : v === value);
  const across = planeAcross(geometry.direction, 2);
  let best: Bidimensional | undefined;
  for (const k of slices ?? Array.from({ length: nz }, (_, k) => k)) {
    const pixels: number[] = [];
    for (let n = k * plane, e = n + plane; n < e; n++) if (inLesion(mask[n])) pixels.push(n - k * plane);
    if (!pixels.length) continue;
    const m = sliceMeasure(pixels, nx, sx, sy);
    if (!best || m.product > best.productMm2) {
      // mm from the slice's corner -> voxel index (the centre of pixel i is at (i + 0.5) sx)
      const ijk = ([x, y]: [number, number]): Ijk => [x / sx - 0.5, y / sy - 0.5, k];
      best = {
        k,
        plane: across,
        longestMm: m.longest,
        perpendicularMm: m.perpendicular,
        productMm2: m.product,
        longestEnds: [ijk(m.longestEnds[0]), ijk(m.longestEnds[1])],
        perpendicularEnds: [ijk(m.perpendicularEnds[0]), ijk(m.perpendicularEnds[1])],
      };
    }
  }
  return best;
}

function sliceMeasure(pixels: number[], nx: number, sx: number, sy: number) {
  // the corners of edge pixels only: an inner pixel's corners are inside the hull anyway
  const set = new Set(pixels);
  const corners: [number, number][] = [];
  for (const p of pixels) {
    const i = p % nx;
    const j = (p - i) / nx;
    const edge = !(
      i > 0 &&
      i < nx - 1 &&
      set.has(p - 1) &&
      set.has(p + 1) &&
      set.has(p - nx) &&
      set.has(p + nx)
    );
    if (!edge) continue;
    for (const [di, dj] of [
      [0, 0],
      [1, 0],
      [0, 1],
      [1, 1],
    ])
      corners.push([(i + di) * sx, (j + dj) * sy]);
  }
  const hull = convexHull(corners);
  let longest = 0;
  let u: [number, number] = [1, 0];
  let longestEnds: [[number, number], [number, number]] = [hull[0], hull[0]];
  for (let a = 0; a < hull.length; a++)
    for (let b = a + 1; b < hull.length; b++) {
      const d = Math.hypot(hull[b][0] - hull[a][0], hull[b][1] - hull[a][1]);
      if (d > longest) {
        longest = d;
        u = [(hull[b][0] - hull[a][0]) / d, (hull[b][1] - hull[a][1]) / d];
        longestEnds = [hull[a], hull[b]];
      }
    }
  // lines along v (perpendicular to u), one pixel apart across u: each line's extent over the
  // pixels whose centres fall on it, plus one pixel's width along v
  const v: [number, number] = [-u[1], u[0]];
  const step = Math.min(sx, sy);
  const lines = new Map<number, [number, number]>();
  for (const p of pixels) {
    const i = p % nx;
    const j = (p - i) / nx;
    const x = (i + 0.5) * sx;
    const y = (j + 0.5) * sy;
    const line = Math.round((x * u[0] + y * u[1]) / step);
    const w = x * v[0] + y * v[1];
    const r = lines.get(line);
    if (!r) lines.set(line, [w, w]);
    else {
      if (w < r[0]) r[0] = w;
      if (w > r[1]) r[1] = w;
    }
  }
  const width = Math.abs(v[0]) * sx + Math.abs(v[1]) * sy;
  let perpendicular = 0;
  let at = { line: 0, mid: 0 };
  for (const [line, [lo, hi]] of lines)
    if (hi - lo + width > perpendicular) {
      perpendicular = hi - lo + width;
      at = { line, mid: (lo + hi) / 2 };
    }
  perpendicular = Math.min(perpendicular, longest);
  // its ends: on that line (at line x step along u), half the diameter either side of the run's middle along v
  const end = (w: number): [number, number] => [
    at.line * step * u[0] + w * v[0],
    at.line * step * u[1] + w * v[1],
  ];
  const perpendicularEnds: [[number, number], [number, number]] = [
    end(at.mid - perpendicular / 2),
    end(at.mid + perpendicular / 2),
  ];
  return { longest, perpendicular, product: longest * perpendicular, longestEnds, perpendicularEnds };
}

/** Andrew's monotone chain; collinear points dropped. */
function convexHull(points: [number, number][]): [number, number][] {
  const p = [...points].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (p.length < 3) return p;
  const cross = (o: number[], a: number[], b: number[]) =>
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const half = (pts: [number, number][]) => {
    const out: [number, number][] = [];
    for (const q of pts) {
      while (out.length >= 2 && cross(out[out.length - 2], out[out.length - 1], q) <= 0) out.pop();
      out.push(q);
    }
    out.pop();
    return out;
  };
  return [...half(p), ...half(p.reverse())];
}
