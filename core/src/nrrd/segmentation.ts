import type { SegmentSidecarEntry } from '../labels.ts';
import { MAX_SEGMENT_VALUE } from '../segments.ts';
import type { Volume } from '../volume.ts';

/**
 * 3D Slicer's segmentation file (.seg.nrrd): a NRRD label map whose header names its segments in
 * `SegmentN_*:=` key/value pairs (ID, Name, Color as 0-1 floats, LabelValue, Layer, Extent). Segments
 * that overlap are kept in separate layers: a 4-D file whose first axis is the layer (Slicer's
 * developer guide, "Segmentation labelmap file format"). Quorum's labelmap holds one value per
 * voxel, so the layers are merged here; reading and writing (core/src/export/slicer-seg.ts) share
 * the field names below.
 */
export interface SlicerSegment {
  /** N in SegmentN_: Slicer's order of the segments. */
  index: number;
  id: string;
  name: string;
  /** The voxel value of the segment in its layer. */
  labelValue: number;
  layer: number;
  /** 0-255 (the file stores 0-1). */
  colour?: [number, number, number];
}

/** The segments a header's key/value pairs describe; undefined when it is not a Slicer segmentation. */
export function slicerSegments(kv: ReadonlyMap<string, string>): SlicerSegment[] | undefined {
  const indices = new Set<number>();
  for (const k of kv.keys()) {
    const m = /^Segment(\d+)_/.exec(k);
    if (m) indices.add(Number(m[1]));
  }
  if (indices.size === 0) return undefined;
  return [...indices]
    .sort((a, b) => a - b)
    .map((index) => {
      const get = (f: string) => kv.get(`Segment${index}_${f}`)?.trim();
      const colour = get('Color')?.split(/\s+/).map(Number);
      const labelValue = Number(get('LabelValue') ?? 1);
      return {
        index,
        id: get('ID') || `Segment_${index + 1}`,
        name: get('Name') || get('ID') || `Segment ${index + 1}`,
        // files of Slicer before LabelValue/Layer existed: one segment per layer, value 1
        labelValue: Number.isInteger(labelValue) && labelValue > 0 ? labelValue : 1,
        layer: Number(get('Layer') ?? index) || 0,
        colour:
          colour?.length === 3 && colour.every((c) => c >= 0 && c <= 1)
            ? (colour.map((c) => Math.round(c * 255)) as [number, number, number])
            : undefined,
      };
    });
}

export interface MergedSegmentation {
  /** One uint8 label map on the layers' grid: each segment's voxels hold its value in `entries`. */
  volume: Volume;
  /** The segments' names and colours under their merged values (the warnings are in volume.source). */
  entries: SegmentSidecarEntry[];
}

/**
 * Merges a Slicer segmentation's layers (`layers[l]` is layer l, all on one grid) into one label
 * map. Segments keep their label values when those are distinct and fit a labelmap (a file saved
 * without overlap: the values a user set in Slicer); otherwise they are numbered 1, 2, ... in
 * Slicer's order. Where segments overlap the later one is kept, and the warning says how much.
 */
export function mergeSlicerLayers(
  layers: readonly Volume[],
  segments: readonly SlicerSegment[],
  fileName: string,
): MergedSegmentation {
  const values = segments.map((s) => s.labelValue);
  const keep = new Set(values).size === values.length && values.every((v) => v <= MAX_SEGMENT_VALUE);
  const newValue = segments.map((s, n) => (keep ? s.labelValue : n + 1));
  const n = layers[0].data.length;
  const out = new Uint8Array(n);
  let overlapping = 0;
  let unnamed = 0;
  for (const [l, layer] of layers.entries()) {
    // this layer's file values -> merged values
    const map = new Map<number, number>();
    for (const [k, s] of segments.entries()) if (s.layer === l) map.set(s.labelValue, newValue[k]);
    const src = layer.data;
    for (let i = 0; i < n; i++) {
      const v = src[i];
      if (v === 0) continue;
      const to = map.get(v);
      if (to === undefined) {
        unnamed++;
        continue;
      }
      if (out[i] !== 0) overlapping++;
      out[i] = to;
    }
  }
  const warnings = (layers[0].source.warnings ?? []).filter((w) => !/ volumes: volume \d+ loaded$/.test(w));
  if (layers.length > 1)
    warnings.push(
      `${fileName}: a 3D Slicer segmentation in ${layers.length} layers (overlapping segments), merged`,
    );
  if (overlapping)
    warnings.push(
      `${fileName}: ${overlapping} voxels belong to more than one segment; each keeps the later segment (Slicer's order)`,
    );
  if (unnamed)
    warnings.push(`${fileName}: ${unnamed} voxels hold values no segment of the header names: left out`);
  if (!keep && layers.length === 1)
    warnings.push(
      `${fileName}: segment label values renumbered 1..${segments.length} (they repeat or exceed 254)`,
    );
  return {
    volume: {
      ...layers[0],
      data: out,
      source: { ...layers[0].source, datatype: 'uint8', warnings },
    },
    entries: segments.map((s, k) => ({ value: newValue[k], name: s.name, colour: s.colour })),
  };
}
