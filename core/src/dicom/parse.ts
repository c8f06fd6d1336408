import dicomParser from 'dicom-parser';
import { MAX_VOXELS, QuorumError } from '../errors.ts';

/** The attributes of one DICOM image file that geometry, decoding and DICOM SEG export need. */
export interface DicomImage {
  file: string;
  transferSyntaxUID: string;
  studyInstanceUID: string;
  seriesInstanceUID: string;
  sopInstanceUID: string;
  sopClassUID: string;
  frameOfReferenceUID: string;
  modality: string;
  seriesDescription: string;
  seriesNumber: number;
  instanceNumber: number;
  acquisitionNumber: number;
  temporalPosition: number;
  echoTime: number;
  patientName: string;
  patientID: string;
  /** General Study attributes, copied into a DICOM SEG ('' when absent). */
  studyDate: string;
  studyTime: string;
  studyID: string;
  accessionNumber: string;
  imageType: string;
  /** What sequence recognition looks at (core/src/sequence.ts); '' / 0 when absent. */
  protocolName: string;
  sequenceName: string;
  scanningSequence: string;
  contrastAgent: string;
  /** Enhanced MR's AcquisitionContrast (0008,9209): T1, T2, FLUID_ATTENUATED, DIFFUSION, ... */
  acquisitionContrast: string;
  inversionTime: number;
  repetitionTime: number;
  manufacturer: string;
  rows: number;
  columns: number;
  frames: number;
  /** The frame of a multi-frame (enhanced) file this image is (0-based): core/src/dicom/frames.ts. */
  frame?: number;
  imagePosition?: [number, number, number];
  imageOrientation?: [number, number, number, number, number, number];
  pixelSpacing: [number, number];
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: number;
  samplesPerPixel: number;
  photometric: string;
  rescaleSlope: number;
  rescaleIntercept: number;
  /** Siemens NumberOfImagesInMosaic (0019,100A); 0 when not a mosaic. */
  mosaicImages: number;
  spacingBetweenSlices: number;
  sliceThickness: number;
  /** for decoding */
  dataSet: dicomParser.DataSet;
}

export const TRANSFER_SYNTAX_NAMES: Record<string, string> = {
  '1.2.840.10008.1.2': 'Implicit VR Little Endian',
  '1.2.840.10008.1.2.1': 'Explicit VR Little Endian',
  '1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
  '1.2.840.10008.1.2.2': 'Explicit VR Big Endian',
  '1.2.840.10008.1.2.5': 'RLE Lossless',
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline (8-bit)',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended (12-bit)',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
};

export function nums(ds: dicomParser.DataSet, tag: string): number[] | undefined {
  const s = ds.string(tag);
  if (!s) return undefined;
  const v = s.split('\\').map(Number);
  return v.every(Number.isFinite) ? v : undefined;
}

/** A numeric string attribute, or `fallback` when absent or not a finite number ("1e309", "nan"). */
export function num(ds: dicomParser.DataSet, tag: string, fallback: number): number {
  const v = Number(ds.string(tag) ?? Number.NaN);
  return Number.isFinite(v) ? v : fallback;
}

/**
 * ImageOrientationPatient as two unit vectors. Writers round them to a few decimals, so small
 * errors are renormalised; a zero, scaled or skewed pair (a damaged file) used to give a volume
 * with degenerate or non-unit axes, and is now refused.
 */
export function orientation(iop: number[] | undefined, file: string): DicomImage['imageOrientation'] {
  if (iop?.length !== 6) return undefined;
  const row = iop.slice(0, 3);
  const col = iop.slice(3, 6);
  const nr = Math.hypot(row[0], row[1], row[2]);
  const nc = Math.hypot(col[0], col[1], col[2]);
  const cos = (row[0] * col[0] + row[1] * col[1] + row[2] * col[2]) / (nr * nc);
  if (!(Math.abs(nr - 1) < 0.01 && Math.abs(nc - 1) < 0.01 && Math.abs(cos) < 1e-3)) {
    throw new QuorumError(
      'corrupt',
      `ImageOrientationPatient ${iop.join('\\')} is not two orthogonal unit vectors`,
      file,
    );
  }
  return [...row.map((v) => v / nr), ...col.map((v) => v / nc)] as DicomImage['imageOrientation'];
}

/** True when the bytes start like a DICOM Part 10 file (128-byte preamble + "DICM"). */
export function hasDicmPrefix(b: Uint8Array): boolean {
  return b.length > 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d;
}

