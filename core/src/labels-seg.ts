import dcmjs from 'dcmjs';
import { QuorumError } from './errors.ts';
import { worldToVoxel } from './geometry.ts';
import type { LabelsIn } from './labels.ts';
import { defaultSegment, type SegmentInfo } from './segments.ts';
import type { Vec3, Volume } from './volume.ts';

const SEG_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.4';
/** Uncompressed transfer syntaxes (implicit LE, explicit LE, explicit BE): what a SEG is written in. */
const UNCOMPRESSED = ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2'];

type Ds = Record<string, unknown>;
/** dcmjs gives sequences as arrays; one item may also come as the object itself. */
const items = (x: unknown): Ds[] => (Array.isArray(x) ? (x as Ds[]) : x ? [x as Ds] : []);
const first = (x: unknown): Ds | undefined => items(x)[0];
const nums = (x: unknown): number[] =>
  Array.isArray(x) ? x.map(Number) : x === undefined ? [] : [Number(x)];

/**
 * DICOM SEG (binary or fractional, one or more segments) onto the case's reference grid: each
 * frame is placed on the slice of the source image it references (SourceImageSequence SOP
 * instance UID, when the case is that DICOM series) or else by its PlanePositionPatient (a case
 * of NIfTI files converted from the series). A SEG of another series of a DICOM case, frames
 * whose pixels are not the case's in-plane grid, and compressed pixel data are refused, naming
 * the file. Overlapping segments: the later segment wins (a labelmap holds one value per voxel).
 */
export function readSegLabels(bytes: Uint8Array, ref: Volume, file: string): LabelsIn {
  let ds: Ds;
  let transfer: string | undefined;
  try {
    const buf = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const dict = dcmjs.data.DicomMessage.readFile(buf);
    ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict);
    transfer = String(dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.meta).TransferSyntaxUID ?? '');
  } catch (e) {
    throw new QuorumError('corrupt', `unreadable DICOM (${(e as Error).message})`, file);
  }
  if (ds.SOPClassUID !== SEG_SOP_CLASS && ds.Modality !== 'SEG')
    throw new QuorumError(
      'unsupported',
      `a DICOM file but not a segmentation (Modality ${String(ds.Modality ?? '?')}); labels in DICOM must be a DICOM SEG`,
      file,
    );
  if (transfer && !UNCOMPRESSED.includes(transfer))
    throw new QuorumError(
      'unsupported',
      `compressed DICOM SEG (transfer syntax ${transfer}) is not read`,
      file,
    );
  const type = String(ds.SegmentationType ?? 'BINARY');
  if (type !== 'BINARY' && type !== 'FRACTIONAL')
    throw new QuorumError('unsupported', `SegmentationType ${type} is not read`, file);

  const warnings: string[] = [];
  const src = ref.source.dicom;
  const refSeries = items(ds.ReferencedSeriesSequence).map((s) => String(s.SeriesInstanceUID ?? ''));
  const byUid = src?.sopInstanceUIDs?.length === ref.dims[2];
  if (
    ref.source.format === 'dicom' &&
    src?.seriesInstanceUID &&
    refSeries.length &&
    !refSeries.includes(src.seriesInstanceUID)
  )
    throw new QuorumError(
      'inconsistent-series',
      `this SEG references series ${refSeries.join(', ')}, not the case's series ${src.seriesInstanceUID}; open it with the series it was drawn on`,
      file,
    );

  const segments: SegmentInfo[] = [];
  const valueOfSegment = new Map<number, number>();
  for (const s of items(ds.SegmentSequence)) {
    const number = Number(s.SegmentNumber);
    if (!Number.isInteger(number) || number < 1)
      throw new QuorumError(
        'corrupt',
        `a segment without a valid SegmentNumber (${String(s.SegmentNumber)})`,
        file,
      );
    if (segments.length >= 254)
      throw new QuorumError('unsupported', 'too many segments (a labelmap holds at most 254)', file);
    const value = segments.length + 1;
    valueOfSegment.set(number, value);
    const seg = defaultSegment(
      value,
      typeof s.SegmentLabel === 'string' && s.SegmentLabel ? s.SegmentLabel : undefined,
    );
    const lab = nums(s.RecommendedDisplayCIELabValue);
    if (lab.length === 3 && lab.every(Number.isFinite)) seg.colour = dicomLabToRgb(lab as Vec3);
    segments.push(seg);
  }
  if (!segments.length) throw new QuorumError('corrupt', 'a SEG without segments (no SegmentSequence)', file);

  const [nx, ny, nz] = ref.dims;
  const rows = Number(ds.Rows);
  const cols = Number(ds.Columns);
  const frames = Number(ds.NumberOfFrames ?? 1);
  if (rows !== ny || cols !== nx)
    throw new QuorumError(
      'inconsistent-series',
      `the SEG's frames are ${cols}x${rows} pixels, the case's slices ${nx}x${ny}: not drawn on this grid`,
      file,
    );
  const pixels = pixelBytes(ds.PixelData, file);
  const plane = nx * ny;
  const bits = type === 'BINARY';
  const need = bits ? Math.ceil((frames * plane) / 8) : frames * plane;
  if (pixels.byteLength < need)
    throw new QuorumError(
      'truncated',
      `pixel data holds ${pixels.byteLength} bytes, ${frames} frames need ${need}`,
      file,
    );
  const threshold = bits ? 1 : Math.max(1, Number(ds.MaximumFractionalValue ?? 255) / 2);
  const shared = first(ds.SharedFunctionalGroupsSequence);
  const perFrame = items(ds.PerFrameFunctionalGroupsSequence);
  const labels = new Uint8Array(plane * nz);
  let overlaps = 0;
  for (let f = 0; f < frames; f++) {
    const g = perFrame[f] ?? {};
    const ident = first(g.SegmentIdentificationSequence) ?? first(shared?.SegmentIdentificationSequence);
    // A single-segment SEG that leaves the frame's segment out can only mean that one.
    const segNo = Number(
      ident?.ReferencedSegmentNumber ??
        (valueOfSegment.size === 1 ? [...valueOfSegment.keys()][0] : Number.NaN),
    );
    const value = valueOfSegment.get(segNo);
    if (value === undefined)
      throw new QuorumError(
        'corrupt',
        `frame ${f + 1} names segment ${segNo}, which the SEG does not define`,
        file,
      );
    const k = frameSlice(g, ref, byUid, f, file);
    for (let p = 0, o = k * plane, at = f * plane; p < plane; p++, o++, at++) {
      const on = bits ? (pixels[at >> 3] >> (at & 7)) & 1 : pixels[at] >= threshold ? 1 : 0;
      if (!on) continue;
      if (labels[o] && labels[o] !== value) overlaps++;
      labels[o] = value;
    }
  }
  if (overlaps)
    warnings.push(`${file}: ${overlaps} voxels belong to more than one segment; the later segment is kept`);
  const how = byUid
    ? 'frames placed by the source images they reference'
    : 'frames placed by their plane positions';
  return { labels, segments, grid: `DICOM SEG on the case grid (${how})`, warnings };
}

