/**
 * DICOM reading against dcm2niix's reference NIfTIs (dcm_qa_ts: one Siemens mosaic in 9
 * transfer syntaxes; dcm_qa_nih: a GE EPI series and 4 Siemens mosaic series), and bad input
 * (pydicom's truncated file, an unsupported syntax, a mixed folder, multi-frame).
 *
 * dcm2niix stores rows bottom-up, so arrays are not compared directly: each of our voxels is
 * mapped to world space (LPS) and back into the reference grid through the reference affine,
 * where it must land on a voxel centre (index integral within 1e-3, world position within 1e-3 mm)
 * holding exactly the same value (all syntaxes here are lossless).
 */
import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseDicom } from '../../core/src/dicom/parse.ts';
import { QuorumError } from '../../core/src/errors.ts';
import { affineFromVolume, voxelToWorld, worldToVoxel } from '../../core/src/geometry.ts';
import { loadDicomSeries, scanDicom } from '../../core/src/node/dicom-fs.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import type { Vec3, Volume } from '../../core/src/volume.ts';
import { insertElementLE, transferSyntaxOf, withTransferSyntax } from '../helpers/dicom-bytes.ts';
import { DATA, PYTHON } from '../helpers/paths.ts';

const TS = join(DATA, 'dicom', 'dcm_qa_ts');
const NIH = join(DATA, 'dicom', 'dcm_qa_nih');
const PYD = join(DATA, 'dicom', 'pydicom-testfiles');

const TS_FILES = readdirSync(join(TS, 'In'))
  .filter((f) => f.endsWith('.dcm'))
  .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
const NIH_REFS = readdirSync(join(NIH, 'Ref'))
  .filter((f) => f.endsWith('.nii'))
  .sort();
const REF_FILES = [
  ...TS_FILES.map((f) => join(TS, 'Ref', f.replace(/\.dcm$/, '.nii'))),
  ...NIH_REFS.map((f) => join(NIH, 'Ref', f)),
];

// nibabel's reading of every reference: shape, affine and sum of volume 0. Our NIfTI reader
// reads the references below, so it is first checked against nibabel on exactly these files.
const nib: Record<string, { shape: number[]; affine: number[]; sum: number }> = JSON.parse(
  execFileSync(PYTHON, [join(__dirname, '..', 'helpers', 'nibabel_ref.py'), ...REF_FILES], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  }),
);

const refCache = new Map<string, Volume>();
async function reference(path: string): Promise<Volume> {
  const cached = refCache.get(path);
  if (cached) return cached;
  const ref = await loadVolume(path);
  const n = nib[path];
  expect(ref.dims, `${path}: our NIfTI reader vs nibabel (shape)`).toEqual(n.shape);
  const aff = affineFromVolume(ref);
  for (const [i, v] of n.affine.entries()) expect(Math.abs(aff[i] - v)).toBeLessThan(1e-5);
  let sum = 0;
  for (const x of ref.data) sum += x;
  expect(sum).toBe(n.sum);
  refCache.set(path, ref);
  return ref;
}

/** dim[4] of a NIfTI-1 header (number of volumes), read from the bytes. */
function niftiVolumes(path: string): number {
  const b = readFileSync(path);
  const ndim = b.readInt16LE(40);
  return ndim >= 4 ? b.readInt16LE(48) : 1;
}

/** Compares a loaded series to a reference voxel by voxel through world space; returns stats. */
function compareInWorld(ours: Volume, ref: Volume) {
  const [nx, ny, nz] = ours.dims;
  const [rx, ry] = ref.dims;
  const seen = new Uint8Array(ref.data.length);
  let worstIndex = 0;
  let worstMm = 0;
  let outside = 0;
  let valueMismatches = 0;
  let firstMismatch = '';
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const world = voxelToWorld(ours, [i, j, k]);
        const f = worldToVoxel(ref, world);
        const r = f.map(Math.round) as Vec3;
        worstIndex = Math.max(worstIndex, ...f.map((v, a) => Math.abs(v - r[a])));
        const back = voxelToWorld(ref, r);
        worstMm = Math.max(worstMm, Math.hypot(back[0] - world[0], back[1] - world[1], back[2] - world[2]));
        if (r.some((v, a) => v < 0 || v >= ref.dims[a])) {
          outside++;
          continue;
        }
        const ri = r[0] + rx * (r[1] + ry * r[2]);
        seen[ri]++;
        const a = ours.data[i + nx * (j + ny * k)];
        const b = ref.data[ri];
        if (a !== b) {
          if (!valueMismatches) firstMismatch = `(${i},${j},${k}) = ${a}, reference (${r.join(',')}) = ${b}`;
          valueMismatches++;
        }
      }
  let coveredOnce = 0;
  for (const s of seen) if (s === 1) coveredOnce++;
  return { worstIndex, worstMm, outside, valueMismatches, firstMismatch, coveredOnce };
}

