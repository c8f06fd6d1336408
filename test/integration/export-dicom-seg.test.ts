import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import dcmjs from 'dcmjs';
import dicomParser from 'dicom-parser';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDicomSeg } from '../../core/src/export/dicom-seg.ts';
import type { Mat3, Vec3, Volume } from '../../core/src/volume.ts';

/**
 * DICOM SEG over a real GE MR series (dcm_qa_nih, 15 slices x 10 volumes; the first volume is
 * used). The reference grid is built here directly from the files' tags with dicom-parser, not
 * with the app's DICOM loader, so the check is independent of it. The SEG is read back with
 * dcmjs (structure) and dicom-parser (raw tags, pixel bits).
 */
const SERIES = resolve(__dirname, '../../../shared/data/dicom/dcm_qa_nih/In/20180918GE/mr_0004');

interface SliceFile {
  sop: string;
  ipp: Vec3;
  instance: number;
}

function referenceVolume(): {
  vol: Volume;
  slices: SliceFile[];
  study: string;
  series: string;
  frame: string;
} {
  const files = readdirSync(SERIES).filter((f) => !f.endsWith('.txt'));
  let iop: number[] = [];
  let rows = 0;
  let cols = 0;
  let ps: number[] = [];
  let study = '';
  let series = '';
  let frame = '';
  let sopClass = '';
  const byPos = new Map<string, SliceFile>();
  for (const f of files) {
    const ds = dicomParser.parseDicom(new Uint8Array(readFileSync(join(SERIES, f))), {
      untilTag: 'x7fe00010',
    });
    const ipp = (ds.string('x00200032') ?? '').split('\\').map(Number) as Vec3;
    const s: SliceFile = { sop: ds.string('x00080018') ?? '', ipp, instance: ds.intString('x00200013') ?? 0 };
    iop = (ds.string('x00200037') ?? '').split('\\').map(Number);
    ps = (ds.string('x00280030') ?? '').split('\\').map(Number);
    rows = ds.uint16('x00280010') ?? 0;
    cols = ds.uint16('x00280011') ?? 0;
    study = ds.string('x0020000d') ?? '';
    series = ds.string('x0020000e') ?? '';
    frame = ds.string('x00200052') ?? '';
    sopClass = ds.string('x00080016') ?? '';
    const key = ipp.map((x) => x.toFixed(3)).join(',');
    const prev = byPos.get(key);
    if (!prev || s.instance < prev.instance) byPos.set(key, s); // first time point at each position
  }
  const n: Vec3 = [
    iop[1] * iop[5] - iop[2] * iop[4],
    iop[2] * iop[3] - iop[0] * iop[5],
    iop[0] * iop[4] - iop[1] * iop[3],
  ];
  const along = (p: Vec3) => p[0] * n[0] + p[1] * n[1] + p[2] * n[2];
  const slices = [...byPos.values()].sort((a, b) => along(a.ipp) - along(b.ipp));
  const dz = along(slices[1].ipp) - along(slices[0].ipp);
  const vol: Volume = {
    dims: [cols, rows, slices.length],
    spacing: [ps[1], ps[0], dz],
    origin: slices[0].ipp,
    direction: [...iop, ...n] as Mat3,
    data: new Int16Array(cols * rows * slices.length),
    source: {
      path: SERIES,
      format: 'dicom',
      datatype: 'int16',
      sequence: 'unknown',
      dicom: {
        studyInstanceUID: study,
        seriesInstanceUID: series,
        frameOfReferenceUID: frame,
        sopInstanceUIDs: slices.map((s) => s.sop),
        sopClassUID: sopClass,
        patientName: 'TEST_REGRESSION',
        patientID: 'DEV',
      },
    },
  };
  return { vol, slices, study, series, frame };
}

