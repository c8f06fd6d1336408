import dcmjs from 'dcmjs';
import { QuorumError } from '../errors.ts';
import type { Rgb, SegmentInfo } from '../segments.ts';
import type { Volume } from '../volume.ts';

export interface DicomSegOptions {
  seriesDescription?: string;
  segmentLabel?: string;
  /**
   * One DICOM segment per entry, its voxels where mask === value (labels, colours, descriptions
   * from the case's segment table). Absent: one segment, "Lesion", wherever mask > 0 (proposal
   * folders: a single proposal).
   */
  segments?: readonly SegmentInfo[];
  algorithm?: string;
  seriesNumber?: number;
  now?: Date;
}

const SEG_SOP_CLASS = '1.2.840.10008.5.1.4.1.1.66.4';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
// dcmjs takes AT values as the tag number: (0062,000B) Referenced Segment Number, (0020,0032)
// Image Position (Patient), and their functional groups (0062,000A), (0020,9113).
const TAG_REFERENCED_SEGMENT_NUMBER = 0x0062000b;
const TAG_SEGMENT_IDENTIFICATION_SEQ = 0x0062000a;
const TAG_IMAGE_POSITION = 0x00200032;
const TAG_PLANE_POSITION_SEQ = 0x00209113;

/** A fresh UID under the UUID-derived root 2.25 (no registered org root needed). */
export function newUid(): string {
  const bytes = new Uint8Array(16);
  (
    globalThis as unknown as { crypto: { getRandomValues(a: Uint8Array): Uint8Array } }
  ).crypto.getRandomValues(bytes);
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return `2.25.${n.toString()}`;
}

const code = (value: string, scheme: string, meaning: string) => ({
  CodeValue: value,
  CodingSchemeDesignator: scheme,
  CodeMeaning: meaning,
});

/**
 * sRGB (0..255) as DICOM's RecommendedDisplayCIELabValue: CIE L*a*b* under D65, L* 0..100 and
 * a*, b* -128..127 scaled to 0..65535 (PS3.3 C.10.7.1.1).
 */
export function rgbToDicomLab(rgb: Rgb): [number, number, number] {
  const lin = rgb.map((c) => {
    const x = c / 255;
    return x <= 0.04045 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
  });
  const X = (0.4124564 * lin[0] + 0.3575761 * lin[1] + 0.1804375 * lin[2]) / 0.95047;
  const Y = 0.2126729 * lin[0] + 0.7151522 * lin[1] + 0.072175 * lin[2];
  const Z = (0.0193339 * lin[0] + 0.119192 * lin[1] + 0.9503041 * lin[2]) / 1.08883;
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : ((24389 / 27) * t + 16) / 116);
  const L = 116 * f(Y) - 16;
  const a = 500 * (f(X) - f(Y));
  const b = 200 * (f(Y) - f(Z));
  const clamp = (v: number) => Math.max(0, Math.min(65535, Math.round(v)));
  return [clamp((L * 65535) / 100), clamp(((a + 128) * 65535) / 255), clamp(((b + 128) * 65535) / 255)];
}

const da = (d: Date) => d.toISOString().slice(0, 10).replace(/-/g, '');
const tm = (d: Date) => d.toISOString().slice(11, 19).replace(/:/g, '');

/**
 * A binary DICOM Segmentation over a DICOM source series: one segment per entry of
 * `opts.segments` (voxels equal to its value), or one, the lesion (mask > 0), without a table.
 * Frames are per segment the slices that contain it (as highdicom and dcmjs do), each referencing its
 * source image and carrying its plane position; the geometry is the source volume's, so the SEG
 * lands on the images it was drawn on in any PACS viewer. Volume slice k must be the series'
 * sopInstanceUIDs[k], as the DICOM loader records them.
 */