function expectSameImage(ours: Volume, ref: Volume) {
  expect(ours.dims).toEqual(ref.dims);
  const c = compareInWorld(ours, ref);
  expect(c.worstIndex, 'voxel centres land on reference voxel centres').toBeLessThan(1e-3);
  expect(c.worstMm, 'world positions agree (mm)').toBeLessThan(1e-3);
  expect(c.outside).toBe(0);
  expect(c.coveredOnce, 'every reference voxel hit exactly once').toBe(ref.data.length);
  expect(c.valueMismatches, c.firstMismatch).toBe(0);
  // not a trivially equal pair of empty images
  let nonzero = 0;
  for (const x of ours.data) if (x !== 0) nonzero++;
  expect(nonzero).toBeGreaterThan(ours.data.length / 10);
}

describe('dcm_qa_ts: one series in every transfer syntax matches dcm2niix', () => {
  it('has the 9 variants, in at least 6 distinct transfer syntaxes', () => {
    expect(TS_FILES).toHaveLength(9);
    const syntaxes = new Set(TS_FILES.map((f) => transferSyntaxOf(readFileSync(join(TS, 'In', f)))));
    expect(syntaxes.size).toBeGreaterThanOrEqual(6);
  });

  for (const f of TS_FILES) {
    const file = join(TS, 'In', f);
    const syntax = transferSyntaxOf(readFileSync(file));
    it(`${f} (${syntax})`, async () => {
      const ours = await loadDicomSeries([file]);
      expect(ours.source.dicom?.transferSyntaxUID).toBe(syntax);
      expectSameImage(ours, await reference(join(TS, 'Ref', f.replace(/\.dcm$/, '.nii'))));
    });
  }
});

describe('dcm_qa_nih: every series matches its dcm2niix reference (volume 0 of 4-D)', async () => {
  const series = await scanDicom(join(NIH, 'In'));
  const sidecars = NIH_REFS.map((f) => ({
    nii: join(NIH, 'Ref', f),
    json: JSON.parse(readFileSync(join(NIH, 'Ref', f.replace(/\.nii$/, '.json')), 'utf8')) as {
      SeriesDescription: string;
      SeriesNumber: number;
      Manufacturer: string;
    },
  }));

  it('finds the GE series and the 4 Siemens mosaics, each with one reference', () => {
    expect(series.map((s) => s.seriesDescription).sort()).toEqual([
      'Axial EPI-FMRI (Interleaved I to S)',
      'EPI PE=AP',
      'EPI PE=LR',
      'EPI PE=PA',
      'EPI PE=RL',
    ]);
    for (const s of series)
      expect(sidecars.filter((r) => r.json.SeriesDescription === s.seriesDescription)).toHaveLength(1);
  });

  for (const s of series) {
    it(`${s.seriesDescription} (${s.files.length} files)`, async () => {
      const ref = sidecars.find((r) => r.json.SeriesDescription === s.seriesDescription)!;
      expect(s.problem).toBeUndefined();
      // the time points we group are the volumes dcm2niix wrote
      expect(s.volumes).toBe(niftiVolumes(ref.nii));
      const ours = await loadDicomSeries(s.files, s.seriesInstanceUID);
      expect(ours.source.dicom?.seriesNumber).toBe(ref.json.SeriesNumber);
      expectSameImage(ours, await reference(ref.nii));
    });
  }
});

