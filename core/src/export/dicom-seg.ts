import dcmjs from 'dcmjs';
import { QuorumError } from '../errors.ts';
import type { Volume } from '../volume.ts';

export interface DicomSegOptions {
  seriesDescription?: string;
  segmentLabel?: string;
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

const da = (d: Date) => d.toISOString().slice(0, 10).replace(/-/g, '');
const tm = (d: Date) => d.toISOString().slice(11, 19).replace(/:/g, '');

/**
 * A binary DICOM Segmentation (one segment: the lesion, mask > 0) over a DICOM source series.
 * Frames are the slices that contain lesion (as highdicom and dcmjs do), each referencing its
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

  let frames: number[] = [];
  for (let k = 0; k < nz; k++) {
    for (let i = k * plane, e = i + plane; i < e; i++)
      if (mask[i]) {
        frames.push(k);
        break;
      }
  }
  // A SEG needs at least one frame; an empty result is stored as one empty frame.
  if (!frames.length) frames = [0];

  // BINARY segmentation: 1 bit per pixel, frames packed back to back, least significant bit first.
  const bits = new Uint8Array(Math.ceil((frames.length * plane) / 8));
  let bit = 0;
  for (const k of frames) {
    for (let i = k * plane, e = i + plane; i < e; i++, bit++) if (mask[i]) bits[bit >> 3] |= 1 << (bit & 7);
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
        ReferencedInstanceSequence: src.sopInstanceUIDs.map((uid) => ({
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
    SegmentSequence: [
      {
        SegmentNumber: 1,
        SegmentLabel: opts.segmentLabel ?? 'Lesion',
        SegmentAlgorithmType: 'SEMIAUTOMATIC',
        SegmentAlgorithmName: opts.algorithm ?? 'Quorum',
        SegmentedPropertyCategoryCodeSequence: [
          code('49755003', 'SCT', 'Morphologically Abnormal Structure'),
        ],
        SegmentedPropertyTypeCodeSequence: [code('108369006', 'SCT', 'Neoplasm')],
        RecommendedDisplayCIELabValue: [43802, 26566, 37721], // red
      },
    ],
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
    PerFrameFunctionalGroupsSequence: frames.map((k) => ({
      DerivationImageSequence: [
        {
          SourceImageSequence: [
            {
              ReferencedSOPClassUID: sopClass,
              ReferencedSOPInstanceUID: src.sopInstanceUIDs?.[k],
              PurposeOfReferenceCodeSequence: [
                code('121322', 'DCM', 'Source image for image processing operation'),
              ],
            },
          ],
          DerivationCodeSequence: [code('113076', 'DCM', 'Segmentation')],
        },
      ],
      FrameContentSequence: [{ DimensionIndexValues: [1, k + 1] }],
      PlanePositionSequence: [{ ImagePositionPatient: position(k) }],
      SegmentIdentificationSequence: [{ ReferencedSegmentNumber: 1 }],
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
