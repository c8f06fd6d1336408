import { MAX_VOXELS, QuorumError } from '../errors.ts';
import { classifySeries, type SeriesEvidence } from '../sequence.ts';
import type { Mat3, Vec3, Volume, VolumeSource } from '../volume.ts';
import { type DecoderRegistry, decodeFrame } from './decode.ts';
import type { DicomImage } from './parse.ts';

const cross = (a: number[], b: number[]): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];
const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

/** What sequence recognition needs from a series' first image. */
export function seriesEvidence(im: DicomImage): SeriesEvidence {
  return {
    seriesDescription: im.seriesDescription,
    protocolName: im.protocolName,
    imageType: im.imageType,
    sequenceName: im.sequenceName,
    scanningSequence: im.scanningSequence,
    contrastAgent: im.contrastAgent,
    acquisitionContrast: im.acquisitionContrast,
    inversionTime: im.inversionTime,
    repetitionTime: im.repetitionTime,
    echoTime: im.echoTime,
  };
}

/** Groups images by SeriesInstanceUID, in order of SeriesNumber. */
export function groupSeries(images: DicomImage[]): DicomImage[][] {
  const by = new Map<string, DicomImage[]>();
  for (const im of images) {
    const g = by.get(im.seriesInstanceUID) ?? [];
    g.push(im);
    by.set(im.seriesInstanceUID, g);
  }
  return [...by.values()].sort((a, b) => a[0].seriesNumber - b[0].seriesNumber);
}

export interface SeriesLayout {
  /** The slices of the first volume, sorted along the slice normal. */
  slices: DicomImage[];
  volumes: number;
  warnings: string[];
}

/**
 * Orders a series into one volume. Slices are sorted by ImagePositionPatient projected on the
 * normal of ImageOrientationPatient; several images at one position (echoes, time points) make
 * a multi-volume series, of which the first (lowest echo/temporal/acquisition/instance) is used.
 */
export function layoutSeries(images: DicomImage[]): SeriesLayout {
  const first = images[0];
  const name = first.file;
  if (/MOSAIC/i.test(first.imageType) && !first.mosaicImages) {
    throw new QuorumError(
      'unsupported',
      'Siemens mosaic without NumberOfImagesInMosaic: convert it with dcm2niix first',
      name,
    );
  }
  // frames of an enhanced object are placed by their functional groups (frames.ts); any other
  // multi-frame image has no position per frame
  if (images.some((im) => im.frames > 1 && im.frame === undefined)) {
    throw new QuorumError(
      'unsupported',
      'a multi-frame image without per-frame positions (no functional groups): convert it with dcm2niix first',
      name,
    );
  }
  if (first.mosaicImages && first.imageOrientation && first.imagePosition) {
    return { slices: [first], volumes: images.length, warnings: [] };
  }
  const iop = first.imageOrientation;
  if (!iop || images.some((im) => !im.imagePosition || !im.imageOrientation)) {
    throw new QuorumError(
      'unsupported',
      'images without ImagePositionPatient/ImageOrientationPatient cannot be placed in 3-D',
      name,
    );
  }
  if (images.some((im) => im.imageOrientation!.some((v, i) => Math.abs(v - iop[i]) > 1e-4))) {
    throw new QuorumError(
      'inconsistent-series',
      'the series mixes image orientations (e.g. a localiser); select one stack',
      name,
    );
  }
  if (images.some((im) => im.rows !== first.rows || im.columns !== first.columns)) {
    throw new QuorumError('inconsistent-series', 'the series mixes image sizes', name);
  }
  const normal = cross(iop.slice(0, 3), iop.slice(3, 6));
  const pos = (im: DicomImage) => dot(im.imagePosition!, normal);
  const order = (a: DicomImage, b: DicomImage) =>
    a.echoTime - b.echoTime ||
    a.temporalPosition - b.temporalPosition ||
    a.acquisitionNumber - b.acquisitionNumber ||
    a.instanceNumber - b.instanceNumber;
  const byPos = new Map<string, DicomImage[]>();
  for (const im of images) {
    const key = pos(im).toFixed(3);
    byPos.set(key, [...(byPos.get(key) ?? []), im]);
  }
  const warnings: string[] = [];
  const counts = new Set([...byPos.values()].map((g) => g.length));
  const volumes = Math.max(...counts);
  if (counts.size > 1)
    warnings.push(`uneven series: ${[...counts].join('/')} images per position; the first of each used`);
  else if (volumes > 1)
    warnings.push(`${volumes} volumes (echoes or time points) in this series: the first loaded`);
  const slices = [...byPos.values()].map((g) => [...g].sort(order)[0]).sort((a, b) => pos(a) - pos(b));
  if (slices.length > 2) {
    const gaps = slices.slice(1).map((s, i) => pos(s) - pos(slices[i]));
    const min = Math.min(...gaps);
    const max = Math.max(...gaps);
    if (max - min > Math.max(0.01, 0.01 * max)) {
      warnings.push(
        `non-uniform slice spacing (${min.toFixed(3)}..${max.toFixed(3)} mm): a slice may be missing; the mean spacing is used`,
      );
    }
  }
  return { slices, volumes, warnings };
}

