import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import dcmjs from 'dcmjs';
import type { Volume } from '../../core/src/volume.ts';

/** A fresh UID under the UUID-derived root 2.25 (no registered org root needed). */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`;
}

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';

/**
 * Private tags and group lengths come back from dcmjs as hex keys, also inside sequence items;
 * they belong to the template's own acquisition (and group lengths would be stale).
 */
function dropPrivate(ds: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(ds)) {
    if (/^[0-9A-F]{8}$/i.test(k)) delete ds[k];
    else if (Array.isArray(v))
      for (const item of v)
        if (item && typeof item === 'object' && !ArrayBuffer.isView(item))
          dropPrivate(item as Record<string, unknown>);
  }
}

/** What the written series claims to be, on top of the template's scanner and site. */
export interface SeriesHeader {
  seriesDescription: string;
  seriesNumber: number;
  /** Acquisition attributes that differ from the template's (TR, TE, ScanningSequence, ...). */
  acquisition: Record<string, unknown>;
}

/**
 * Writes `v` (any grid, values rounded to int16) as one MR image file per slice, as a scanner would
 * export it. The headers of the real file `template` (scanner, site, software, patient position)
 * are kept; its private groups and references (which describe the template's own acquisition) are
 * dropped; geometry (ImageOrientationPatient, ImagePositionPatient per slice, PixelSpacing,
 * SliceThickness, SpacingBetweenSlices, SliceLocation, Rows, Columns), UIDs, numbering and pixel
 * attributes are set from `v`. Returns the files in slice order.
 */
export function writeDicomSeries(dir: string, template: string, v: Volume, header: SeriesHeader): string[] {
  mkdirSync(dir, { recursive: true });
  const b = readFileSync(template);
  const msg = dcmjs.data.DicomMessage.readFile(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  const base = dcmjs.data.DicomMetaDictionary.naturalizeDataset(msg.dict);
  dropPrivate(base);
  for (const k of [
    'ReferencedImageSequence',
    'ReferencedPerformedProcedureStepSequence',
    'NumberOfTemporalPositions',
    'TemporalPositionIdentifier',
    'SmallestImagePixelValue',
    'LargestImagePixelValue',
    'PixelData',
  ])
    delete base[k];
  const [nx, ny, nz] = v.dims;
  const d = v.direction;
  const rowDir = d.slice(0, 3);
  const colDir = d.slice(3, 6);
  const normal = d.slice(6, 9);
  const study = newUid();
  const series = newUid();
  const frame = newUid();
  // int16, as GE stores MR images; the window a viewer opens with spans the data
  const px = Int16Array.from(v.data, (x) => Math.max(-32768, Math.min(32767, Math.round(x))));
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const x of px) {
    if (x < lo) lo = x;
    if (x > hi) hi = x;
  }
  const files: string[] = [];
  const fix = (x: number) => Number(x.toFixed(6));
  for (let k = 0; k < nz; k++) {
    const pos = [0, 1, 2].map((r) => fix(v.origin[r] + k * v.spacing[2] * normal[r]));
    const sop = newUid();
    const ds: Record<string, unknown> = {
      ...base,
      ...header.acquisition,
      ImageType: ['ORIGINAL', 'PRIMARY', 'OTHER'],
      SOPClassUID: MR_IMAGE_STORAGE,
      SOPInstanceUID: sop,
      StudyInstanceUID: study,
      SeriesInstanceUID: series,
      FrameOfReferenceUID: frame,
      SeriesDescription: header.seriesDescription,
      ProtocolName: header.seriesDescription,
      SeriesNumber: header.seriesNumber,
      AcquisitionNumber: 1,
      InstanceNumber: k + 1,
      ImagesInAcquisition: nz,
      StackID: '1',
      InStackPositionNumber: k + 1,
      SliceThickness: v.spacing[2],
      SpacingBetweenSlices: v.spacing[2],
      ImagePositionPatient: pos,
      ImageOrientationPatient: [...rowDir, ...colDir].map(fix),
      SliceLocation: fix(pos[0] * normal[0] + pos[1] * normal[1] + pos[2] * normal[2]),
      PixelSpacing: [v.spacing[1], v.spacing[0]], // row spacing (between rows, j), then column spacing (i)
      Rows: ny,
      Columns: nx,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 1,
      WindowCenter: Math.round((lo + hi) / 2),
      WindowWidth: Math.max(1, hi - lo),
      PixelData: [px.slice(k * nx * ny, (k + 1) * nx * ny).buffer],
      _vrMap: { PixelData: 'OW' },
    };
    const meta = dcmjs.data.DicomMetaDictionary.denaturalizeDataset({
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: MR_IMAGE_STORAGE,
      MediaStorageSOPInstanceUID: sop,
      TransferSyntaxUID: EXPLICIT_LE,
      ImplementationClassUID: '2.25.80302813137786398554742050926734630921',
      ImplementationVersionName: 'QUORUM_TEST',
    });
    const dict = new dcmjs.data.DicomDict(meta);
    dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(ds);
    const file = join(
      dir,
      `IM-${String(header.seriesNumber).padStart(4, '0')}-${String(k + 1).padStart(4, '0')}.dcm`,
    );
    writeFileSync(file, new Uint8Array(dict.write()));
    files.push(file);
  }
  return files;
}
