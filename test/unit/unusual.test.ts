/**
 * What is unusual about a scan (core/src/unusual.ts), on the shared data: BraTS files (1 mm,
 * axial, skull-stripped) get no word; every TCGA-LGG head (skull on, 20-88 slices) is said to be
 * not skull-stripped and too short; niivue's 48 orientations of one image are named sagittal,
 * coronal, flipped or swapped as they are; dcm2niix's EPI series have thick, gapped slices.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openCase } from '../../core/src/node/case.ts';
import { scanDicom } from '../../core/src/node/dicom-fs.ts';
import { loadVolume } from '../../core/src/node/load.ts';
import { geometryWarnings, skullStripWarning, unusualWarnings } from '../../core/src/unusual.ts';
import type { Mat3 } from '../../core/src/volume.ts';
import { BRATS, DATA } from '../helpers/paths.ts';

const TCGA = join(DATA, 'tcga-lgg');
const SPACE = join(DATA, 'nifti', 'niivue', 'nifti_space');

describe('unusual scans are said to be so', () => {
  it('BraTS files (1 mm, axial, skull-stripped, raw or z-scored): nothing to say', async () => {
    const files = [
      ...['train', 'validation'].flatMap((split) =>
        readdirSync(join(BRATS, split)).flatMap((d) =>
          ['Flair_subtrMeanDivStd.nii.gz', 'T1c_subtrMeanDivStd.nii.gz'].map((f) => join(BRATS, split, d, f)),
        ),
      ),
      ...['Flair', 'T1', 'T1c', 'T2'].map((f) =>
        join(DATA, 'brats-4seq', 'brats2015-tcia-pat222', `${f}.nii.gz`),
      ),
      ...['t1n', 't1c', 't2w', 't2f'].map((f) =>
        join(DATA, 'brats-4seq', 'brainlesion-brats-case', 'preprocessed_case', `${f}.nii.gz`),
      ),
    ];
    expect(files.length).toBeGreaterThanOrEqual(16);
    for (const f of files) expect(unusualWarnings(await loadVolume(f)), f).toEqual([]);
  });

  it('every TCGA-LGG FLAIR and T1c (skull on) looks not skull-stripped; their short stacks are a small field of view', async () => {
    let n = 0;
    for (const d of readdirSync(TCGA))
      for (const f of ['flair.nii.gz', 't1c.nii.gz']) {
        const p = join(TCGA, d, f);
        if (!existsSync(p)) continue;
        const v = await loadVolume(p);
        expect(skullStripWarning(v), p).toMatch(
          /^looks not skull-stripped: \d+% of the image is barely above its background/,
        );
        n++;
      }
    expect(n).toBe(88);
    const w = unusualWarnings(await loadVolume(join(TCGA, 'TCGA_CS_4941_19960909', 'flair.nii.gz')));
    expect(w[0]).toBe(
      'small field of view: 256 x 256 x 23 mm (L-R x A-P x S-I), less than a brain along superior-inferior; parts of it may be outside',
    );
  });

  it('a T1c that is a copy of the FLAIR (a missing sequence filled in) is said so, by name, when the case opens', async () => {
    // the data's README: where a patient lacked a sequence, the source put FLAIR in its place
    const copies = [];
    for (const d of readdirSync(TCGA).sort()) {
      const c = await openCase(join(TCGA, d));
      const said = c.warnings.filter((w) => w.includes('is the same image as'));
      if (said.length) copies.push(d);
      for (const w of said)
        expect(w).toBe(
          't1c (t1c.nii.gz) is the same image as flair (flair.nii.gz), voxel for voxel: the t1c looks missing (filled with a copy); the model sees one contrast twice, so expect a weaker proposal and review it first',
        );
    }
    expect(copies).toEqual([
      'TCGA_DU_6407_19860514',
      'TCGA_DU_7301_19911112',
      'TCGA_DU_8165_19970205',
      'TCGA_FG_A60K_20040224',
      'TCGA_HT_A616_19991226',
    ]);
  });

  it("niivue's orientations: sagittal and coronal stacks, flipped and swapped axial axes", async () => {
    const warn = async (name: string) => unusualWarnings(await loadVolume(join(SPACE, `${name}.nii.gz`)));
    expect(await warn('LPS')).toEqual([]); // DICOM's own order: nothing to say
    expect(await warn('LAS')).toEqual(['flipped axes: j runs anterior (usual: posterior)']);
    expect(await warn('RAI')).toEqual([
      'flipped axes: i runs right (usual: left), j runs anterior (usual: posterior), k runs inferior (usual: superior)',
    ]);
    expect(await warn('PLS')).toEqual([
      'flipped axes: i and j swapped (i along anterior-posterior, j along left-right)',
    ]);
    expect(await warn('AIL')).toEqual([
      'sagittal acquisition (slices stacked left-right): the model runs on axial planes, reformatted from it',
    ]);
    expect(await warn('LIP')).toEqual([
      'coronal acquisition (slices stacked anterior-posterior): the model runs on axial planes, reformatted from it',
    ]);
    let said = 0;
    for (const f of readdirSync(SPACE)) if ((await warn(f.replace(/\.nii\.gz$/, ''))).length) said++;
    expect(said).toBe(47); // all but LPS
  });

  it('thick, gapped slices from DICOM (dcm2niix EPI series) and an oblique grid', async () => {
    const series = await scanDicom(join(DATA, 'dicom', 'dcm_qa_nih', 'In'));
    const ge = series.find((s) => s.manufacturer.startsWith('GE'));
    expect(ge?.warnings).toContain(
      'thick slices: 5 mm apart along k (in-plane 3.75 mm x 3.75 mm); planes between them are interpolated',
    );
    expect(ge?.warnings).toContain('gaps between slices: 3 mm thick every 5 mm (2 mm not imaged)');
    const flair = await loadVolume(join(DATA, 'brats-4seq', 'brats2015-tcia-pat222', 'Flair.nii.gz'));
    const a = (12 * Math.PI) / 180;
    const tilted: Mat3 = [1, 0, 0, 0, Math.cos(a), Math.sin(a), 0, -Math.sin(a), Math.cos(a)];
    expect(geometryWarnings({ ...flair, direction: tilted })).toEqual([
      "oblique: its axes are 12.0° from the scanner's (not on the usual axial/sagittal/coronal planes)",
    ]);
  });
});