/** The slice a frame belongs to: its referenced source instance, else its position. */
function frameSlice(g: Ds, ref: Volume, byUid: boolean, f: number, file: string): number {
  const uids = ref.source.dicom?.sopInstanceUIDs;
  if (byUid && uids) {
    const srcImg = first(first(g.DerivationImageSequence)?.SourceImageSequence);
    const uid = srcImg?.ReferencedSOPInstanceUID;
    // an enhanced source: the instance and the frame in it
    const frames = ref.source.dicom?.frameNumbers;
    const frame = Number(srcImg?.ReferencedFrameNumber);
    if (typeof uid === 'string') {
      const k = frames ? uids.findIndex((u, i) => u === uid && frames[i] === frame) : uids.indexOf(uid);
      if (k >= 0) return k;
    }
  }
  const ipp = nums(first(g.PlanePositionSequence)?.ImagePositionPatient);
  if (ipp.length !== 3)
    throw new QuorumError(
      'corrupt',
      `frame ${f + 1} references no image of the case's series and has no plane position: it cannot be placed`,
      file,
    );
  const [i, j, k] = worldToVoxel(ref, ipp as Vec3);
  const kk = Math.round(k);
  // A frame on the grid starts at voxel (0, 0) of a slice; a tenth of a voxel of rounding is allowed.
  if (Math.abs(i) > 0.1 || Math.abs(j) > 0.1 || Math.abs(k - kk) > 0.1 || kk < 0 || kk >= ref.dims[2])
    throw new QuorumError(
      'inconsistent-series',
      `frame ${f + 1} at (${ipp.map((x) => x.toFixed(1)).join(', ')}) mm is not a slice of the case's grid (voxel ${[i, j, k].map((x) => x.toFixed(2)).join(', ')})`,
      file,
    );
  return kk;
}

function pixelBytes(pd: unknown, file: string): Uint8Array {
  const parts = (Array.isArray(pd) ? pd : [pd]).filter(Boolean) as (ArrayBuffer | ArrayBufferView)[];
  if (!parts.length) throw new QuorumError('corrupt', 'a SEG without pixel data', file);
  const views = parts.map((p) =>
    p instanceof ArrayBuffer ? new Uint8Array(p) : new Uint8Array(p.buffer, p.byteOffset, p.byteLength),
  );
  if (views.length === 1) return views[0];
  const out = new Uint8Array(views.reduce((n, v) => n + v.byteLength, 0));
  let at = 0;
  for (const v of views) {
    out.set(v, at);
    at += v.byteLength;
  }
  return out;
}

/**
 * DICOM's scaled CIELab (L 0..100, a and b -128..127, each mapped to 0..65535; D65 white, as the
 * standard says) to sRGB 0..255.
 */
export function dicomLabToRgb(lab: Vec3): [number, number, number] {
  const L = (lab[0] / 65535) * 100;
  const a = (lab[1] / 65535) * 255 - 128;
  const b = (lab[2] / 65535) * 255 - 128;
  const fy = (L + 16) / 116;
  const fx = fy + a / 500;
  const fz = fy - b / 200;
  const inv = (t: number) => (t ** 3 > 0.008856 ? t ** 3 : (t - 16 / 116) / 7.787);
  const X = 0.95047 * inv(fx);
  const Y = 1.0 * inv(fy);
  const Z = 1.08883 * inv(fz);
  const lin = [
    3.2406 * X - 1.5372 * Y - 0.4986 * Z,
    -0.9689 * X + 1.8758 * Y + 0.0415 * Z,
    0.0557 * X - 0.204 * Y + 1.057 * Z,
  ];
  return lin.map((c) => {
    const s = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
    return Math.round(Math.min(1, Math.max(0, s)) * 255);
  }) as [number, number, number];
}
