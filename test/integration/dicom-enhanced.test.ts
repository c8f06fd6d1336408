/**
 * Enhanced (multi-frame) MR: scanners of the last decade (Philips, Siemens XA) store a series as one
 * file of frames placed by functional groups. Written here by pydicom (test/helpers/pydicom_enhanced.py),
 * independently of Quorum: a real GE EPI series (15 slices x 10 volumes, one file per slice) as one
 * object with its frames shuffled, and a held-out TCGA patient's FLAIR and T1c as two objects of a study.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCase } from '../../core/src/node/case.ts';
import { readLabelsFile } from '../../core/src/node/labels-file.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import type { Volume } from '../../core/src/volume.ts';
import { proposeBoth } from '../helpers/cli.ts';
import { DATA, PYTHON, REPO } from '../helpers/paths.ts';

const WRITER = join(REPO, 'test', 'helpers', 'pydicom_enhanced.py');
const GE = join(DATA, 'dicom', 'dcm_qa_nih', 'In', '20180918GE', 'mr_0004');
const FG = join(DATA, 'tcga-lgg', 'TCGA_FG_6689_20020326');
const dir = mkdtempSync(join(tmpdir(), 'quorum-enhanced-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sameVoxels(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let differ = Math.abs(a.length - b.length);
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) differ++;
  return differ;
}

let expected: { frames: number; dims: number[]; spacing: number[]; origin: number[]; direction: number[] };
const study = join(dir, 'study');
const unnamed = join(dir, 'unnamed');
beforeAll(() => {
  mkdirSync(join(dir, 'epi'));
  expected = JSON.parse(
    execFileSync(PYTHON, [WRITER, 'series', GE, join(dir, 'epi', 'epi.dcm'), join(dir, 'epi.raw')], {
      encoding: 'utf8',
    }),
  );
  mkdirSync(study);
  execFileSync(PYTHON, [
    WRITER,
    'nifti',
    join(FG, 'flair.nii.gz'),
    join(study, 'IM1.dcm'),
    'Ax T2 FLAIR',
    '3',
  ]);
  execFileSync(PYTHON, [WRITER, 'nifti', join(FG, 't1c.nii.gz'), join(study, 'IM2.dcm'), 'Ax T1 SE +C', '5']);
  // names that say nothing: what the scanner puts in the functional groups must
  mkdirSync(unnamed);
  const extras = (o: object) => JSON.stringify(o);
  execFileSync(PYTHON, [
    WRITER,
    'nifti',
    join(FG, 'flair.nii.gz'),
    join(unnamed, 'IM1.dcm'),
    'ax 3mm',
    '3',
    extras({ tr: 9000, ti: 2500 }),
  ]);
  execFileSync(PYTHON, [
    WRITER,
    'nifti',
    join(FG, 't1c.nii.gz'),
    join(unnamed, 'IM2.dcm'),
    'ax 3mm',
    '5',
    extras({ contrast: 'T1', agent: true }),
  ]);
}, 120_000);

describe('enhanced (multi-frame) MR', () => {
  it('a real series as one shuffled multi-frame file: the first volume, sorted along the normal, as pydicom places it', async () => {
    const v = await loadVolume(join(dir, 'epi'));
    expect(expected.frames).toBe(150);
    expect(v.dims).toEqual(expected.dims);
    for (const k of ['spacing', 'origin', 'direction'] as const)
      for (const [i, x] of v[k].entries()) expect(x, `${k}[${i}]`).toBeCloseTo(expected[k][i], 3);
    const raw = new Int16Array(new Uint8Array(readFileSync(join(dir, 'epi.raw'))).buffer);
    expect(sameVoxels(v.data, raw)).toBe(0);
    expect(v.source.warnings).toContain(
      '10 volumes (echoes or time points) in this series: the first loaded',
    );
    expect(v.source.dicom?.frameNumbers).toHaveLength(15);
    // the same volume as the scanner's one-file-per-slice series
    const classic = await loadVolume(GE);
    expect(sameVoxels(v.data, classic.data)).toBe(0);
  });

  it('a study of two enhanced objects opens as FLAIR + T1c equal to the NIfTI they were written from', async () => {
    const c = await openCase(study);
    expect(Object.keys(c.sequences).sort()).toEqual(['flair', 't1c']);
    const flair = await loadVolume(join(FG, 'flair.nii.gz'));
    expect(c.sequences.flair?.dims).toEqual(flair.dims);
    expect(sameVoxels(c.sequences.flair!.data, flair.data)).toBe(0);
    for (const k of ['spacing', 'origin', 'direction'] as const)
      for (const [i, x] of c.sequences.flair![k].entries())
        expect(x, `${k}[${i}]`).toBeCloseTo(flair[k][i], 3);
  });

  it('names that say nothing: recognised by AcquisitionContrast, contrast usage, TR and TI in the functional groups', async () => {
    const c = await openCase(unnamed);
    expect(Object.keys(c.sequences).sort()).toEqual(['flair', 't1c']);
    const why = (seq: string) => c.inventory.find((i) => i.taken && i.sequence === seq)?.reason ?? '';
    expect(why('flair')).toMatch(/inversion recovery with TI 2500 ms, TR 9000 ms/);
    expect(why('t1c')).toMatch(
      /AcquisitionContrast T1 .*contrast-enhanced \(ContrastBolusAgent "administered/,
    );
    const flair = await loadVolume(join(FG, 'flair.nii.gz'));
    expect(sameVoxels(c.sequences.flair!.data, flair.data)).toBe(0);
  });

  it('proposes as on the NIfTI, and its DICOM SEG references each frame and reads back onto the same voxels', async () => {
    const { masks, lesion, dice } = await proposeBoth(
      dir,
      { dicom: study, nifti: FG },
      ['--slices', '28:29', '--members', '2', '--steps', '2', '--seed', '6'],
      { dicom: ['--export', 'dicom-seg'] },
    );
    expect(lesion).toBeGreaterThan(1000);
    expect(dice).toBe(1);
    const ma = masks[0];
    const ref: Volume = (await openCase(study)).sequences.flair!;
    const back = await readLabelsFile(join(dir, 'out-dicom', 'seg.dcm'), ref);
    expect(back.grid).toMatch(/placed by the source images they reference/);
    expect(
      sameVoxels(
        back.labels,
        Uint8Array.from(ma.data, (x) => (x ? 1 : 0)),
      ),
    ).toBe(0);
  }, 240_000);
});
