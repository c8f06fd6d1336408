/**
 * Sequences on different grids, the DICOM way (issue 11): pat222's T1c is resampled with Quorum's
 * own geometry code onto a 10°-tilted grid of 5 mm slices and written as a DICOM series, one file
 * per slice, on the headers of a real GE DISCOVERY MR750 series (dcm_qa_nih) as a 2-D post-contrast
 * "Ax T1 SE +C" would come from that scanner. pydicom checks the writer independently (geometry
 * from the headers, voxels); the case is pat222's FLAIR NIfTI + that DICOM folder, which opens with
 * the T1c brought onto the FLAIR grid through world coordinates and proposes the lesion where the
 * single-grid case does (Dice >= 0.9).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sameGrid } from '../../core/src/geometry.ts';
import { dice } from '../../core/src/metrics.ts';
import { openCase } from '../../core/src/node/case.ts';
import { scanDicom } from '../../core/src/node/dicom-fs.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { resampleToGrid } from '../../core/src/resample.ts';
import type { Volume } from '../../core/src/volume.ts';
import { quorumWith } from '../helpers/cli.ts';
import { writeDicomSeries } from '../helpers/dicom-series.ts';
import { agreement, centredGrid } from '../helpers/grids.ts';
import { DATA } from '../helpers/paths.ts';

const PAT222 = join(DATA, 'brats-4seq', 'brats2015-tcia-pat222');
const GE_TEMPLATE = join(
  DATA,
  'dicom',
  'dcm_qa_nih',
  'In',
  '20180918GE',
  'mr_0004',
  'axial_epi_fmri_interleaved_i_to_s-00001.dcm',
);
const PYTHON = '/usr/bin/python3';
const tmp = mkdtempSync(join(tmpdir(), 'quorum-grids-dicom-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const A = (10 * Math.PI) / 180;
let t1c: Volume;
let brain: Volume;
let tilted: Volume;
let dicomDir: string;
/** What the series holds, as written: the resampled T1c rounded to int16. */
let written: Int16Array;

beforeAll(async () => {
  t1c = await loadVolume(join(PAT222, 'T1c.nii.gz'));
  brain = await loadVolume(join(PAT222, 'BrainExtractionMask.nii.gz'));
  const grid = centredGrid(
    t1c,
    [1, 0, 0, 0, Math.cos(A), Math.sin(A), 0, -Math.sin(A), Math.cos(A)],
    [0.9375, 0.9375, 5],
    [256, 256, 30],
  );
  tilted = resampleToGrid(t1c, grid).volume;
  written = Int16Array.from(tilted.data, (x) => Math.round(x));
  dicomDir = join(tmp, 'Ax_T1_SE_+C');
  writeDicomSeries(dicomDir, GE_TEMPLATE, tilted, {
    seriesDescription: 'Ax T1 SE +C',
    seriesNumber: 7,
    acquisition: {
      ScanningSequence: 'SE',
      SequenceVariant: 'SK',
      ScanOptions: ['FAST_GEMS', 'FILTERED_GEMS'],
      MRAcquisitionType: '2D',
      RepetitionTime: 600,
      EchoTime: 10,
      FlipAngle: 90,
      EchoTrainLength: 1,
      ContrastBolusAgent: 'GADAVIST',
      AcquisitionMatrix: [256, 0, 0, 256],
      ReconstructionDiameter: 240,
    },
  });
});

