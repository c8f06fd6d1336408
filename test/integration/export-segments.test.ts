import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import dcmjs from 'dcmjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaseInfo, ExportResult } from '../../core/src/api.ts';
import { bidimensional } from '../../core/src/diameters.ts';
import { rgbToDicomLab } from '../../core/src/export/dicom-seg.ts';
import { readLabelsFile } from '../../core/src/node/labels-file.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import type { SegmentInfo } from '../../core/src/segments.ts';
import { QuorumService, scratchDir } from '../../workers/src/host/service.ts';

/**
 * A labelmap of two segments exported from the app's host (QuorumService.export) over a real
 * DICOM MR series (dcm_qa_nih GE, 15 slices), as NIfTI + segment table sidecar and as DICOM SEG,
 * and read back with readers that are not Quorum's: nibabel (python) for the NIfTI, dcmjs for the
 * SEG. Both segments' voxels must come back exactly, with their names and colours.
 */
const GE_SERIES = resolve(__dirname, '../../../shared/data/dicom/dcm_qa_nih/In/20180918GE/mr_0004');

const SEGMENTS: SegmentInfo[] = [
  { value: 1, name: 'Whole tumour', colour: [255, 40, 40], visible: true, locked: false },
  // value 3, not 2: a table with a gap (segment 2 deleted), hidden and locked, is exported all the same
  { value: 3, name: 'Edema (peritumoral)', colour: [40, 170, 255], visible: false, locked: true },
];