type Grid = Pick<Volume, 'dims' | 'spacing' | 'origin' | 'direction'>;

/** The grid of a stack of slices sorted along their normal (layoutSeries' slices). */
function stackGeometry(slices: DicomImage[]): Grid {
  const first = slices[0];
  const nz = slices.length;
  const iop = first.imageOrientation!;
  const rowDir = iop.slice(0, 3);
  const colDir = iop.slice(3, 6);
  let kDir: number[] = cross(rowDir, colDir);
  let dz = first.pixelSpacing[0];
  if (nz > 1) {
    const last = slices[nz - 1].imagePosition!;
    const d = last.map((v, i) => v - first.imagePosition![i]);
    const len = Math.hypot(d[0], d[1], d[2]);
    dz = len / (nz - 1);
    kDir = d.map((v) => v / len); // follows gantry tilt, as the positions do
  }
  return {
    dims: [first.columns, first.rows, nz],
    // PixelSpacing is (row spacing, column spacing): i runs along a row, so its step is the column spacing
    spacing: [first.pixelSpacing[1], first.pixelSpacing[0], dz],
    origin: [...first.imagePosition!] as Vec3,
    direction: [...rowDir, ...colDir, ...kDir] as Mat3,
  };
}

/**
 * The grid of a Siemens mosaic: ImagePositionPatient refers to the whole mosaic, so the first
 * tile's corner is shifted by half the unused width and height.
 */
function mosaicGeometry(m: DicomImage): Grid {
  const n = m.mosaicImages;
  const grid = Math.ceil(Math.sqrt(n));
  const tx = m.columns / grid;
  const ty = m.rows / grid;
  if (!Number.isInteger(tx) || !Number.isInteger(ty))
    throw new QuorumError(
      'corrupt',
      `mosaic ${m.columns}x${m.rows} does not split into a ${grid}x${grid} grid`,
      m.file,
    );
  const iop = m.imageOrientation!;
  const row = iop.slice(0, 3);
  const col = iop.slice(3, 6);
  const [dy, dx] = m.pixelSpacing;
  const dz = m.spacingBetweenSlices || m.sliceThickness || 1;
  const shiftX = ((m.columns - tx) / 2) * dx;
  const shiftY = ((m.rows - ty) / 2) * dy;
  return {
    dims: [tx, ty, n],
    spacing: [dx, dy, dz],
    origin: [0, 1, 2].map((a) => m.imagePosition![a] + shiftX * row[a] + shiftY * col[a]) as Vec3,
    direction: [...row, ...col, ...cross(row, col)] as Mat3,
  };
}

/**
 * The grid a series loads onto, without decoding a pixel (`quorum info`): the same geometry
 * seriesToVolume gives the loaded volume.
 */
export function seriesGeometry(images: DicomImage[]): Grid {
  const first = images[0];
  if (first?.mosaicImages && first.imageOrientation && first.imagePosition) {
    const sorted = [...images].sort(
      (a, b) => a.acquisitionNumber - b.acquisitionNumber || a.instanceNumber - b.instanceNumber,
    );
    return mosaicGeometry(sorted[0]);
  }
  return stackGeometry(layoutSeries(images).slices);
}

/** The General Study attributes a DICOM SEG copies (absent ones left out). */
function studyOf(
  m: DicomImage,
): Pick<NonNullable<VolumeSource['dicom']>, 'studyDate' | 'studyTime' | 'studyID' | 'accessionNumber'> {
  const t = (v: string) => v.replace(/\0/g, '').trim() || undefined;
  return {
    studyDate: t(m.studyDate),
    studyTime: t(m.studyTime),
    studyID: t(m.studyID),
    accessionNumber: t(m.accessionNumber),
  };
}

/**
 * A Siemens mosaic tiles N slices in a ceil(sqrt(N)) grid inside one image. ImagePositionPatient
 * refers to the whole mosaic, so the first tile's corner is shifted by half the unused width and
 * height; slices follow the normal of ImageOrientationPatient at SpacingBetweenSlices.
 */