/** Parses one file; throws QuorumError 'not-dicom' / 'truncated' / 'corrupt' / 'too-large'. */
export function parseDicom(bytes: Uint8Array, file: string): DicomImage {
  let ds: dicomParser.DataSet;
  try {
    ds = dicomParser.parseDicom(bytes, { untilTag: undefined } as never);
  } catch (e) {
    const msg =
      typeof e === 'string'
        ? e
        : ((e as { exception?: string }).exception ?? (e as Error).message ?? String(e));
    const code = /buffer overread|end of buffer|beyond|overrun/i.test(msg)
      ? 'truncated'
      : hasDicmPrefix(bytes)
        ? 'corrupt'
        : 'not-dicom';
    throw new QuorumError(
      code,
      code === 'not-dicom' ? 'not a DICOM file' : `unreadable DICOM (${msg})`,
      file,
    );
  }
  try {
    return attributes(ds, file);
  } catch (e) {
    if (e instanceof QuorumError) throw e;
    // dicom-parser reads values lazily and throws strings for values cut off by the end of the file
    const msg = typeof e === 'string' ? e : ((e as Error).message ?? String(e));
    throw new QuorumError(
      /past end|overread|beyond|overrun/i.test(msg) ? 'truncated' : 'corrupt',
      `unreadable DICOM attribute (${msg})`,
      file,
    );
  }
}

function attributes(ds: dicomParser.DataSet, file: string): DicomImage {
  const rows = ds.uint16('x00280010') ?? 0;
  const columns = ds.uint16('x00280011') ?? 0;
  const frames = Number(ds.string('x00280008') ?? 1) || 1;
  if (!rows || !columns || !ds.elements.x7fe00010) {
    throw new QuorumError('unsupported', 'no image in this DICOM object (no Rows/Columns/PixelData)', file);
  }
  if (rows * columns * frames > MAX_VOXELS)
    throw new QuorumError('too-large', `${columns}x${rows}x${frames} exceeds the voxel limit`, file);
  const ipp = nums(ds, 'x00200032');
  const iop = nums(ds, 'x00200037');
  const ps = nums(ds, 'x00280030') ?? nums(ds, 'x00181164') ?? [1, 1];
  // a negative or zero PixelSpacing gave a volume with negative/zero voxel size
  if (ps.length < 2 || !(ps[0] > 0 && ps[1] > 0))
    throw new QuorumError('corrupt', `PixelSpacing ${ps.join('\\')} is not two positive numbers`, file);
  return {
    file,
    transferSyntaxUID: (ds.string('x00020010') ?? '1.2.840.10008.1.2').replace(/\0/g, '').trim(),
    studyInstanceUID: ds.string('x0020000d') ?? '',
    seriesInstanceUID: ds.string('x0020000e') ?? '(no SeriesInstanceUID)',
    sopInstanceUID: ds.string('x00080018') ?? '',
    sopClassUID: ds.string('x00080016') ?? '',
    frameOfReferenceUID: ds.string('x00200052') ?? '',
    modality: ds.string('x00080060') ?? '',
    seriesDescription: ds.string('x0008103e') ?? '',
    seriesNumber: Number(ds.string('x00200011') ?? 0) || 0,
    instanceNumber: Number(ds.string('x00200013') ?? 0) || 0,
    acquisitionNumber: Number(ds.string('x00200012') ?? 0) || 0,
    temporalPosition: Number(ds.string('x00200100') ?? 0) || 0,
    echoTime: Number(ds.string('x00180081') ?? 0) || 0,
    patientName: ds.string('x00100010') ?? '',
    patientID: ds.string('x00100020') ?? '',
    studyDate: ds.string('x00080020') ?? '',
    studyTime: ds.string('x00080030') ?? '',
    studyID: ds.string('x00200010') ?? '',
    accessionNumber: ds.string('x00080050') ?? '',
    imageType: ds.string('x00080008') ?? '',
    protocolName: ds.string('x00181030') ?? '',
    // enhanced MR names the pulse sequence in PulseSequenceName (0018,9005)
    sequenceName: ds.string('x00180024') ?? ds.string('x00189005') ?? '',
    scanningSequence: ds.string('x00180020') ?? '',
    contrastAgent: ds.string('x00180010') ?? '',
    acquisitionContrast: ds.string('x00089209') ?? '',
    inversionTime: num(ds, 'x00180082', 0),
    repetitionTime: num(ds, 'x00180080', 0),
    manufacturer: ds.string('x00080070') ?? '',
    rows,
    columns,
    frames,
    imagePosition: ipp?.length === 3 ? (ipp as [number, number, number]) : undefined,
    imageOrientation: orientation(iop, file),
    pixelSpacing: [ps[0], ps[1]],
    bitsAllocated: ds.uint16('x00280100') ?? 16,
    bitsStored: ds.uint16('x00280101') ?? 16,
    pixelRepresentation: ds.uint16('x00280103') ?? 0,
    samplesPerPixel: ds.uint16('x00280002') ?? 1,
    photometric: (ds.string('x00280004') ?? 'MONOCHROME2').trim(),
    rescaleSlope: num(ds, 'x00281053', 1) || 1,
    rescaleIntercept: num(ds, 'x00281052', 0),
    mosaicImages: /MOSAIC/i.test(ds.string('x00080008') ?? '') ? (ds.uint16('x0019100a') ?? 0) : 0,
    // fall-backs for the slice step (single slices, mosaics): only positive finite values count
    spacingBetweenSlices: Math.max(0, num(ds, 'x00180088', 0)),
    sliceThickness: Math.max(0, num(ds, 'x00180050', 0)),
    dataSet: ds,
  };
}
