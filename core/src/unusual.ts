import { type Geometry, nearestScannerAxis, PLANES, sameGrid } from './geometry.ts';
import { gridAngleDeg } from './resample.ts';
import type { Mat3, Volume } from './volume.ts';

/**
 * What is unusual about a scan, said as warnings (never silently): thick or gapped slices, a
 * non-axial acquisition (the model runs on axial planes), oblique or flipped axes, a field of view
 * smaller than a brain, and a head that is not skull-stripped. The reference the thresholds are set
 * against is what the models were trained on: BraTS, 1 mm isotropic, axial, skull-stripped.
 */

/** Slices thicker than this (mm) are "thick": a 2-D clinical acquisition rather than 3-D. */
export const THICK_SLICE_MM = 3;
/** Axes further than this (degrees) from the scanner's are "oblique". */
export const OBLIQUE_DEG = 5;
/** Field of view below these (mm, L-R, A-P, S-I) is smaller than an adult brain (~140 x 170 x 120). */
export const MIN_FOV_MM: [number, number, number] = [130, 160, 90];

const SCANNER_AXIS = ['left-right', 'anterior-posterior', 'superior-inferior'] as const;
const VOXEL_AXIS = ['i', 'j', 'k'] as const;

const col = (d: Mat3, c: number) => [d[c * 3], d[c * 3 + 1], d[c * 3 + 2]];

const mm = (x: number) => `${+x.toFixed(2)} mm`;

/**
 * Warnings from the grid alone (`quorum info` on a DICOM series uses it without reading pixels).
 * `sliceThickness` (DICOM SliceThickness) reveals gaps between slices when smaller than their step.
 */
export function geometryWarnings(
  g: Pick<Geometry, 'dims' | 'spacing' | 'origin' | 'direction'>,
  sliceThickness?: number,
): string[] {
  const out: string[] = [];
  const { spacing, direction, dims } = g;
  // The through-plane axis: the coarsest one when clearly coarser (a 2-D stack), else k.
  const coarsest = [0, 1, 2].reduce((a, c) => (spacing[c] > spacing[a] ? c : a), 2);
  const t = spacing[coarsest] > 1.2 * Math.min(...spacing) ? coarsest : 2;
  const [plane] = nearestScannerAxis(col(direction, t));
  if (spacing[t] > THICK_SLICE_MM)
    out.push(
      `thick slices: ${mm(spacing[t])} apart along ${VOXEL_AXIS[t]} (in-plane ${mm(spacing[(t + 1) % 3])} x ${mm(spacing[(t + 2) % 3])}); planes between them are interpolated`,
    );
  if (sliceThickness && sliceThickness > 0 && spacing[t] - sliceThickness > 0.05)
    out.push(
      `gaps between slices: ${mm(sliceThickness)} thick every ${mm(spacing[t])} (${mm(spacing[t] - sliceThickness)} not imaged)`,
    );
  if (plane !== 2 && dims[t] > 1)
    out.push(
      `${PLANES[plane]} acquisition (slices stacked ${SCANNER_AXIS[plane]}): the model runs on axial planes, reformatted from it`,
    );
  const oblique = gridAngleDeg({ direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] }, { direction });
  if (oblique > OBLIQUE_DEG)
    out.push(
      `oblique: its axes are ${oblique.toFixed(1)}° from the scanner's (not on the usual axial/sagittal/coronal planes)`,
    );
  // Flips are judged where there is a convention to judge them by: an axial stack, whose i runs
  // to the patient's left, j posterior and k superior in DICOM and BraTS alike.
  if (plane === 2) {
    const usual = ['left', 'posterior', 'superior'];
    const opposite = ['right', 'anterior', 'inferior'];
    const flipped: string[] = [];
    if (nearestScannerAxis(col(direction, 0))[0] === 1)
      flipped.push('i and j swapped (i along anterior-posterior, j along left-right)');
    for (let c = 0; c < 3; c++) {
      const [a, sign] = nearestScannerAxis(col(direction, c));
      if (sign < 0) flipped.push(`${VOXEL_AXIS[c]} runs ${opposite[a]} (usual: ${usual[a]})`);
    }
    if (flipped.length) out.push(`flipped axes: ${flipped.join(', ')}`);
  }
  // Extent along each scanner axis, from the grid's corners
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (let corner = 0; corner < 8; corner++)
    for (let r = 0; r < 3; r++) {
      let w = 0;
      for (let c = 0; c < 3; c++) w += direction[c * 3 + r] * spacing[c] * ((corner >> c) & 1 ? dims[c] : 0);
      lo[r] = Math.min(lo[r], w);
      hi[r] = Math.max(hi[r], w);
    }
  const extent = [0, 1, 2].map((r) => hi[r] - lo[r]);
  const small = [0, 1, 2].filter((r) => extent[r] < MIN_FOV_MM[r]);
  if (small.length)
    out.push(
      `small field of view: ${extent.map((e) => Math.round(e)).join(' x ')} mm (L-R x A-P x S-I), ` +
        `less than a brain along ${small.map((r) => SCANNER_AXIS[r]).join(' and ')}; parts of it may be outside`,
    );
  return out;
}