async function mosaicToVolume(images: DicomImage[], codecs: DecoderRegistry, path: string): Promise<Volume> {
  const sorted = [...images].sort(
    (a, b) => a.acquisitionNumber - b.acquisitionNumber || a.instanceNumber - b.instanceNumber,
  );
  const m = sorted[0];
  const n = m.mosaicImages;
  const grid = Math.ceil(Math.sqrt(n));
  const g = mosaicGeometry(m);
  const [tx, ty] = g.dims;
  const dz = g.spacing[2];
  const px = await decodeFrame(m, 0, codecs);
  const rescaled = m.rescaleSlope !== 1 || m.rescaleIntercept !== 0;
  const data = rescaled
    ? new Float32Array(tx * ty * n)
    : m.pixelRepresentation
      ? new Int16Array(tx * ty * n)
      : new Uint16Array(tx * ty * n);
  for (let k = 0; k < n; k++) {
    const gx = (k % grid) * tx;
    const gy = Math.floor(k / grid) * ty;
    for (let j = 0; j < ty; j++)
      for (let i = 0; i < tx; i++) {
        const v = px[(gy + j) * m.columns + gx + i];
        data[k * tx * ty + j * tx + i] = rescaled ? v * m.rescaleSlope + m.rescaleIntercept : v;
      }
  }
  const warnings = [
    `Siemens mosaic of ${n} slices unpacked; slice direction from ImageOrientationPatient, spacing ${dz} mm`,
  ];
  if (sorted.length > 1)
    warnings.push(`${sorted.length} mosaics (time points) in this series: the first loaded`);
  return {
    ...g,
    data,
    source: {
      path,
      format: 'dicom',
      datatype: rescaled ? 'float32' : m.pixelRepresentation ? 'int16' : 'uint16',
      ...sequenceOf(m),
      description: m.seriesDescription || undefined,
      warnings,
      dicom: {
        studyInstanceUID: m.studyInstanceUID,
        seriesInstanceUID: m.seriesInstanceUID,
        frameOfReferenceUID: m.frameOfReferenceUID,
        sopInstanceUIDs: [m.sopInstanceUID],
        sopClassUID: m.sopClassUID,
        modality: m.modality,
        patientName: m.patientName,
        patientID: m.patientID,
        ...studyOf(m),
        seriesDescription: m.seriesDescription,
        seriesNumber: m.seriesNumber,
        echoTime: m.echoTime,
        sliceThickness: m.sliceThickness || undefined,
        transferSyntaxUID: m.transferSyntaxUID,
      },
    },
  };
}

function sequenceOf(im: DicomImage): { sequence: Volume['source']['sequence']; sequenceReason: string } {
  const d = classifySeries(seriesEvidence(im));
  return { sequence: d.sequence, sequenceReason: d.reason };
}

export async function seriesToVolume(
  images: DicomImage[],
  codecs: DecoderRegistry = {},
  path = images[0]?.file ?? '',
): Promise<Volume> {
  if (images[0]?.mosaicImages && images[0].imageOrientation && images[0].imagePosition)
    return mosaicToVolume(images, codecs, path);
  const { slices, warnings } = layoutSeries(images);
  const first = slices[0];
  const geometry = stackGeometry(slices);
  const [nx, ny, nz] = geometry.dims;
  if (nx * ny * nz > MAX_VOXELS)
    throw new QuorumError('too-large', `${nx}x${ny}x${nz} exceeds the voxel limit`, path);
  const rescaled = slices.some((s) => s.rescaleSlope !== 1 || s.rescaleIntercept !== 0);
  const signed = first.pixelRepresentation === 1;
  const data = rescaled
    ? new Float32Array(nx * ny * nz)
    : first.bitsAllocated === 8
      ? new Uint8Array(nx * ny * nz)
      : signed
        ? new Int16Array(nx * ny * nz)
        : new Uint16Array(nx * ny * nz);
  for (const [k, s] of slices.entries()) {
    const px = await decodeFrame(s, s.frame ?? 0, codecs);
    const off = k * nx * ny;
    for (let i = 0; i < nx * ny; i++)
      data[off + i] = rescaled ? px[i] * s.rescaleSlope + s.rescaleIntercept : px[i];
  }
  return {
    ...geometry,
    data,
    source: {
      path,
      format: 'dicom',
      datatype: rescaled ? 'float32' : data instanceof Uint8Array ? 'uint8' : signed ? 'int16' : 'uint16',
      ...sequenceOf(first),
      description: first.seriesDescription || undefined,
      warnings,
      dicom: {
        studyInstanceUID: first.studyInstanceUID,
        seriesInstanceUID: first.seriesInstanceUID,
        frameOfReferenceUID: first.frameOfReferenceUID,
        sopInstanceUIDs: slices.map((s) => s.sopInstanceUID),
        // an enhanced object's slices are frames of one instance
        ...(slices.some((s) => s.frame !== undefined)
          ? { frameNumbers: slices.map((s) => (s.frame ?? 0) + 1) }
          : {}),
        sopClassUID: first.sopClassUID,
        modality: first.modality,
        patientName: first.patientName,
        patientID: first.patientID,
        ...studyOf(first),
        seriesDescription: first.seriesDescription,
        seriesNumber: first.seriesNumber,
        echoTime: first.echoTime,
        sliceThickness: first.sliceThickness || undefined,
        transferSyntaxUID: first.transferSyntaxUID,
      },
    },
  };
}