describe('two-segment export over a real DICOM series', () => {
  const state = scratchDir('quorum-export-segments');
  let svc: QuorumService;
  let info: CaseInfo;
  let mask: Uint8Array;
  let res: ExportResult;
  let dims: [number, number, number];

  beforeAll(async () => {
    svc = new QuorumService({ mode: 'browser', stateDir: state, outDir: join(state, 'out') });
    // An EPI series is no sequence the model uses: named as the FLAIR, it opens as one.
    info = await svc.openCase({ flair: GE_SERIES });
    expect(info.canExportDicomSeg).toBe(true);
    dims = [...info.geometry.dims] as [number, number, number];
    const [nx, ny] = dims;
    mask = new Uint8Array(nx * ny * dims[2]);
    // Asymmetric blobs; slice 4 holds both segments side by side.
    for (const k of [3, 4])
      for (let j = 10 + k; j < 30 + k; j++)
        for (let i = 5; i < 5 + j - k; i++) mask[i + nx * (j + ny * k)] = 1;
    for (const k of [4, 9])
      for (let j = 35; j < 50; j++) for (let i = 30; i < 40 + (j % 7); i++) mask[i + nx * (j + ny * k)] = 3;
    res = await svc.export({
      caseId: info.id,
      formats: ['nifti-mask', 'dicom-seg', 'slicer-seg', 'report-json', 'report-csv'],
      mask,
      segments: SEGMENTS,
      targetDir: join(state, 'two'),
    });
  });
  afterAll(async () => {
    await svc?.close();
    rmSync(state, { recursive: true, force: true });
  });

  it('NIfTI: nibabel reads both segments back voxel for voxel, and the sidecar names them', () => {
    const path = res.files['nifti-mask']!;
    expect(path.endsWith('_quorum_mask.nii.gz')).toBe(true);
    const raw = execFileSync(
      '/usr/bin/python3',
      [
        '-c',
        'import sys, nibabel as nib, numpy as np\n' +
          'img = nib.load(sys.argv[1])\n' +
          'a = np.asarray(img.dataobj)\n' +
          'sys.stdout.write(str(a.dtype) + " " + ",".join(map(str, a.shape)) + "\\n")\n' +
          'sys.stdout.flush()\n' +
          'sys.stdout.buffer.write(a.ravel(order="F").astype(np.uint8).tobytes())\n',
        path,
      ],
      { maxBuffer: 64 << 20 },
    );
    const nl = raw.indexOf(10);
    expect(raw.subarray(0, nl).toString()).toBe(`uint8 ${dims.join(',')}`);
    const back = raw.subarray(nl + 1);
    expect(back.length).toBe(mask.length);
    expect(Buffer.from(mask).equals(back)).toBe(true);
    const count = (v: number) => mask.reduce((n, x) => n + (x === v ? 1 : 0), 0);
    expect(count(1)).toBeGreaterThan(300);
    expect(count(3)).toBeGreaterThan(300);

    const sidecar = path.replace(/\.nii\.gz$/, '.segments.json');
    expect(JSON.parse(readFileSync(sidecar, 'utf8'))).toEqual({
      segments: SEGMENTS.map(({ value, name, colour }) => ({ value, name, colour })),
    });
  });

  it('DICOM SEG: dcmjs reads two segments (labels, CIELab colours) whose frames rebuild the labelmap', () => {
    const bytes = readFileSync(res.files['dicom-seg']!);
    const { dict } = dcmjs.data.DicomMessage.readFile(new Uint8Array(bytes).buffer);
    // biome-ignore lint/suspicious/noExplicitAny: a naturalized DICOM dataset
    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict) as Record<string, any>;
    const segs = [ds.SegmentSequence].flat();
    expect(segs.map((s) => [s.SegmentNumber, s.SegmentLabel])).toEqual([
      [1, 'Whole tumour'],
      [2, 'Edema (peritumoral)'],
    ]);
    expect(segs[1].SegmentDescription).toMatch(/label value 3/);
    segs.forEach((s, n) => {
      expect(s.RecommendedDisplayCIELabValue.map(Number)).toEqual(rgbToDicomLab(SEGMENTS[n].colour));
    });

    // Rebuild the labelmap from the frames: segment number -> its value, plane position -> slice.
    const [nx, ny, nz] = dims;
    const plane = nx * ny;
    const g = info.geometry;
    const normal = g.direction.slice(6, 9);
    const rebuilt = new Uint8Array(mask.length);
    const pixels = new Uint8Array([ds.PixelData].flat()[0] as ArrayBuffer);
    const frames = [ds.PerFrameFunctionalGroupsSequence].flat();
    expect(frames).toHaveLength(4); // segment 1 on slices 3, 4; segment 2 on 4, 9
    frames.forEach((f, fi) => {
      const segNo = [f.SegmentIdentificationSequence].flat()[0].ReferencedSegmentNumber;
      const ipp = [f.PlanePositionSequence].flat()[0].ImagePositionPatient.map(Number);
      const along = [0, 1, 2].reduce((s, a) => s + (ipp[a] - g.origin[a]) * normal[a], 0);
      const k = Math.round(along / g.spacing[2]);
      expect(k).toBeGreaterThanOrEqual(0);
      expect(k).toBeLessThan(nz);
      for (let p = 0; p < plane; p++) {
        const b = fi * plane + p;
        if ((pixels[b >> 3] >> (b & 7)) & 1) rebuilt[k * plane + p] = SEGMENTS[segNo - 1].value;
      }
    });
    expect(Buffer.from(rebuilt).equals(Buffer.from(mask))).toBe(true);
  });

  it('3D Slicer .seg.nrrd: a plain NRRD parse gives the NIfTI export voxels and affine, and the header names both segments', async () => {
    const path = res.files['slicer-seg']!;
    expect(path.endsWith('_quorum_mask.seg.nrrd')).toBe(true);
    // NRRD as its specification reads (not Quorum's reader): header lines, gzip, Fortran order, LPS
    const out = execFileSync('/usr/bin/python3', [
      '-c',
      `import sys, gzip, json, numpy as np, nibabel as nib
b = open(sys.argv[1], 'rb').read()
end = b.index(b'\\n\\n')
f, kv = {}, {}
for line in b[:end].decode('utf8').split('\\n')[1:]:
    if line.startswith('#'): continue
    if ':=' in line: k, v = line.split(':=', 1); kv[k] = v
    elif ': ' in line: k, v = line.split(': ', 1); f[k] = v
sizes = [int(x) for x in f['sizes'].split()]
a = np.frombuffer(gzip.decompress(b[end + 2:]), np.uint8).reshape(sizes, order='F')
A = np.eye(4)
A[:3, :3] = np.array([[float(x) for x in d.strip('()').split(',')] for d in f['space directions'].split()]).T
A[:3, 3] = [float(x) for x in f['space origin'].strip('()').split(',')]
assert f['space'] == 'left-posterior-superior' and f['type'] == 'unsigned char', f
A = np.diag([-1.0, -1, 1, 1]) @ A
n = nib.load(sys.argv[2])
print(json.dumps({'same': bool(np.array_equal(a, np.asarray(n.dataobj))), 'affine': float(np.abs(A - n.affine).max()), 'kv': kv}))`,
      path,
      res.files['nifti-mask']!,
    ]).toString();
    const r = JSON.parse(out);
    expect(r.same).toBe(true);
    expect(r.affine).toBeLessThan(1e-3);
    for (const [n, s] of SEGMENTS.entries()) {
      expect(r.kv[`Segment${n}_Name`]).toBe(s.name);
      expect(Number(r.kv[`Segment${n}_LabelValue`])).toBe(s.value);
      expect(r.kv[`Segment${n}_Layer`]).toBe('0');
      const rgb = r.kv[`Segment${n}_Color`].split(' ').map((c: string) => Math.round(Number(c) * 255));
      expect(rgb).toEqual(s.colour);
    }
    // and Quorum opens it back as the same labelmap with the same segments
    const ref = await loadVolume(res.files['nifti-mask']!);
    const back = await readLabelsFile(path, ref);
    expect(Buffer.from(back.labels).equals(Buffer.from(mask))).toBe(true);
    expect(back.segments.map(({ value, name, colour }) => ({ value, name, colour }))).toEqual(
      SEGMENTS.map(({ value, name, colour }) => ({ value, name, colour })),
    );
  });

  it('the report gives each segment its voxels and volume (JSON), and one CSV cell lists them', () => {
    const count = (v: number) => mask.reduce((n, x) => n + (x === v ? 1 : 0), 0);
    const report = JSON.parse(readFileSync(res.files['report-json']!, 'utf8'));
    const ml = report.voxelVolumeMl;
    expect(ml).toBeGreaterThan(0);
    expect(report.lesionVoxels).toBe(count(1) + count(3));
    // each with its own RANO measurement, and the lesion (both together) its own
    const rano = (v?: number) => JSON.parse(JSON.stringify(bidimensional(mask, info.geometry, v)));
    expect(report.segments).toEqual([
      { value: 1, name: 'Whole tumour', voxels: count(1), volumeMl: count(1) * ml, bidimensional: rano(1) },
      {
        value: 3,
        name: 'Edema (peritumoral)',
        voxels: count(3),
        volumeMl: count(3) * ml,
        bidimensional: rano(3),
      },
    ]);
    expect(report.bidimensional).toEqual(rano());
    const [head, row] = readFileSync(res.files['report-csv']!, 'utf8').trim().split('\n');
    const cell = row.split(',')[head.split(',').indexOf('segment_volumes_ml')];
    expect(cell).toBe(
      `Whole tumour=${(count(1) * ml).toFixed(3)}; Edema (peritumoral)=${(count(3) * ml).toFixed(3)}`,
    );
  });

  it('refuses a labelmap holding a value no segment names, saying which', async () => {
    const bad = mask.slice();
    bad[0] = 7;
    await expect(
      svc.export({ caseId: info.id, formats: ['nifti-mask'], mask: bad, segments: SEGMENTS }),
    ).rejects.toThrow(/label value 7, which no segment names/);
  });

  it('without a segment table (a single proposal) it writes one "Lesion" segment and no sidecar', async () => {
    const one = await svc.export({
      caseId: info.id,
      formats: ['nifti-mask', 'dicom-seg'],
      mask,
      targetDir: join(state, 'one'),
    });
    const { dict } = dcmjs.data.DicomMessage.readFile(
      new Uint8Array(readFileSync(one.files['dicom-seg']!)).buffer,
    );
    // biome-ignore lint/suspicious/noExplicitAny: a naturalized DICOM dataset
    const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict) as Record<string, any>;
    expect([ds.SegmentSequence].flat().map((s) => s.SegmentLabel)).toEqual(['Lesion']);
    expect(() => readFileSync(one.files['nifti-mask']!.replace(/\.nii\.gz$/, '.segments.json'))).toThrow(
      /ENOENT/,
    );
  });
});