describe('a T1c DICOM series on a tilted, thicker grid than the FLAIR NIfTI', () => {
  it('pydicom reads the written series as the grid it was written on, voxel for voxel', () => {
    const raw = join(tmp, 'pydicom.i16');
    const ref = JSON.parse(
      execFileSync(PYTHON, [join(__dirname, '..', 'helpers', 'pydicom_series.py'), dicomDir, raw], {
        encoding: 'utf8',
      }),
    );
    expect(ref).toMatchObject({
      files: 30,
      dims: [256, 256, 30],
      sliceThickness: 5,
      consistent: true,
      sopUids: 30,
      mediaUidsMatch: true,
      seriesDescription: 'Ax T1 SE +C',
      manufacturer: 'GE MEDICAL SYSTEMS',
      model: 'DISCOVERY MR750',
      modality: 'MR',
      transferSyntax: '1.2.840.10008.1.2.1',
    });
    for (let i = 0; i < 3; i++) {
      expect(ref.spacing[i]).toBeCloseTo(tilted.spacing[i], 4);
      expect(ref.origin[i]).toBeCloseTo(tilted.origin[i], 4);
    }
    for (let i = 0; i < 9; i++) expect(ref.direction[i]).toBeCloseTo(tilted.direction[i], 5);
    expect(ref.gapSpread).toBeLessThan(1e-4);
    const px = new Int16Array(new Uint8Array(readFileSync(raw)).buffer);
    expect(px.length).toBe(written.length);
    expect(Buffer.from(px.buffer).equals(Buffer.from(written.buffer))).toBe(true);
  });

  it("Quorum's DICOM reader sees a T1c on that grid, with the same voxels", async () => {
    const [s] = await scanDicom(dicomDir);
    expect(s).toMatchObject({ sequence: 't1c', role: 'sequence', dims: [256, 256, 30], slices: 30 });
    expect(s.sequenceReason).toMatch(/^SeriesDescription "Ax T1 SE \+C"/);
    expect(s.warnings).toEqual([
      'thick slices: 5 mm apart along k (in-plane 0.94 mm x 0.94 mm); planes between them are interpolated',
      "oblique: its axes are 10.0° from the scanner's (not on the usual axial/sagittal/coronal planes)",
    ]);
    const v = await loadVolume(dicomDir);
    expect(sameGrid(v, tilted)).toBe(true);
    expect(Array.from(v.data).every((x, i) => x === written[i])).toBe(true);
  });

  let mixedWarnings: string[] = [];
  it('a FLAIR NIfTI + that DICOM folder opens on the FLAIR grid, with overlap and angle said', async () => {
    const c = await openCase({ flair: join(PAT222, 'Flair.nii.gz'), t1c: dicomDir });
    mixedWarnings = c.warnings;
    const flair = c.sequences.flair as Volume;
    const back = c.sequences.t1c as Volume;
    expect(sameGrid(back, flair)).toBe(true);
    expect(c.alignment.map((a) => [a.sequence, a.action])).toEqual([
      ['flair', 'reference'],
      ['t1c', 'resampled'],
    ]);
    const a = c.alignment[1];
    expect(a).toMatchObject({ method: 'world coordinates, trilinear', reference: 'flair', angleDeg: 10 });
    expect(a.grid.dims).toEqual([256, 256, 30]);
    expect(a.overlapPct).toBeGreaterThan(85);
    expect(a.overlapPct).toBeLessThan(95);
    expect(c.warnings.some((w) => /thick slices: 5 mm apart/.test(w))).toBe(true);
    expect(c.warnings.some((w) => /oblique: its axes are 10.0°/.test(w))).toBe(true);
    const grid = c.warnings.find((w) => /is not on the flair grid/.test(w));
    expect(grid).toMatch(
      new RegExp(
        `^t1c \\(.*256x256x30 at 0.94x0.94x5 mm\\) is not on the flair grid \\(240x240x155 at 1x1x1 mm\\): ` +
          `resampled onto it through world coordinates \\(trilinear, no registration\\); it covers ${a.overlapPct}% of the flair grid; ` +
          `its axes are 10° from flair's`,
      ),
    );
    const m = agreement(back, t1c, brain);
    expect(m.relMae).toBeLessThan(0.1);
    expect(m.corr).toBeGreaterThan(0.8);
  });

  it('proposes where the single-grid case proposes (Dice >= 0.9)', async () => {
    const single = join(tmp, 'single');
    mkdirSync(single);
    symlinkSync(join(PAT222, 'Flair.nii.gz'), join(single, 'flair.nii.gz'));
    symlinkSync(join(PAT222, 'T1c.nii.gz'), join(single, 't1c.nii.gz'));
    // only the slices with the lesion, few members and steps: the comparison, not the model, is tested
    const fast = ['--slices', '96:103', '--members', '3', '--steps', '5', '--seed', '1'];
    const run = (out: string, ...input: string[]) => {
      const r = quorumWith({}, 'propose', ...input, '--out', out, ...fast);
      expect(r.code, r.stderr).toBe(0);
      return r.stderr;
    };
    run(join(tmp, 'out-single'), single);
    const said = run(join(tmp, 'out-dicom'), '--flair', join(PAT222, 'Flair.nii.gz'), '--t1c', dicomDir);
    for (const w of mixedWarnings) expect(said).toContain(`warning: ${w}`);
    const a = await loadVolume(join(tmp, 'out-single', 'mask.nii.gz'));
    const b = await loadVolume(join(tmp, 'out-dicom', 'mask.nii.gz'));
    expect(sameGrid(a, b)).toBe(true);
    let lesion = 0;
    for (const x of a.data) lesion += x;
    expect(lesion).toBeGreaterThan(1000); // a real lesion on these slices, not two empty masks
    const d = dice(Uint8Array.from(b.data), Uint8Array.from(a.data));
    console.log(`dice(DICOM tilted 5 mm T1c, single grid) = ${d.toFixed(3)}`);
    expect(d).toBeGreaterThanOrEqual(0.9);
    const report = JSON.parse(readFileSync(join(tmp, 'out-dicom', 'report.json'), 'utf8'));
    expect(report.sequences[1]).toMatchObject({ sequence: 't1c', action: 'resampled', angleDeg: 10 });
    expect(report.warnings).toEqual(mixedWarnings);
  });
});