/**
 * Whether a head looks skull-stripped, cheaply. A skull-stripped scan is one constant background
 * (its most frequent value) around tissue: the voxels just inside that background are brain, and
 * almost nothing else is near background level. Around an unstripped head lies noisy air: many
 * voxels barely above the background, and the edge of the constant region is air, not tissue.
 * On the shared data this separates BraTS (near-background share <= 0.06, edge/tissue >= 0.76)
 * from TCGA-LGG heads (>= 0.26 and <= 0.30).
 */
export function skullStripWarning(v: Pick<Volume, 'dims' | 'data'>): string | undefined {
  const data = v.data;
  const n = data.length;
  if (n < 27) return undefined;
  const step = Math.max(1, Math.floor(n / 1_000_000));
  const counts = new Map<number, number>();
  let max = -Infinity;
  for (let i = 0; i < n; i += step) {
    counts.set(data[i], (counts.get(data[i]) ?? 0) + 1);
    if (data[i] > max) max = data[i];
  }
  let mode = 0;
  let best = -1;
  for (const [x, c] of counts) if (c > best) [mode, best] = [x, c];
  const range = max - mode;
  if (!(range > 0)) return undefined;
  const nx = v.dims[0];
  let fg = 0;
  let fgSum = 0;
  let near = 0;
  let edge = 0;
  let edgeSum = 0;
  for (let i = nx; i < n - nx; i += step) {
    const x = data[i];
    if (x === mode) continue;
    fg++;
    fgSum += x - mode;
    if (x - mode < 0.05 * range) near++;
    if (data[i - 1] === mode || data[i + 1] === mode || data[i - nx] === mode || data[i + nx] === mode) {
      edge++;
      edgeSum += x - mode;
    }
  }
  if (!fg) return undefined;
  const nearShare = near / fg;
  const edgeRatio = edge ? edgeSum / edge / (fgSum / fg) : 1;
  if (nearShare > 0.15 && edgeRatio < 0.5)
    return `looks not skull-stripped: ${Math.round(nearShare * 100)}% of the image is barely above its background, as noisy air around a head is`;
  return undefined;
}

/** Everything unusual about a loaded volume: its grid, then its content. */
export function unusualWarnings(v: Volume): string[] {
  const out = geometryWarnings(v, v.source.dicom?.sliceThickness);
  const skull = skullStripWarning(v);
  if (skull) out.push(skull);
  return out;
}

/**
 * Sequences that are the same image voxel for voxel (same grid, same values): a study with a
 * missing sequence filled with a copy of another (5 of the 44 TCGA-LGG patients have a T1c that is
 * their FLAIR). The model then sees one contrast under two names, and its proposal is weaker
 * (in the DU site fold two such patients scored Dice 0), so the case says so. Read as stored, before
 * any resampling; each volume comes with its sequence name, for the message.
 */
export function duplicateSequenceWarnings(seqs: [string, Volume][]): string[] {
  const out: string[] = [];
  for (let b = 1; b < seqs.length; b++)
    for (let a = 0; a < b; a++) {
      const [na, va] = seqs[a];
      const [nb, vb] = seqs[b];
      if (!sameVoxels(va, vb)) continue;
      out.push(
        `${nb} (${fileName(vb)}) is the same image as ${na} (${fileName(va)}), voxel for voxel: the ${nb} looks missing ` +
          `(filled with a copy); the model sees one contrast twice, so expect a weaker proposal and review it first`,
      );
      break;
    }
  return out;
}

const fileName = (v: Volume) => v.source.path.split(/[\\/]/).pop() ?? v.source.path;

function sameVoxels(a: Volume, b: Volume): boolean {
  if (!sameGrid(a, b)) return false;
  let nonzero = false;
  for (let i = 0; i < a.data.length; i++) {
    if (a.data[i] !== b.data[i]) return false;
    if (a.data[i] !== 0) nonzero = true;
  }
  // two empty images are not a copy of each other worth a warning
  return nonzero;
}