describe('bad and unusual DICOM input gives typed errors that name the file', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'quorum-dicom-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("pydicom's MR_truncated.dcm: 'truncated', naming the file", async () => {
    const f = join(PYD, 'MR_truncated.dcm');
    for (const load of [() => loadVolume(f), () => loadDicomSeries([f])]) {
      const err = await load().catch((e) => e);
      expect(err).toBeInstanceOf(QuorumError);
      expect(err.code).toBe('truncated');
      expect(err.message).toContain(f);
    }
  });

  it('a real file cut inside its pixel data: truncated, naming the file', async () => {
    const bytes = readFileSync(join(TS, 'In', '1.dcm'));
    for (const frac of [0.5, 0.9, 0.999]) {
      const f = join(tmp, `cut-${frac}.dcm`);
      writeFileSync(f, bytes.subarray(0, Math.floor(bytes.length * frac)));
      const err = await loadDicomSeries([f]).catch((e) => e);
      expect(err, `cut at ${frac}`).toBeInstanceOf(QuorumError);
      expect(err.code).toBe('truncated');
      expect(err.message).toContain(f);
    }
  });

  it('an unsupported transfer syntax is refused by UID and file', async () => {
    // the JPEG 2000 file relabelled as HTJ2K: well-formed, encapsulated, no codec for it
    const uid = '1.2.840.10008.1.2.4.201';
    const f = join(tmp, 'htj2k.dcm');
    writeFileSync(f, withTransferSyntax(readFileSync(join(TS, 'In', '9.dcm')), uid));
    const err = await loadDicomSeries([f]).catch((e) => e);
    expect(err).toBeInstanceOf(QuorumError);
    expect(err.code).toBe('unsupported');
    expect(err.message).toContain(`unsupported transfer syntax ${uid}`);
    expect(err.message).toContain(f);
  });

  it('a mixed folder is grouped into its series by SeriesInstanceUID, other files skipped', async () => {
    const dir = join(tmp, 'mixed');
    mkdirSync(dir);
    const expected = new Map<string, number>();
    const add = (src: string, name: string) => symlinkSync(src, join(dir, name));
    // GE series (150 images) and two Siemens mosaic series flattened into one folder,
    // plus a non-DICOM file and a single CT image
    const ge = join(NIH, 'In', '20180918GE', 'mr_0004');
    for (const f of readdirSync(ge)) add(join(ge, f), `ge-${f}`);
    for (const s of ['mr_0003', 'mr_0005']) {
      const d = join(NIH, 'In', '20180918Si', s);
      for (const f of readdirSync(d).filter((x) => x.endsWith('.dcm'))) add(join(d, f), `si-${s}-${f}`);
    }
    add(join(PYD, 'CT_small.dcm'), 'ct.dcm');
    const series = await scanDicom(dir);
    for (const s of series) expected.set(s.seriesDescription, s.files.length);
    expect(Object.fromEntries(expected)).toEqual({
      'Axial EPI-FMRI (Interleaved I to S)': 150,
      'EPI PE=AP': 2,
      'EPI PE=RL': 2,
      '': 1, // CT_small has no SeriesDescription
    });
    // the groups partition the 155 images (README-Series.txt skipped), each by its own UID
    const all = series.flatMap((s) => s.files);
    expect(all).toHaveLength(155);
    expect(new Set(all).size).toBe(155);
    expect(all.some((f) => f.endsWith('.txt'))).toBe(false);
    for (const s of series)
      for (const f of s.files)
        expect(parseDicom(readFileSync(f), f).seriesInstanceUID).toBe(s.seriesInstanceUID);
    expect(new Set(series.map((s) => s.seriesInstanceUID)).size).toBe(series.length);
    // the folder loads its largest series and says there were others
    const vol = await loadDicomSeries(dir);
    expect(vol.source.dicom?.seriesDescription).toBe('Axial EPI-FMRI (Interleaved I to S)');
    expect(vol.source.warnings?.join('\n')).toMatch(/4 series here/);
    // and a named series loads that one
    const pa = series.find((s) => s.seriesDescription === 'EPI PE=RL')!;
    const v2 = await loadDicomSeries(dir, pa.seriesInstanceUID);
    expect(v2.source.dicom?.seriesInstanceUID).toBe(pa.seriesInstanceUID);
    expect(v2.dims).toEqual([72, 72, 5]);
  });

  it('multi-frame images without per-frame positions are refused with a clear message', async () => {
    // MR_small with NumberOfFrames (0028,0008) = 2 inserted: the only change to a valid file
    const f = join(tmp, 'multiframe.dcm');
    writeFileSync(f, insertElementLE(readFileSync(join(PYD, 'MR_small.dcm')), 0x0028, 0x0008, 'IS', '2'));
    const err = await loadDicomSeries([f]).catch((e) => e);
    expect(err).toBeInstanceOf(QuorumError);
    expect(err.code).toBe('unsupported');
    expect(err.message).toMatch(/multi-frame image without per-frame positions.*dcm2niix/);
    expect(err.message).toContain(f);
    // the unmodified file loads
    await expect(loadDicomSeries([join(PYD, 'MR_small.dcm')])).resolves.toBeDefined();
  });

  it('a non-DICOM file in a DICOM-looking call is not-dicom, naming it', async () => {
    const f = join(DATA, 'nifti', 'nifti-reader-js', 'not-nifti.nii');
    const err = await loadDicomSeries([f]).catch((e) => e);
    expect(err).toBeInstanceOf(QuorumError);
    expect(err.code).toBe('not-dicom');
  });
});