describe('DICOM SEG export on a real MR series', () => {
  let ref: ReturnType<typeof referenceVolume>;
  let mask: Uint8Array;
  let seg: Uint8Array;
  const lesionSlices = [3, 4, 9];

  beforeAll(() => {
    ref = referenceVolume();
    const [nx, ny, nz] = ref.vol.dims;
    mask = new Uint8Array(nx * ny * nz);
    // Asymmetric blobs (a flipped row/column order would not match), different per slice.
    for (const k of lesionSlices)
      for (let j = 10 + k; j < 30 + k; j++)
        for (let i = 5; i < 5 + j - k; i++) mask[i + nx * j + nx * ny * k] = 1;
    seg = buildDicomSeg(ref.vol, mask, { algorithm: 'quorum-wt-2ch 0.1.0' });
  });

  it('uses the first time point: 15 slices, equally spaced', () => {
    expect(ref.slices).toHaveLength(15);
    expect(ref.vol.spacing[2]).toBeGreaterThan(0);
  });

  it('is a binary Segmentation in the source study and frame of reference', () => {
    const ds = dicomParser.parseDicom(seg);
    expect(ds.string('x00080016')).toBe('1.2.840.10008.5.1.4.1.1.66.4');
    expect(ds.string('x00080060')).toBe('SEG');
    expect(ds.string('x00620001')).toBe('BINARY');
    expect(ds.string('x0020000d')).toBe(ref.study);
    expect(ds.string('x00200052')).toBe(ref.frame);
    expect(ds.string('x0020000e')).not.toBe(ref.series); // a new series of its own
    expect(ds.uint16('x00280010')).toBe(ref.vol.dims[1]);
    expect(ds.uint16('x00280011')).toBe(ref.vol.dims[0]);
    expect(ds.uint16('x00280100')).toBe(1);
    expect(ds.intString('x00280008')).toBe(lesionSlices.length);
  });

  it('has the study date, time and ID: those of the source study, else the time of writing, never empty', () => {
    // The reference here is built from UIDs only: no study attributes, so the SEG's creation time.
    const now = new Date('2026-03-04T05:06:07Z');
    const without = dicomParser.parseDicom(buildDicomSeg(ref.vol, mask, { now }));
    expect(without.string('x00080020')).toBe('20260304');
    expect(without.string('x00080030')).toBe('050607');
    expect(without.string('x00200010')).toBe('1');
    const src = { ...ref.vol.source.dicom, studyDate: '20180918', studyTime: '101010.5', studyID: 'S42' };
    const vol = { ...ref.vol, source: { ...ref.vol.source, dicom: src } };
    const withStudy = dicomParser.parseDicom(buildDicomSeg(vol, mask, { now }));
    expect(withStudy.string('x00080020')).toBe('20180918');
    expect(withStudy.string('x00080030')).toBe('101010.5');
    expect(withStudy.string('x00200010')).toBe('S42');
  });

  it('has one segment with coded category/type and references every source instance', () => {
    const { dict, meta } = dcmjs.data.DicomMessage.readFile(seg.slice().buffer);
    expect(
      (dcmjs.data.DicomMetaDictionary.naturalizeDataset(meta) as { TransferSyntaxUID: string })
        .TransferSyntaxUID,
    ).toBe('1.2.840.10008.1.2.1');
    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict) as Record<string, any>;
    const segments = [ds.SegmentSequence].flat();
    expect(segments).toHaveLength(1);
    expect(segments[0].SegmentNumber).toBe(1);
    expect(segments[0].SegmentLabel).toBe('Lesion');
    expect(segments[0].SegmentAlgorithmType).toBe('SEMIAUTOMATIC');
    expect(segments[0].SegmentAlgorithmName).toBe('quorum-wt-2ch 0.1.0');
    expect([segments[0].SegmentedPropertyTypeCodeSequence].flat()[0].CodingSchemeDesignator).toBe('SCT');
    const refSeries = [ds.ReferencedSeriesSequence].flat()[0];
    expect(refSeries.SeriesInstanceUID).toBe(ref.series);
    const refs = [refSeries.ReferencedInstanceSequence].flat().map((r: any) => r.ReferencedSOPInstanceUID);
    expect(refs.sort()).toEqual(ref.slices.map((s) => s.sop).sort());
    // Per frame: the source image of that slice and its exact position (from the source file).
    const frames = [ds.PerFrameFunctionalGroupsSequence].flat();
    expect(frames).toHaveLength(lesionSlices.length);
    frames.forEach((f: any, fi: number) => {
      const k = lesionSlices[fi];
      const src = [[f.DerivationImageSequence].flat()[0].SourceImageSequence].flat()[0];
      expect(src.ReferencedSOPInstanceUID).toBe(ref.slices[k].sop);
      const ipp = [f.PlanePositionSequence].flat()[0].ImagePositionPatient.map(Number);
      for (let a = 0; a < 3; a++) expect(ipp[a]).toBeCloseTo(ref.slices[k].ipp[a], 3);
      expect([f.SegmentIdentificationSequence].flat()[0].ReferencedSegmentNumber).toBe(1);
    });
    const shared = [ds.SharedFunctionalGroupsSequence].flat()[0];
    const iop = [shared.PlaneOrientationSequence].flat()[0].ImageOrientationPatient.map(Number);
    for (let a = 0; a < 6; a++) expect(iop[a]).toBeCloseTo(ref.vol.direction[a], 6);
  });

  it('stores exactly the mask voxels, one bit each, frames in slice order', () => {
    const ds = dicomParser.parseDicom(seg);
    const el = ds.elements.x7fe00010;
    const bits = seg.subarray(el.dataOffset, el.dataOffset + el.length);
    const [nx, ny] = ref.vol.dims;
    const plane = nx * ny;
    let mismatches = 0;
    lesionSlices.forEach((k, f) => {
      for (let p = 0; p < plane; p++) {
        const b = f * plane + p;
        const v = (bits[b >> 3] >> (b & 7)) & 1;
        if (v !== mask[k * plane + p]) mismatches++;
      }
    });
    expect(mismatches).toBe(0);
  });

  it('refuses a NIfTI-sourced volume with a clear error', () => {
    const v = { ...ref.vol, source: { ...ref.vol.source, format: 'nifti' as const, dicom: undefined } };
    expect(() => buildDicomSeg(v, mask)).toThrow(/DICOM SEG needs the source series UIDs/);
  });
});
