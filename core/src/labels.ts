import { QuorumError } from './errors.ts';
import { type Geometry, sameGrid } from './geometry.ts';
import { resampleToGrid } from './resample.ts';
import { defaultSegment, type SegmentInfo } from './segments.ts';
import type { Mat3, Vec3, Volume } from './volume.ts';

export { readSegLabels } from './labels-seg.ts';

/**
 * Existing labels read in: a label map (NIfTI) or a DICOM SEG brought onto a case's reference
 * grid as the starting labelmap, with what each value means. Pure: the file is read by
 * core/src/node/labels-file.ts. Every refusal names the file and why.
 */
export interface LabelsIn {
  /** On the reference grid, i fastest; 0 = background. */
  labels: Uint8Array;
  /** One per value present (a SEG: one per segment it defines). */
  segments: SegmentInfo[];
  /** How it reached the grid, for the user. */
  grid: string;
  warnings: string[];
}

/** Most distinct labels a uint8 labelmap holds besides background (255 stays free for tools). */
export const MAX_LABELS = 254;

/** A sidecar's entry (`<name>.segments.json`: [{value, name, colour}]). */
export interface SegmentSidecarEntry {
  value: number;
  name?: string;
  colour?: [number, number, number];
}

type Grid = Pick<Geometry, 'dims' | 'spacing' | 'origin' | 'direction'>;

/**
 * A label volume (as loaded: NIfTI) onto `ref`'s grid. Same grid: taken as is. Another grid:
 * nearest neighbour through world coordinates (core/src/resample.ts), as a viewer overlays it;
 * a header without orientation (no qform, no sform) is only taken voxel for voxel when its extent
 * equals the reference's. Values must be integers >= 0; more than 254 distinct ones are refused,
 * values above 254 are renumbered 1..n (said in `warnings`, original values in the segment names).
 */
export function labelsFromVolume(
  label: Volume,
  ref: Grid,
  file: string,
  sidecar?: SegmentSidecarEntry[],
): LabelsIn {
  const warnings: string[] = [];
  const values = distinctValues(label, file);
  if (values.length > MAX_LABELS)
    throw new QuorumError(
      'unsupported',
      `too many labels: ${values.length} distinct values (a labelmap holds at most ${MAX_LABELS}); is this an image rather than a label map?`,
      file,
    );
  // 255 is the renderer's unaccepted-proposal value (renderer/src/lib/label-values.ts): a 0/255 mask
  // is renumbered too.
  const renumber = values.some((v) => v > MAX_LABELS);
  let vol = label;
  let grid: string;
  const n = label.source.nifti;
  const noOrientation = !!n && n.qformCode === 0 && n.sformCode === 0;
  if (sameGrid(label, ref)) grid = 'on the case grid as read';
  else if (noOrientation) {
    if (!label.dims.every((d, i) => d === ref.dims[i]))
      throw new QuorumError(
        'inconsistent-series',
        `the label grid cannot be matched to the case: its extent is ${label.dims.join('x')} (the case's ${ref.dims.join('x')}) and its header has no orientation (no qform, no sform) to place it`,
        file,
      );
    grid = 'no orientation in its header: taken voxel for voxel (same extent as the case)';
    warnings.push(`${file}: ${grid}`);
  } else {
    const r = resampleToGrid(label, ref, { interpolation: 'nearest', fill: 0 });
    if (r.overlap === 0)
      throw new QuorumError(
        'inconsistent-series',
        `the label grid cannot be matched to the case: it lies entirely outside the case's field of view (${label.dims.join('x')} vs ${ref.dims.join('x')}); is it another patient's or another frame of reference?`,
        file,
      );
    vol = r.volume;
    grid = `resampled onto the case grid (nearest neighbour, world coordinates): covers ${Math.round(r.overlap * 1000) / 10}% of it, axes ${Math.round(r.angleDeg * 10) / 10}° apart`;
    warnings.push(`${file}: ${grid}`);
  }
  const map = new Map<number, number>();
  for (const [i, v] of values.entries()) map.set(v, renumber ? i + 1 : v);
  if (renumber)
    warnings.push(
      `${file}: label values above 254 renumbered 1..${values.length} (names keep the original values)`,
    );
  const labels = new Uint8Array(vol.data.length);
  const src = vol.data;
  for (let i = 0; i < src.length; i++) if (src[i] !== 0) labels[i] = map.get(src[i]) ?? 0;
  const byValue = new Map((sidecar ?? []).map((s) => [s.value, s]));
  const segments = values.map((v) => {
    const s = byValue.get(v);
    const seg = defaultSegment(map.get(v)!, s?.name ?? (renumber ? `Label ${v}` : undefined));
    if (s?.colour) seg.colour = [...s.colour] as [number, number, number];
    return seg;
  });
  return { labels, segments, grid, warnings };
}

/** Sorted distinct non-zero values; refuses non-integer and negative ones, naming one. */
function distinctValues(v: Pick<Volume, 'data'>, file: string): number[] {
  const seen = new Set<number>();
  const d = v.data;
  for (let i = 0; i < d.length; i++) {
    const x = d[i];
    if (x === 0 || seen.has(x)) continue;
    if (!Number.isInteger(x) || x < 0)
      throw new QuorumError(
        'unsupported',
        `not a label map: it holds ${Number.isFinite(x) ? (x < 0 ? 'negative' : 'non-integer') : 'non-finite'} values (e.g. ${x}); labels are integers 0, 1, 2, ...`,
        file,
      );
    seen.add(x);
    if (seen.size > 100_000) break; // an image, not labels: refused by the count check
  }
  return [...seen].sort((a, b) => a - b);
}

/** Sidecar JSON text to entries; a malformed sidecar is refused, naming it. */
export function parseSegmentSidecar(text: string, file: string): SegmentSidecarEntry[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new QuorumError('corrupt', `not JSON (${(e as Error).message})`, file);
  }
  const list = Array.isArray(raw) ? raw : (raw as { segments?: unknown })?.segments;
  if (!Array.isArray(list))
    throw new QuorumError('corrupt', 'expected a list of {value, name, colour}', file);
  return list.map((e, i) => {
    const o = e as Record<string, unknown>;
    const value = Number(o.value);
    const colour = o.colour ?? o.color;
    if (!Number.isInteger(value) || value < 1 || value > 255)
      throw new QuorumError('corrupt', `entry ${i + 1}: value must be an integer 1..255`, file);
    const ok = Array.isArray(colour) && colour.length === 3 && colour.every((c) => Number.isFinite(c));
    return {
      value,
      name: typeof o.name === 'string' ? o.name : undefined,
      colour: ok
        ? ((colour as number[]).map((c) => Math.round(Number(c))) as [number, number, number])
        : undefined,
    };
  });
}

/** The labels as a uint8 Volume on `ref`'s grid (what the case keeps and getVolume('label') sends). */
export function labelVolume(
  l: LabelsIn,
  ref: Grid & Pick<Volume, 'source'>,
  path: string,
  format: 'nifti' | 'dicom',
): Volume {
  return {
    dims: [...ref.dims] as Vec3,
    spacing: [...ref.spacing] as Vec3,
    origin: [...ref.origin] as Vec3,
    direction: [...ref.direction] as Mat3,
    data: l.labels,
    source: {
      path,
      format,
      datatype: 'uint8',
      sequence: 'unknown',
      description: 'labels in',
      warnings: l.warnings,
    },
  };
}