export function buildDicomSeg(ref: Volume, mask: Uint8Array, opts: DicomSegOptions = {}): Uint8Array {
  const src = ref.source.dicom;
  const [nx, ny, nz] = ref.dims;
  const plane = nx * ny;
  if (
    !src?.sopInstanceUIDs ||
    src.sopInstanceUIDs.length !== nz ||
    !src.studyInstanceUID ||
    !src.seriesInstanceUID
  )
    throw new QuorumError(
      'unsupported',
      'DICOM SEG needs the source series UIDs (study, series, one SOP instance per slice)',
      ref.source.path,
    );
  if (mask.length !== plane * nz)
    throw new QuorumError('bad-argument', `mask has ${mask.length} voxels, the series ${plane * nz}`);
  const sopClass = src.sopClassUID ?? '1.2.840.10008.5.1.4.1.1.4';
  const now = opts.now ?? new Date();
  const d = ref.direction;
  const position = (k: number) =>
    [0, 1, 2].map((a) => +(ref.origin[a] + k * ref.spacing[2] * d[6 + a]).toFixed(6));

  // Segment n (1-based) holds the voxels equal to its value; without a table, one segment of mask > 0.
  const segs = opts.segments?.length
    ? opts.segments.map((g, n) => ({ number: n + 1, value: g.value, info: g as SegmentInfo | undefined }))
    : [{ number: 1, value: -1, info: undefined }];
  const inSeg = (value: number) => (value < 0 ? (v: number) => v > 0 : (v: number) => v === value);

  // Frames: per segment, the slices that contain it (as highdicom and dcmjs do).
  let frames: { seg: number; value: number; k: number }[] = [];
  for (const g of segs) {
    const hit = inSeg(g.value);
    for (let k = 0; k < nz; k++) {
      for (let i = k * plane, e = i + plane; i < e; i++)
        if (hit(mask[i])) {
          frames.push({ seg: g.number, value: g.value, k });
          break;
        }
    }
  }
  // A SEG needs at least one frame; an empty result is stored as one empty frame of segment 1.
  const empty = frames.length === 0;
  if (empty) frames = [{ seg: 1, value: segs[0].value, k: 0 }];

  // BINARY segmentation: 1 bit per pixel, frames packed back to back, least significant bit first.
  const bits = new Uint8Array(Math.ceil((frames.length * plane) / 8));
  let bit = 0;
  for (const f of frames) {
    const hit = empty ? () => false : inSeg(f.value);
    for (let i = f.k * plane, e = i + plane; i < e; i++, bit++)
      if (hit(mask[i])) bits[bit >> 3] |= 1 << (bit & 7);
  }
  const pixelData = new Uint8Array(bits.length + (bits.length & 1)); // even length
  pixelData.set(bits);

  const seriesUid = newUid();
  const sopUid = newUid();
  const dataset: Record<string, unknown> = {
    _vrMap: { PixelData: 'OB' },
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: SEG_SOP_CLASS,
    SOPInstanceUID: sopUid,
    Modality: 'SEG',
    ImageType: ['DERIVED', 'PRIMARY'],
    PatientName: src.patientName ?? '',
    PatientID: src.patientID ?? '',
    PatientBirthDate: '',
    PatientSex: '',
    StudyInstanceUID: src.studyInstanceUID,
    // The source study's, as every instance of a study must carry the same; a source without them
    // gets the SEG's creation date and time and study ID 1, never an empty value.
    StudyDate: src.studyDate ?? da(now),
    StudyTime: src.studyTime ?? tm(now),
    StudyID: src.studyID ?? '1',
    AccessionNumber: src.accessionNumber ?? '',
    ReferringPhysicianName: '',
    SeriesInstanceUID: seriesUid,
    SeriesNumber: opts.seriesNumber ?? 900,
    SeriesDescription: opts.seriesDescription ?? 'Quorum segmentation',
    SeriesDate: da(now),
    SeriesTime: tm(now),
    InstanceNumber: 1,
    ContentDate: da(now),
    ContentTime: tm(now),
    ContentLabel: 'LESION',
    ContentDescription: 'Lesion mask reviewed in Quorum',
    ContentCreatorName: '',
    FrameOfReferenceUID: src.frameOfReferenceUID ?? newUid(),
    PositionReferenceIndicator: '',
    Manufacturer: 'Quorum',
    ManufacturerModelName: 'Quorum',
    DeviceSerialNumber: '0',
    SoftwareVersions: '0.1.0',
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    Rows: ny,
    Columns: nx,
    BitsAllocated: 1,
    BitsStored: 1,
    HighBit: 0,
    PixelRepresentation: 0,
    LossyImageCompression: '00',
    SegmentationType: 'BINARY',
    NumberOfFrames: frames.length,
    ReferencedSeriesSequence: [
      {
        SeriesInstanceUID: src.seriesInstanceUID,
        // one entry per instance: an enhanced source's slices are frames of one
        ReferencedInstanceSequence: [...new Set(src.sopInstanceUIDs)].map((uid) => ({
          ReferencedSOPClassUID: sopClass,
          ReferencedSOPInstanceUID: uid,
        })),
      },
    ],
    DimensionOrganizationSequence: [{ DimensionOrganizationUID: seriesUid }],
    DimensionIndexSequence: [
      {
        DimensionOrganizationUID: seriesUid,
        DimensionIndexPointer: TAG_REFERENCED_SEGMENT_NUMBER,
        FunctionalGroupPointer: TAG_SEGMENT_IDENTIFICATION_SEQ,
        DimensionDescriptionLabel: 'ReferencedSegmentNumber',
      },
      {
        DimensionOrganizationUID: seriesUid,
        DimensionIndexPointer: TAG_IMAGE_POSITION,
        FunctionalGroupPointer: TAG_PLANE_POSITION_SEQ,
        DimensionDescriptionLabel: 'ImagePositionPatient',
      },
    ],
    SegmentSequence: segs.map((g) => ({
      SegmentNumber: g.number,
      SegmentLabel: g.info?.name ?? opts.segmentLabel ?? 'Lesion',
      ...(g.info ? { SegmentDescription: `${g.info.name} (Quorum label value ${g.value})` } : {}),
      SegmentAlgorithmType: 'SEMIAUTOMATIC',
      SegmentAlgorithmName: opts.algorithm ?? 'Quorum',
      SegmentedPropertyCategoryCodeSequence: [code('49755003', 'SCT', 'Morphologically Abnormal Structure')],
      SegmentedPropertyTypeCodeSequence: [code('108369006', 'SCT', 'Neoplasm')],
      RecommendedDisplayCIELabValue: g.info ? rgbToDicomLab(g.info.colour) : [43802, 26566, 37721], // red
    })),
    SharedFunctionalGroupsSequence: [
      {
        PlaneOrientationSequence: [
          { ImageOrientationPatient: [d[0], d[1], d[2], d[3], d[4], d[5]].map((x) => +x.toFixed(8)) },
        ],
        PixelMeasuresSequence: [
          {
            PixelSpacing: [ref.spacing[1], ref.spacing[0]], // row spacing (along j), column spacing (along i)
            SliceThickness: ref.spacing[2],
            SpacingBetweenSlices: ref.spacing[2],
          },
        ],
      },
    ],
    PerFrameFunctionalGroupsSequence: frames.map(({ seg, k }) => ({
      DerivationImageSequence: [
        {
          SourceImageSequence: [
            {
              ReferencedSOPClassUID: sopClass,
              ReferencedSOPInstanceUID: src.sopInstanceUIDs?.[k],
              ...(src.frameNumbers ? { ReferencedFrameNumber: src.frameNumbers[k] } : {}),
              PurposeOfReferenceCodeSequence: [
                code('121322', 'DCM', 'Source image for image processing operation'),
              ],
            },
          ],
          DerivationCodeSequence: [code('113076', 'DCM', 'Segmentation')],
        },
      ],
      FrameContentSequence: [{ DimensionIndexValues: [seg, k + 1] }],
      PlanePositionSequence: [{ ImagePositionPatient: position(k) }],
      SegmentIdentificationSequence: [{ ReferencedSegmentNumber: seg }],
    })),
    PixelData: [pixelData.buffer],
  };
  const meta = dcmjs.data.DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: SEG_SOP_CLASS,
    MediaStorageSOPInstanceUID: sopUid,
    TransferSyntaxUID: EXPLICIT_LE,
    ImplementationClassUID: '2.25.80302813137786398554742050926734630921',
    ImplementationVersionName: 'QUORUM_0_1',
  });
  const dict = new dcmjs.data.DicomDict(meta);
  dict.dict = dcmjs.data.DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write());
}
